"""Shared test helpers: build legs by hand, store them, and read reports back."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest

from workanalytics.directory import COLUMNS as DIRECTORY_COLUMNS
from workanalytics.directory import read_directory_csv
from workanalytics.ingest import open_source
from workanalytics.legs import COLUMN_NAMES
from workanalytics.store import DuckDBStore
from workanalytics.timewindow import UtcWindow


@dataclass
class Leg:
    """A canonical leg with instants as epoch ms; None means empty."""

    pbx_id: str = "acme"
    call_id: str = "c1"
    leg_id: int = 1
    start_time: int = 1_772_370_000_000  # 2026-03-01T13:00:00Z
    connect_time: int | None = None
    end_time: int = 1_772_370_010_000
    caller: str = "+15551234567"
    callee: str = "1001"
    caller_ext: str | None = None
    callee_ext: str | None = "1001"
    abandoned: bool = False
    voicemail: bool = False
    status: str = "Completed"
    caller_name: str | None = None
    callee_name: str | None = None
    hold_ms: int = 0
    cause: str | None = None
    parent_call_id: str | None = None
    transfer_to_call_id: str | None = None
    dnis: str | None = None
    sip_call_id: str | None = None
    extra: dict = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        *,
        pbx_id: str,
        call_id: str,
        start: int,
        ring: int,
        talk: int,
        answered: bool,
        outcome: str = "none",
        caller_ext: str | None = None,
        callee_ext: str | None = None,
        status: str = "Completed",
        leg_id: int = 1,
    ) -> Leg:
        """A leg from what a random test draws: ring and talk times, answered or an outcome
        (``none``, ``abandoned``, ``voicemail``), and who the extensions are."""
        return cls(
            pbx_id=pbx_id,
            call_id=call_id,
            leg_id=leg_id,
            start_time=start,
            connect_time=start + ring if answered else None,
            end_time=start + ring + talk,
            caller=caller_ext or "+15550000001",
            callee=callee_ext or "+15550000002",
            caller_ext=caller_ext,
            callee_ext=callee_ext,
            abandoned=outcome == "abandoned",
            voicemail=outcome == "voicemail",
            status=status,
        )

    def row(self) -> dict[str, object]:
        data = asdict(self)
        data.pop("extra")
        return {k: data[k] for k in COLUMN_NAMES}


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write_legs_csv(path: Path, legs: Iterable[Leg]) -> Path:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMN_NAMES)
        for leg in legs:
            row = leg.row()
            writer.writerow([_cell(row[c]) for c in COLUMN_NAMES])
    return path


def write_directory_csv(path: Path, rows: Sequence[dict[str, str]]) -> Path:
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=DIRECTORY_COLUMNS)
        writer.writeheader()
        for r in rows:
            writer.writerow({c: r.get(c, "") for c in DIRECTORY_COLUMNS})
    return path


class StoreHelper:
    """A fresh store in a temp dir, with one-liners to fill it and query it."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.store = DuckDBStore(tmp_path / "data" / "legs.duckdb")
        self._n = 0

    def add(self, legs: Iterable[Leg]):
        self._n += 1
        path = write_legs_csv(self.tmp_path / f"legs{self._n}.csv", legs)
        return self.store.ingest(open_source(path))

    def add_directory(self, rows: Sequence[dict[str, str]]) -> None:
        self._n += 1
        path = write_directory_csv(self.tmp_path / f"dir{self._n}.csv", rows)
        self.store.upsert_directory(read_directory_csv(path))

    def summary(self, pbx_ids=("acme",), window: UtcWindow | None = None, version: int = 2):
        window = window or UtcWindow(0, 2**62)
        return self.store.extension_summary(list(pbx_ids), window, version=version).as_dicts()

    def row(self, extension: str, **kw) -> dict[str, object]:
        rows = [r for r in self.summary(**kw) if r["Extension"] == extension]
        assert len(rows) == 1, f"expected one row for {extension}, got {rows}"
        return rows[0]


@pytest.fixture
def store_helper(tmp_path: Path):
    helper = StoreHelper(tmp_path)
    yield helper
    helper.store.close()
