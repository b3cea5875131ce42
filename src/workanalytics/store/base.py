"""The narrow interface every leg store offers, and the errors and reports it speaks.

The HTTP service, the CLI and the benchmark talk to a store only through :class:`LegStore`,
so another engine (ClickHouse) can stand in for the embedded DuckDB file.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pyarrow as pa

from workanalytics.ingest.sources import LegSource
from workanalytics.metrics import SummaryResult, empty_result, fields_for
from workanalytics.store.answer import Answer
from workanalytics.timewindow import UtcWindow

#: How many bad rows an error lists before it only counts the rest.
MAX_REPORTED_ERRORS = 100


class StoreError(Exception):
    """Base of the store's errors."""


class StoreBusyError(StoreError):
    """Another process holds the store (usually a running server)."""


@dataclass(frozen=True)
class RowError:
    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


class IngestRejected(StoreError):
    """A file with bad rows, rejected whole: nothing of it was stored."""

    def __init__(self, path: Path, errors: list[RowError], total: int):
        self.path = path
        self.errors = errors
        self.total = total
        more = f"\n... and {total - len(errors)} more bad rows" if total > len(errors) else ""
        super().__init__(
            f"{path}: rejected, nothing stored: {total} bad row(s)\n"
            + "\n".join(str(e) for e in errors)
            + more
            + "\n(--skip-invalid stores the good rows and writes the bad ones to a reject file)"
        )


@dataclass
class IngestReport:
    path: Path
    format: str
    rows_read: int = 0
    legs_stored: int = 0
    legs_replaced: int = 0
    rejected: int = 0
    reject_file: Path | None = None
    #: With skip_invalid: the first rejected rows, with their places and reasons.
    errors: list[RowError] = field(default_factory=list)
    new_extensions: int = 0
    pbx_ids: list[str] = field(default_factory=list)


class LegStore(Protocol):
    def ingest(
        self,
        source: LegSource,
        *,
        skip_invalid: bool = False,
        reject_path: Path | None = None,
        check_pbx_ids: Callable[[list[str]], None] | None = None,
    ) -> IngestReport:
        """Store a file's legs atomically; replaces legs whose identity is already stored.

        ``check_pbx_ids`` sees the PBXs the file's legs name before anything is written, and
        may raise to refuse the whole file (a tenant writing into another's PBX).
        """
        ...

    def upsert_directory(self, rows: pa.Table) -> int:
        """Insert or replace directory rows (``directory.COLUMNS``); returns the count."""
        ...

    def extension_summary(
        self, pbx_ids: Sequence[str], window: UtcWindow, *, version: int = 2
    ) -> SummaryResult:
        """The report for these PBXs over a UTC window, rows in spec order."""
        ...

    def extension_summary_json(
        self, pbx_ids: Sequence[str], window: UtcWindow, *, version: int = 2
    ) -> bytes:
        """The same report as the API's body: byte for byte what
        ``extension_summary(...).to_json()`` gives, without making a Python object per value."""
        ...

    def directory_extensions(self) -> pa.Table:
        """(pbx_id, extension) of every directory row."""
        ...

    def pbx_ids(self) -> list[str]:
        """Every PBX the store knows, sorted."""
        ...

    def ping(self) -> None:
        """Raise when the store cannot answer (the health check)."""
        ...

    def leg_count(self) -> int:
        """How many legs are stored (each once, however often replaced)."""
        ...

    def close(self) -> None: ...


class AnswersBySql:
    """The two report calls of :class:`LegStore`, over an engine's ``_answer``: the answer,
    built by :mod:`workanalytics.store.answer`. Empty windows never reach the engine."""

    def _answer(self, pbx_ids: Sequence[str], window: UtcWindow, version: int) -> Answer: ...

    def _answering(self) -> contextlib.AbstractContextManager[object]:
        """Held while an answer is built: an engine that builds it on this machine's cores
        admits only so many at once (see :mod:`workanalytics.store.admission`)."""
        return contextlib.nullcontext()

    def extension_summary(
        self, pbx_ids: Sequence[str], window: UtcWindow, *, version: int = 2
    ) -> SummaryResult:
        if window.is_empty or not pbx_ids:
            return empty_result(version)
        with self._answering():
            return self._answer(pbx_ids, window, version).result()

    def extension_summary_json(
        self, pbx_ids: Sequence[str], window: UtcWindow, *, version: int = 2
    ) -> bytes:
        fields_for(version)  # an unknown version is refused even for an empty window
        if window.is_empty or not pbx_ids:
            return b"[]"
        with self._answering():
            return self._answer(pbx_ids, window, version).json()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
