"""A stream reaches DuckDB in batches of one row group: same rows, same order, whole groups."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workanalytics.ingest import sources
from workanalytics.ingest.sources import in_row_groups

SCHEMA = pa.schema([("n", pa.int64()), ("text", pa.string())])


def _batches(sizes: list[int]) -> list[pa.RecordBatch]:
    out, start = [], 0
    for size in sizes:
        n = np.arange(start, start + size, dtype=np.int64)
        out.append(
            pa.RecordBatch.from_arrays([pa.array(n), pa.array(n.astype(str))], schema=SCHEMA)
        )
        start += size
    return out


@settings(max_examples=200, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 40), max_size=30),
    group=st.integers(1, 25),
    max_bytes=st.sampled_from([1 << 30, 200, 1]),
)
def test_rows_come_in_order_in_whole_row_groups(sizes, group, max_bytes):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sources, "ROW_GROUP_ROWS", group)
        patch.setattr(sources, "STREAM_BATCH_MAX_BYTES", max_bytes)
        inputs = _batches(sizes)
        out = list(in_row_groups(iter(inputs), SCHEMA))
    total = sum(sizes)
    # Every row once, in order, as one chunk per batch.
    joined = pa.Table.from_batches(out, SCHEMA)
    assert joined.column("n").to_pylist() == list(range(total))
    assert joined.column("text").to_pylist() == [str(i) for i in range(total)]
    assert all(0 < b.num_rows <= group for b in out)
    if max_bytes == 1 << 30:
        # No byte cap reached: whole row groups, and a shorter last batch.
        assert [b.num_rows for b in out] == [group] * (total // group) + (
            [total % group] if total % group else []
        )
    elif max_bytes == 1:
        # Every batch reaches the cap: each is handed over at once, in row groups.
        assert [b.num_rows for b in out] == [
            n for size in sizes for n in [group] * (size // group) + [size % group] if n
        ]
    else:
        # Never more than the cap and the one batch that reached it.
        largest = max((b.nbytes for b in inputs), default=0)
        assert all(b.nbytes <= max_bytes + largest for b in out)


def test_batches_cut_from_one_reach_duckdb_whole():
    # A batch of more than a row group is handed over in slices of it (uncopied, at an
    # offset): DuckDB must read each from its offset, nulls included.
    n = 2 * sources.ROW_GROUP_ROWS + 1_000
    numbers = np.arange(n)
    big = pa.record_batch(
        {
            "n": pa.array(numbers),
            "text": pa.array(np.where(numbers % 7 == 0, None, numbers.astype(str))),
        },
        schema=SCHEMA,
    )
    out = list(in_row_groups(iter([big]), SCHEMA))
    assert [b.column(0).offset for b in out] == [
        0,
        sources.ROW_GROUP_ROWS,
        2 * sources.ROW_GROUP_ROWS,
    ]
    stream = pa.RecordBatchReader.from_batches(SCHEMA, iter(out))  # noqa: F841 (read by DuckDB)
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT * FROM stream")
    stored = con.sql("SELECT n, text FROM t ORDER BY n").to_arrow_table()
    assert stored.equals(pa.Table.from_batches([big]))
