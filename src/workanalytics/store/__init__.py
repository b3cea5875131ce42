"""Leg stores: the narrow interface and its engines."""

from workanalytics.store.base import (
    IngestRejected,
    IngestReport,
    LegStore,
    RowError,
    StoreBusyError,
    StoreError,
)
from workanalytics.store.duckdb_store import DuckDBStore

__all__ = [
    "DuckDBStore",
    "IngestRejected",
    "IngestReport",
    "LegStore",
    "RowError",
    "StoreBusyError",
    "StoreError",
]
