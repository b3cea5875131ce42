"""Legs are stored clustered by start time: a file already in time order is kept as it came,
any other is sorted, so a window's raw edges read few row groups either way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from workanalytics.ingest import open_source
from workanalytics.store import DuckDBStore
from workanalytics.store.staging import ROW_GROUP_ROWS

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


def _stored_start_times(tmp_path: Path, table: pa.Table) -> np.ndarray:
    pq.write_table(table, tmp_path / "legs.parquet")
    with DuckDBStore(tmp_path / "data" / "legs.duckdb") as store:
        store.ingest(open_source(tmp_path / "legs.parquet"))
        stored = store.con.sql("SELECT start_time, call_id FROM legs ORDER BY rowid")
        return stored.to_arrow_table()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


def test_a_file_in_time_order_give_or_take_an_hour_is_stored_as_it_comes(tmp_path, rng):
    # A CDR file written at each call's end: start times step back by up to an hour.
    ends = T + np.sort(rng.integers(0, 30 * 86_400_000, N))
    starts = ends - rng.integers(0, 3_600_000, N)
    stored = _stored_start_times(tmp_path, _legs(starts, np.arange(N)))
    assert stored.column("call_id").to_pylist() == [str(i) for i in range(N)]
    assert not np.all(np.diff(stored.column("start_time").to_numpy()) >= 0)


def test_a_file_out_of_order_is_stored_sorted_by_start_time(tmp_path, rng):
    starts = T + rng.integers(0, 30 * 86_400_000, N)  # one row group spans the whole month
    stored = _stored_start_times(tmp_path, _legs(starts, np.arange(N)))
    assert np.all(np.diff(stored.column("start_time").to_numpy()) >= 0)
    assert sorted(stored.column("call_id").to_pylist()) == sorted(str(i) for i in range(N))
