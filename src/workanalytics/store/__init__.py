"""Leg stores: the narrow interface and its engines."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workanalytics.store.base import (
    IngestRejected,
    IngestReport,
    LegStore,
    RowError,
    StoreBusyError,
    StoreError,
)
from workanalytics.store.duckdb_store import DuckDBStore

if TYPE_CHECKING:
    from workanalytics.settings import Settings


def open_store(settings: Settings, *, read_only: bool = False) -> LegStore:
    """The store the settings name: ClickHouse for a ``clickhouse://`` URL, else the
    embedded DuckDB file in the data directory."""
    if settings.store_url:
        from workanalytics.store.clickhouse_store import ClickHouseStore

        return ClickHouseStore(
            settings.store_url,
            cluster=settings.cluster,
            work_dir=settings.data_dir,
            memory_limit=settings.memory_limit,
            ingest_memory_limit=settings.ingest_memory_limit,
            read_only=read_only,
        )
    if settings.cluster:
        raise StoreError("--cluster needs a ClickHouse store (--store clickhouse://...)")
    return DuckDBStore(
        settings.store_path,
        memory_limit=settings.memory_limit,
        ingest_memory_limit=settings.ingest_memory_limit,
        read_only=read_only,
        answer_slots=settings.answer_slots or None,
    )


__all__ = [
    "DuckDBStore",
    "IngestRejected",
    "IngestReport",
    "LegStore",
    "RowError",
    "StoreBusyError",
    "StoreError",
    "open_store",
]
