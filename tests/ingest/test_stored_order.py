"""Legs are stored clustered by start time: a file already in time order is stored as it
comes, any other is sorted, so a window's raw edges read few row groups either way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from workanalytics.ingest import open_source
from workanalytics.ingest.sources import ROW_GROUP_ROWS
from workanalytics.store import DuckDBStore

T = 1_772_370_000_000  # 2026-03-01T13:00:00Z
N = 3 * ROW_GROUP_ROWS + 1_000  # several row groups: ordering shows only across them


def _legs(start_times: np.ndarray, call_ids: np.ndarray) -> pa.Table:
    n = len(start_times)
    return pa.table(
        {
            "pbx_id": pa.array(["acme"] * n),
            "call_id": pa.array(call_ids.astype(str)),
            "leg_id": pa.array(np.ones(n, dtype=np.int64)),
            "start_time": pa.array(start_times, pa.int64()),
            "end_time": pa.array(start_times + 60_000, pa.int64()),
            "caller": pa.array(["+15551234567"] * n),
            "callee": pa.array(["1001"] * n),
            "callee_ext": pa.array(["1001"] * n),
            "status": pa.array(["Completed"] * n),
        }
    )


def _stored(
    tmp_path: Path, table: pa.Table, suffix: str = ".parquet"
) -> tuple[pa.Table, list[int]]:
    """The stored legs in storage order, and the span of start times of each row group."""
    path = tmp_path / f"legs{suffix}"
    if suffix == ".csv":
        pacsv.write_csv(table, path)
    else:
        pq.write_table(table, path)
    with DuckDBStore(tmp_path / "data" / "legs.duckdb") as store:
        store.ingest(open_source(path))
        stored = store.con.sql("SELECT start_time, call_id FROM legs ORDER BY rowid")
        # Only that insert runs unordered: the next file is staged in its own order again.
        assert store.con.sql("SELECT current_setting('preserve_insertion_order')").fetchall() == [
            (True,)
        ]
        stats = store.con.sql(
            "SELECT row_group_id, min(stats.min), max(stats.max) FROM pragma_storage_info('legs') "
            "WHERE column_name = 'start_time' AND segment_type <> 'VALIDITY' GROUP BY ALL"
        ).fetchall()
        return stored.to_arrow_table(), [hi - lo for _group, lo, hi in stats]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


def test_a_file_in_time_order_give_or_take_an_hour_is_stored_unsorted_but_clustered(tmp_path, rng):
    # A CDR file written at each call's end: start times step back by up to an hour.
    n = 8 * ROW_GROUP_ROWS
    ends = T + np.sort(rng.integers(0, 30 * 86_400_000, n))
    starts = ends - rng.integers(0, 3_600_000, n)
    stored, spans = _stored(tmp_path, _legs(starts, np.arange(n)))
    times = stored.column("start_time").to_numpy()
    assert not np.all(np.diff(times) >= 0)  # not sorted: stored as it came...
    assert sorted(stored.column("call_id").to_pylist()) == sorted(str(i) for i in range(n))
    # ...in row groups that mostly hold a small part of the month (the last rows each
    # inserting thread holds may share one), so zone maps skip the others. In a file of
    # random order every row group would span the whole month.
    month = times.max() - times.min()
    assert len(spans) >= 8
    assert sum(span > month / 3 for span in spans) <= 2


def test_a_csv_file_in_time_order_is_stored_in_row_groups_of_its_own_stretches(tmp_path, rng):
    # A file read by pyarrow reaches DuckDB as a stream: in batches of one row group each,
    # every row group of the store holds one stretch of the file, as if sorted (it used to
    # hold interleaved rows from two stretches, or more).
    n = 8 * ROW_GROUP_ROWS
    ends = T + np.sort(rng.integers(0, 30 * 86_400_000, n))
    starts = ends - rng.integers(0, 3_600_000, n)
    stored, spans = _stored(tmp_path, _legs(starts, np.arange(n)), ".csv")
    assert sorted(stored.column("call_id").to_pylist()) == sorted(str(i) for i in range(n))
    share = (ends.max() - ends.min()) / 8
    assert len(spans) == 8
    assert max(spans) <= 1.25 * share, [round(span / share, 2) for span in spans]


def test_a_file_out_of_order_is_stored_sorted_by_start_time(tmp_path, rng):
    starts = T + rng.integers(0, 30 * 86_400_000, N)  # one row group spans the whole month
    stored, _spans = _stored(tmp_path, _legs(starts, np.arange(N)))
    assert np.all(np.diff(stored.column("start_time").to_numpy()) >= 0)
    assert sorted(stored.column("call_id").to_pylist()) == sorted(str(i) for i in range(N))
