"""What the adapter tests share: a summary of a PBX's day, checked field by field."""

from __future__ import annotations

from workanalytics.legs import COLUMN_NAMES
from workanalytics.metrics import fields_for
from workanalytics.store.duckdb_store import DuckDBStore
from workanalytics.timewindow import resolve_window

NY = "America/New_York"
#: Every number of the answer: what a hand-written expectation speaks about.
NUMERIC = [f.name for f in fields_for(2) if f.kind != "directory"]


def summary(store: DuckDBStore, start: str, end: str, pbx: str, tz: str = NY) -> list[dict]:
    window = resolve_window(start, end, tz, retention_years=0)
    return store.extension_summary([pbx], window).as_dicts()


def assert_summary(rows: list[dict], expected: dict[str, dict[str, int]]) -> None:
    """Exactly these extensions, in this order, each with exactly these non-zero numbers."""
    assert [r["Extension"] for r in rows] == list(expected)
    for row in rows:
        got = {k: row[k] for k in NUMERIC if row[k] != 0}
        assert got == expected[row["Extension"]], row["Extension"]


def stored_legs(store: DuckDBStore) -> list[dict[str, object]]:
    cols = ", ".join(COLUMN_NAMES)
    cur = store.con.execute(f"SELECT {cols} FROM legs ORDER BY call_id, leg_id")
    return [dict(zip(COLUMN_NAMES, row, strict=True)) for row in cur.fetchall()]
