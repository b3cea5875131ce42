"""Ingest many files into a store, each one atomically, continuing past a bad one."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from workanalytics.ingest.sources import SourceError, open_source
from workanalytics.store.base import IngestRejected, IngestReport, LegStore

#: Called as a file advances: (path, done, total) in the reader's units.
FileProgress = Callable[[Path, int, int], None]


@dataclass
class IngestOutcome:
    reports: list[IngestReport] = field(default_factory=list)
    failures: list[tuple[Path, Exception]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def ingest_paths(
    store: LegStore,
    paths: Sequence[Path],
    *,
    fmt: str | None = None,
    skip_invalid: bool = False,
    ignore_unknown: bool = False,
    reject_path: Path | None = None,
    on_progress: FileProgress | None = None,
    source_tz: str | None = None,
    columns: list[str] | None = None,
    pbx_id: str | None = None,
) -> IngestOutcome:
    """Ingest each file in its own transaction; a rejected file leaves the store as it was
    and the next file is still tried, so one bad export does not hold back the rest."""
    outcome = IngestOutcome()
    for path in map(Path, paths):

        def progress(done: int, total: int, path: Path = path) -> None:
            if on_progress is not None:
                on_progress(path, done, total)

        try:
            source = open_source(
                path,
                fmt,
                ignore_unknown=ignore_unknown,
                on_progress=progress,
                known_extensions=store.directory_extensions(),
                source_tz=source_tz,
                columns=columns,
                pbx_id=pbx_id,
            )
            outcome.reports.append(
                store.ingest(source, skip_invalid=skip_invalid, reject_path=reject_path)
            )
        except (SourceError, IngestRejected) as exc:
            outcome.failures.append((path, exc))
    return outcome
