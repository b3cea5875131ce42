"""The column-wise answer: its numpy and Arrow twins of the SQL definitions, the directory
index it answers with, and the index's life in the embedded store."""

from __future__ import annotations

import threading
from dataclasses import replace

import duckdb
import numpy as np
import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workanalytics import directory
from workanalytics.metrics import (
    FIELDS,
    MEASURE_NAMES,
    directory_field_arrays,
    extension_sort_key,
    field_sql,
    measure_field_arrays,
    measures_per_group,
)
from workanalytics.store.answer import _HALVED_FROM_ROWS as HALVED
from workanalytics.store.answer import DirectoryIndex, _json_workers, _numbers_json, answer_of
from workanalytics.store.duckdb_store import _add_by_row
from workanalytics.timewindow import UtcWindow

from conftest import Leg, StoreHelper

T0 = 1_772_323_200_000  # 2026-03-01T00:00:00Z
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NUMERIC = [f for f in FIELDS if f.kind != "directory"]
DIRECTORY_FIELDS = [f for f in FIELDS if f.kind == "directory"]

small = st.integers(0, 5) | st.integers(0, 10**12)
measure_rows = st.lists(st.fixed_dictionaries({m: small for m in MEASURE_NAMES}), max_size=12)
text = st.sampled_from(
    [None, "", "UE", "RG", "CQ", "a", 'q"uote', "back\\slash", "Zoë 日本", "\t\n"]
)
directory_rows = st.lists(
    st.fixed_dictionaries({c: text for c in directory.COLUMNS[2:]}), min_size=1, max_size=12
)


def _sql_values(table: pa.Table, select: str, source: str) -> list[tuple]:
    con = duckdb.connect()
    con.register(source, table)
    return con.sql(select).fetchall()


@SETTINGS
@given(rows=measure_rows)
def test_numeric_fields_in_numpy_equal_their_sql(rows):
    """Percentages and averages floor, divisions by zero give 0, as field_sql says."""
    table = pa.table({m: pa.array([r[m] for r in rows], pa.int64()) for m in MEASURE_NAMES})
    select = ", ".join(field_sql(f, measures="m") for f in NUMERIC)
    expected = _sql_values(table, f"SELECT {select} FROM m_in AS m", "m_in")
    arrays = measure_field_arrays({m: table.column(m).to_numpy() for m in MEASURE_NAMES})
    got = list(zip(*(arrays[f.name].tolist() for f in NUMERIC), strict=True))
    assert got == expected


@SETTINGS
@given(rows=directory_rows)
def test_directory_fields_in_arrow_equal_their_sql(rows):
    """Service type UE when unknown or empty; Email and UserName N/A unless a user has them."""
    n = len(rows)
    columns = {"pbx_id": ["acme"] * n, "extension": [str(i) for i in range(n)]}
    columns |= {c: [r[c] for r in rows] for c in directory.COLUMNS[2:]}
    table = pa.table({c: pa.array(v, pa.string()) for c, v in columns.items()})
    select = ", ".join(field_sql(f, directory="d", measures="d") for f in DIRECTORY_FIELDS)
    expected = _sql_values(table, f"SELECT {select} FROM d_in AS d", "d_in")
    arrays = directory_field_arrays({c: table.column(c) for c in directory.COLUMNS})
    got = list(zip(*(arrays[f.name].to_pylist() for f in DIRECTORY_FIELDS), strict=True))
    assert got == expected


def _directory(extensions: list[str], **values: list[str | None]) -> pa.Table:
    n = len(extensions)
    columns = {c: values.get(c, [None] * n) for c in directory.COLUMNS[2:]}
    columns |= {"pbx_id": ["acme"] * n, "extension": extensions}
    return pa.table({c: pa.array(columns[c], pa.string()) for c in directory.COLUMNS})


def test_the_index_orders_rows_by_the_one_sort_key():
    extensions = ["100", "99", "abc", "0100", "9", "10a", "1000"]
    index = DirectoryIndex.build(_directory(extensions))
    in_order = [extensions[i] for i in index.order]
    assert in_order == sorted(extensions, key=extension_sort_key)


def test_the_answer_json_is_orjsons_for_any_names():
    names = ['Zoë "Z"', "back\\slash", "tab\tnew\nline", "\x01\x1f", "日本", "🙂", ""]
    index = DirectoryIndex.build(
        _directory(
            [str(i) for i in range(len(names))],
            first_name=names,
            last_name=list(reversed(names)),
            email=["e@x.test"] * len(names),
            username=names,
        )
    )
    per_row = {m: np.arange(len(names), dtype=np.int64) * 7 for m in MEASURE_NAMES}
    for version in (1, 2):
        answer = answer_of(per_row, index, version)
        assert answer.json() == orjson.dumps(answer.result().as_dicts())
        assert len(answer) == len(names) - 1  # the row of zeros is no answer row


@pytest.mark.parametrize("rows", [1, HALVED - 1, HALVED, HALVED + 1, 3 * HALVED + 7])
@pytest.mark.parametrize("worker", ["free", "busy"])
def test_a_large_answer_written_in_halves_is_the_same_body(rows, worker):
    """In halves at once when the JSON worker is free; both here when it is busy (then
    its half is taken back before it starts, not waited for)."""
    names = ["Zoë", 'q"uote', "", "日本"]
    index = DirectoryIndex.build(
        _directory(
            [str(i) for i in range(rows + 1)],
            first_name=[names[i % 4] for i in range(rows + 1)],
        )
    )
    per_row = {
        m: np.arange(rows + 1, dtype=np.int64) * 10 ** (k % 7) for k, m in enumerate(MEASURE_NAMES)
    }
    answer = answer_of(per_row, index, 2)
    assert len(answer) == rows
    release = threading.Event()
    if worker == "busy":
        for _ in range(2):
            _json_workers().submit(release.wait)
    try:
        assert answer.json() == orjson.dumps(answer.result().as_dicts())
    finally:
        release.set()


def test_hash_lookup_finds_rows_and_refuses_unknown_or_colliding_hashes():
    table = _directory(["1", "2", "3"])
    index = DirectoryIndex.build(table, np.array([30, 10, 20], dtype=np.uint64))
    assert index.rows_of_hashes(np.array([20, 30, 20], dtype=np.uint64)).tolist() == [2, 0, 2]
    assert index.rows_of_hashes(np.array([20, 40], dtype=np.uint64)) is None
    colliding = DirectoryIndex.build(table, np.array([30, 10, 30], dtype=np.uint64))
    assert colliding.rows_of_hashes(np.array([10], dtype=np.uint64)) is None
    assert DirectoryIndex.build(table).rows_of_hashes(np.array([10], dtype=np.uint64)) is None


@pytest.fixture
def helper(tmp_path):
    helper = StoreHelper(tmp_path)
    yield helper
    helper.store.close()


def test_the_store_answers_with_a_fresh_index_after_each_directory_change(helper):
    whole = UtcWindow(0, 2**62)
    helper.add([Leg()])
    assert helper.row("1001", window=whole)["FirstName"] == ""
    helper.add_directory([dict(pbx_id="acme", extension="1001", first_name="Jane")])
    assert helper.row("1001", window=whole)["FirstName"] == "Jane"
    # A leg naming a new extension: its row comes from the rebuilt index, not the slow path.
    helper.add([Leg(call_id="c2", callee="1002", callee_ext="1002")])
    index = helper.store._directory_index()
    assert "1002" in index.fields["Extension"].to_pylist()
    assert index.key_hashes is not None
    assert [r["Extension"] for r in helper.summary(window=whole)] == ["1001", "1002"]


def test_a_leg_the_directory_lacks_is_answered_by_key(helper):
    """The slow path: an extension whose hash the index lacks is looked up by its key."""
    helper.add([Leg(), Leg(call_id="c2", callee="1002", callee_ext="1002")])
    helper.store._directory_index()  # built while 1002 is there...
    helper.store.con.execute("DELETE FROM directory WHERE extension = '1002'")
    helper.store._directory_changed()  # ...and rebuilt without it
    window = UtcWindow(Leg().start_time, Leg().start_time + 1)  # raw legs only
    rows = helper.summary(window=window)
    assert [(r["Extension"], r["ServiceType"], r["External_Inbound_Total"]) for r in rows] == [
        ("1001", "UE", 1),
        ("1002", "UE", 1),
    ]


def test_an_index_from_not_null_columns_takes_rows_for_unknown_people():
    """chdb hands the directory over as NOT NULL strings; rows for extensions it lacks have
    nulls, and still join it."""
    strict = pa.schema([pa.field(c, pa.string(), nullable=False) for c in directory.COLUMNS])
    filled = _directory(["1"], **{c: [""] for c in directory.COLUMNS[2:]})
    index = DirectoryIndex.build(filled.cast(strict))
    wider = index.with_rows_for(pa.array(["acme"]), pa.array(["2"]))
    assert wider.fields["Extension"].to_pylist() == ["1", "2"]
    assert wider.fields["ServiceType"].to_pylist() == ["UE", "UE"]


def test_raw_sums_stay_exact_beyond_what_a_double_holds():
    """Durations are validated up to 15 digits, so a day's sum can pass 2**53."""
    big = 999_999_999_999_999
    credits = {
        "inbound": np.array([True] * 11),
        "internal": np.zeros(11, dtype=bool),
        "answered": np.zeros(11, dtype=bool),
        "abandoned": np.ones(11, dtype=bool),
        "voicemail": np.zeros(11, dtype=bool),
        "leg_ring_ms": np.array([big - i for i in range(11)], dtype=np.int64),
        "leg_talk_ms": np.zeros(11, dtype=np.int64),
    }
    sums = measures_per_group(credits, np.zeros(11, dtype=np.int64), 1)
    assert sums["ring_ms"].tolist() == [sum(big - i for i in range(11))]
    assert sums["abandoned_ring_ms"].tolist() == [sum(big - i for i in range(11))]


def test_an_answer_read_across_a_commit_is_read_again_from_one_snapshot(helper):
    """Raw legs and rollups are two queries; a commit landing between them must not give an
    answer that mixes the database before and after it."""
    day = 86_400_000
    leg = Leg(start_time=T0 + day // 2, end_time=T0 + day // 2 + 60_000)  # a partial edge day
    helper.add([leg])
    window = UtcWindow(T0 + day // 4, T0 + 3 * day)  # raw edges and one whole day
    store = helper.store
    inner = store._measures_per_row

    def with_a_commit_in_between(*args):
        per_row = inner(*args)
        # The leg moves to the whole day, and a new leg arrives, after the reads.
        helper.add(
            [
                replace(leg, start_time=T0 + day + 5, end_time=T0 + day + 60_000),
                Leg(call_id="c2", start_time=T0 + day + 9, end_time=T0 + day + 99),
            ]
        )
        return per_row

    store._measures_per_row = with_a_commit_in_between
    (row,) = store.extension_summary(["acme"], window).as_dicts()
    store._measures_per_row = inner
    assert row["External_Inbound_Total"] == 2  # all of the database after the commit
    assert store.extension_summary(["acme"], window).as_dicts() == [row]


def test_rollup_rows_of_one_key_are_all_added():
    """One day's rollup rows are read ungrouped, one per key; should a key come twice, both
    rows count."""
    per_row = {m: np.zeros(3, dtype=np.int64) for m in MEASURE_NAMES}
    measures = {m: np.array([1, 10, 100], dtype=np.int64) for m in MEASURE_NAMES}
    _add_by_row(per_row, np.array([2, 0, 2]), measures)
    assert all(v.tolist() == [10, 0, 101] for v in per_row.values())
    _add_by_row(per_row, np.array([0, 1, 2]), measures)
    assert all(v.tolist() == [11, 10, 201] for v in per_row.values())


def test_a_null_in_an_answer_query_takes_the_slow_path(helper):
    """Numpy has no null: a query giving one is answered by the SQL path instead."""
    assert helper.store._columns("SELECT 1 AS a UNION ALL SELECT NULL", {}) is None
    assert helper.store._columns("SELECT 1 AS a", {})["a"].tolist() == [1]
    helper.add([Leg()])
    window = UtcWindow(Leg().start_time, Leg().start_time + 1)  # raw legs only
    expected = helper.summary(window=window)
    store = helper.store
    inner = store._columns
    store._columns = lambda sql, params: None
    try:
        assert helper.summary(window=window) == expected
    finally:
        store._columns = inner
    assert expected[0]["External_Inbound_Total"] == 1


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=50),
    step=st.sampled_from([1, 2]),
)
def test_numbers_are_written_as_orjson_writes_them_each_with_its_comma(values, step):
    # Any int64, a column or a strided view of one (a slice of the answer's half).
    array = np.array(values * step, dtype=np.int64)[::step]
    written = _numbers_json(array)
    assert written.to_pylist() == [orjson.dumps(int(v)).decode() + "," for v in array]
