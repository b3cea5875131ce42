"""The fast paths of canonical ingest give what the plain ones give.

A Parquet column already in its store type (timestamps, integers, booleans) is handed to the
validator typed instead of as text. Every test here writes the same cells twice, typed and
as text (a Parquet file of strings, or CSV), and expects the same legs, the same errors with
the same rows, and the same reject file. The text each typed cell stands for is computed
here, from the values written, never by the reader under test.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workanalytics.ingest import SourceError, open_source
from workanalytics.ingest.sources import ParquetSource
from workanalytics.legs import COLUMN_NAMES, COLUMNS, _blank_to_null, validated_select
from workanalytics.store import DuckDBStore, IngestRejected, staging
from workanalytics.store.base import IngestReport
from workanalytics.store.rollups import ROLLUPS

T = 1_772_370_000_000  # 2026-03-01T13:00:00Z
KINDS = {c.name: c.kind for c in COLUMNS}
INSTANTS = ("start_time", "connect_time", "end_time")
PER_MS = {"s": None, "ms": 1, "us": 1_000, "ns": 1_000_000}
#: The most a 15-digit epoch ms holds: the bound of the text rule for instants.
MAX_MS = 10**15 - 1
INT64 = pa.int64()


def row(**changes: object) -> dict[str, object]:
    """A valid leg as Python values (instants in epoch ms), with ``changes``."""
    base: dict[str, object] = {
        "pbx_id": "acme",
        "call_id": "c1",
        "leg_id": 1,
        "start_time": T,
        "connect_time": None,
        "end_time": T + 10_000,
        "caller": "+15551234567",
        "callee": "1001",
        "caller_ext": None,
        "callee_ext": "1001",
        "abandoned": False,
        "voicemail": False,
        "status": "Completed",
        "caller_name": None,
        "callee_name": None,
        "hold_ms": 0,
        "cause": None,
        "parent_call_id": None,
        "transfer_to_call_id": None,
        "dnis": None,
        "sip_call_id": None,
    }
    base.update(changes)
    return base


def stamp(ms: int | None, unit: str, sub: int = 0) -> int | None:
    """Epoch ms as a count of ``unit``, plus ``sub`` units below the ms (s: whole seconds)."""
    if ms is None:
        return None
    per_ms = PER_MS[unit]
    return ms // 1000 if per_ms is None else ms * per_ms + sub


def floored_ms(value: int, unit: str) -> int:
    """What a stored count of ``unit`` is in epoch ms, floored (Python's // floors)."""
    per_ms = PER_MS[unit]
    return value * 1000 if per_ms is None else value // per_ms


def typed_table(
    rows: list[dict[str, object]],
    *,
    unit: str = "ms",
    tz: str | None = "UTC",
    subs: list[int] | None = None,
    int_type: pa.DataType = INT64,
    instants_as: str = "timestamp",
) -> pa.Table:
    """The rows as a Parquet writer with types would write them."""
    arrays = {}
    for name in COLUMN_NAMES:
        values = [r[name] for r in rows]
        kind = KINDS[name]
        if kind == "instant" and instants_as == "timestamp":
            counts = [stamp(v, unit, (subs or [0] * len(rows))[i]) for i, v in enumerate(values)]
            arrays[name] = pa.array(counts, pa.timestamp(unit, tz=tz))
        elif kind == "instant":
            arrays[name] = pa.array(values, pa.int64())
        elif kind == "int":
            try:
                arrays[name] = pa.array(values, int_type)
            except (OverflowError, pa.ArrowInvalid):
                arrays[name] = pa.array(values, pa.int64())
        elif kind == "bool":
            arrays[name] = pa.array(values, pa.bool_())
        else:
            arrays[name] = pa.array(values, pa.string())
    return pa.table(arrays)


def text_of(array: pa.ChunkedArray) -> list[str | None]:
    """The canonical text of each typed cell: epoch ms floored, true/false, digits."""
    t = array.type
    values = array.cast(pa.int64()).to_pylist() if pa.types.is_timestamp(t) else array.to_pylist()
    out: list[str | None] = []
    for v in values:
        if v is None:
            out.append(None)
        elif pa.types.is_timestamp(t):
            out.append(str(floored_ms(v, t.unit)))
        elif isinstance(v, bool):
            out.append("true" if v else "false")
        else:
            out.append(str(v))
    return out


def text_table(table: pa.Table) -> pa.Table:
    return pa.table(
        {n: pa.array(text_of(table.column(n)), pa.string()) for n in table.column_names}
    )


def write_csv(path: Path, table: pa.Table) -> Path:
    """The text table as CSV: an empty cell for a null, as a CSV export writes one."""
    columns = {n: table.column(n).to_pylist() for n in table.column_names}
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(table.column_names)
        for i in range(table.num_rows):
            writer.writerow(["" if columns[n][i] is None else columns[n][i] for n in columns])
    return path


def outcome(path: Path, root: Path) -> dict[str, object]:
    """Everything an ingest says and stores, refused and with --skip-invalid."""
    result: dict[str, object] = {}
    with DuckDBStore(root / "refused" / "legs.duckdb") as store:
        try:
            store.ingest(open_source(path))
            result["refused"] = None
        except IngestRejected as exc:
            result["refused"] = (exc.total, [(e.where, e.reason) for e in exc.errors])
            assert store.leg_count() == 0
    rejects = root / "rejects.csv"
    with DuckDBStore(root / "skipped" / "legs.duckdb") as store:
        report = store.ingest(open_source(path), skip_invalid=True, reject_path=rejects)
        result["report"] = (
            report.rows_read,
            report.legs_stored,
            report.rejected,
            report.new_extensions,
            report.pbx_ids,
            [(e.where, e.reason) for e in report.errors],
        )
        result["legs"] = store.con.execute("SELECT * FROM legs ORDER BY ALL").fetchall()
        for table in (*(table for table, _key in ROLLUPS), "directory", "pbxes"):
            result[table] = store.con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
    result["rejects"] = rejects.read_text() if rejects.exists() else None
    return result


def with_places(result: dict[str, object], place: Callable[[str], str]) -> dict[str, object]:
    """An outcome with every place of an error rewritten by ``place``."""

    def fix(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(place(where), reason) for where, reason in pairs]

    out = dict(result)
    if out["refused"] is not None:
        total, pairs = out["refused"]
        out["refused"] = (total, fix(pairs))
    *head, pairs = out["report"]
    out["report"] = (*head, fix(pairs))
    return out


def assert_same_as_text(tmp_path: Path, table: pa.Table) -> dict[str, object]:
    """The typed file, its text twin in Parquet and in CSV: one outcome."""
    typed_path = tmp_path / "typed.parquet"
    text_path = tmp_path / "text.parquet"
    csv_path = tmp_path / "text.csv"
    pq.write_table(table, typed_path)
    text = text_table(table)
    pq.write_table(text, text_path)
    write_csv(csv_path, text)
    assert ParquetSource(text_path).typed_columns == frozenset()
    typed = outcome(typed_path, tmp_path / "t")
    as_text = outcome(text_path, tmp_path / "x")
    # the same rows, named in their own file
    assert with_places(typed, lambda w: w.replace(str(typed_path), str(text_path))) == as_text
    # row N of the Parquet file is line N + 1 of the CSV, below its header; the reject
    # files differ by that line column only
    from_csv = outcome(csv_path, tmp_path / "c")
    as_lines = with_places(as_text, lambda w: f"{csv_path}:{int(w.rsplit('row ', 1)[1]) + 1}")
    as_lines["rejects"] = from_csv["rejects"] = None
    assert as_lines == from_csv
    return typed


# --- which columns come typed --------------------------------------------------------------


def test_timestamps_integers_and_booleans_come_typed(tmp_path: Path):
    path = tmp_path / "legs.parquet"
    pq.write_table(typed_table([row()]), path)
    source = ParquetSource(path)
    expected = {c.name for c in COLUMNS if c.kind in ("instant", "int", "bool")}
    assert source.typed_columns == expected
    schema = source.reader().schema
    for c in COLUMNS:
        want = {"instant": pa.int64(), "int": pa.int64(), "bool": pa.bool_()}.get(c.kind)
        assert schema.field(c.name).type == (want or pa.string()), c.name


def test_other_types_go_as_text(tmp_path: Path):
    """Instants as ISO text, a uint64 leg id, a dictionary of strings, booleans as 0/1."""
    table = pa.table(
        {
            "pbx_id": pa.array(["acme"]).dictionary_encode(),
            "call_id": ["c1"],
            "leg_id": pa.array([7], pa.uint64()),
            "start_time": ["2026-03-01T13:00:00.5Z"],
            "end_time": pa.array([T + 10_000], pa.timestamp("ms", tz="UTC")),
            "caller": ["a"],
            "callee": ["1001"],
            "abandoned": pa.array([1], pa.int8()),
            "hold_ms": pa.array([5], pa.int32()),
        }
    )
    path = tmp_path / "mixed.parquet"
    pq.write_table(table, path)
    assert ParquetSource(path).typed_columns == {"end_time", "hold_ms"}
    with DuckDBStore(tmp_path / "s" / "legs.duckdb") as store:
        store.ingest(open_source(path))
        got = store.con.execute(
            "SELECT pbx_id, leg_id, start_time, end_time, abandoned, hold_ms FROM legs"
        ).fetchall()
    assert got == [("acme", 7, T + 500, T + 10_000, True, 5)]


def test_only_instants_whole_numbers_and_booleans_may_come_typed():
    with pytest.raises(ValueError, match="pbx_id"):
        validated_select("raw", typed=frozenset({"pbx_id"}))
    with pytest.raises(ValueError, match="nope"):
        validated_select("raw", typed=frozenset({"nope"}))


def test_an_unreadable_file_is_still_refused_as_such(tmp_path: Path):
    path = tmp_path / "junk.parquet"
    path.write_bytes(b"not parquet at all")
    source = ParquetSource(path)
    assert source.typed_columns == frozenset()
    with (
        DuckDBStore(tmp_path / "s" / "legs.duckdb") as store,
        pytest.raises(SourceError, match="not a readable Parquet file"),
    ):
        store.ingest(source)


# --- the same outcome typed and as text ------------------------------------------------------


def test_generated_style_file_is_stored_as_its_text_twin(tmp_path: Path):
    rows = [
        row(call_id="c1", caller_name="Zoë 山田", connect_time=T + 2_000, hold_ms=1_500),
        row(call_id="c1", leg_id=2, start_time=T + 60_000, end_time=T + 90_000, voicemail=True,
            caller_ext="1001", callee_ext="1002", callee="1002"),
        row(call_id="c2", abandoned=True, start_time=T + 123, end_time=T + 5_123),
        row(pbx_id="beta", call_id="c3", status="In Progress", connect_time=T),
        row(call_id="c4", start_time=T - 86_400_000, end_time=T - 86_400_000),
    ]  # fmt: skip
    result = assert_same_as_text(tmp_path, typed_table(rows))
    assert result["refused"] is None
    assert result["report"][:3] == (5, 5, 0)


def test_nulls_and_bad_values_give_the_same_errors_on_the_same_rows(tmp_path: Path):
    rows = [
        row(call_id="ok"),
        row(call_id="a", start_time=None),
        row(call_id="b", end_time=None, leg_id=None),
        row(call_id="c", leg_id=-1),
        row(call_id="d", leg_id=0),
        row(call_id="e", hold_ms=-5),
        row(call_id="f", leg_id=10**18),  # 19 digits: more than a whole number may have
        row(call_id="g", leg_id=10**18 - 1),
        row(call_id="h", start_time=T + 1, end_time=T),
        row(call_id="i", connect_time=T + 1, abandoned=True),
        row(call_id="j", abandoned=True, voicemail=True),
        row(call_id="k", abandoned=None, voicemail=None, hold_ms=None, status=None),
        row(call_id="l", connect_time=T - 1),
        row(call_id="ok", caller="changed"),  # the last row of an identity wins
    ]
    result = assert_same_as_text(tmp_path, typed_table(rows))
    total, errors = result["refused"]
    assert total == 10
    by_row = {int(w.rsplit("row ", 1)[1]): reason for w, reason in errors}
    assert by_row[2] == "start_time is required"
    assert by_row[3] == "leg_id is required; end_time is required"
    assert by_row[4] == "leg_id must be a whole number >= 0"
    assert by_row[5] == "leg_id must be >= 1"
    assert by_row[6] == "hold_ms must be a whole number >= 0"
    assert by_row[7] == "leg_id must be a whole number >= 0"
    assert by_row[9] == "start_time is after end_time"
    assert by_row[10] == "an answered leg cannot be abandoned"
    assert by_row[11] == "abandoned and voicemail exclude each other"
    assert by_row[13] == "connect_time is before start_time"
    assert sorted(by_row) == [2, 3, 4, 5, 6, 7, 9, 10, 11, 13]
    assert result["report"][:3] == (14, 3, 10)  # ok (its last row), g and k


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
@pytest.mark.parametrize("tz", [None, "UTC", "Asia/Kathmandu"])
def test_timestamps_of_any_unit_and_zone_are_floored_epoch_ms(tmp_path: Path, unit: str, tz):
    """Before 1970 too: -1 µs is the millisecond before the epoch, not the one after."""
    starts = [T, -1, -86_400_001, 0, -2_000_000_000_000, 1]
    subs = [0, 999_999, 1, 0, 123, 999] if unit != "ms" else [0] * 6
    per_ms = PER_MS[unit]
    if per_ms not in (None, 1):
        subs = [s % per_ms for s in subs]
    rows = [row(call_id=f"c{i}", start_time=ms, end_time=T + 10_000) for i, ms in enumerate(starts)]
    table = typed_table(rows, unit=unit, tz=tz, subs=subs)
    result = assert_same_as_text(tmp_path, table)
    assert result["refused"] is None
    counts = table.column("start_time").cast(pa.int64()).to_pylist()
    with DuckDBStore(tmp_path / "t" / "skipped" / "legs.duckdb") as store:
        got = dict(store.con.execute("SELECT call_id, start_time FROM legs").fetchall())
    assert got == {f"c{i}": floored_ms(v, unit) for i, v in enumerate(counts)}
    if unit in ("us", "ns"):
        assert got["c1"] == -1  # 1 ms before the epoch minus a sub-ms part: floored


def test_instants_beyond_fifteen_digits_are_refused_as_in_text(tmp_path: Path):
    rows = [
        row(call_id="a", start_time=-MAX_MS, end_time=MAX_MS),
        row(call_id="b", start_time=-MAX_MS - 1),
        row(call_id="c", end_time=MAX_MS + 1),
        row(call_id="d", connect_time=MAX_MS + 1, end_time=MAX_MS),
    ]
    for instants_as in ("timestamp", "int64"):
        d = tmp_path / instants_as
        d.mkdir()
        result = assert_same_as_text(d, typed_table(rows, instants_as=instants_as))
        total, errors = result["refused"]
        assert total == 3
        assert [e[1] for e in errors] == [
            "start_time must be epoch milliseconds or ISO-8601 with an offset",
            "end_time must be epoch milliseconds or ISO-8601 with an offset",
            "connect_time must be epoch milliseconds or ISO-8601 with an offset",
        ]


@pytest.mark.parametrize("int_type", [pa.int8(), pa.int16(), pa.int32(), pa.uint8(), pa.uint32()])
def test_narrower_integers_come_typed_too(tmp_path: Path, int_type: pa.DataType):
    signed = pa.types.is_signed_integer(int_type)
    rows = [
        row(call_id="a", leg_id=1, hold_ms=0),
        row(call_id="b", leg_id=2, hold_ms=100),
        row(call_id="c", leg_id=0, hold_ms=-1 if signed else 3),
    ]
    table = typed_table(rows, int_type=int_type)
    assert table.column("leg_id").type == int_type
    path = tmp_path / "narrow.parquet"
    pq.write_table(table, path)
    assert {"leg_id", "hold_ms"} <= ParquetSource(path).typed_columns
    result = assert_same_as_text(tmp_path, table)
    assert result["refused"][0] == 1


def test_repeated_identities_with_bad_rows_between(tmp_path: Path):
    """The last valid row of an identity wins; a bad row of the same identity is only bad."""
    rows = [
        row(call_id="x", caller="first"),
        row(call_id="x", caller="bad", leg_id=1, start_time=None),
        row(call_id="y"),
        row(call_id="x", caller="last"),
        row(call_id="y", caller="bad too", abandoned=True, voicemail=True),
    ]
    result = assert_same_as_text(tmp_path, typed_table(rows))
    assert result["report"][:3] == (5, 2, 2)
    callers = sorted((r[1], r[6]) for r in result["legs"])
    assert callers == [("x", "last"), ("y", "+15551234567")]


def test_staging_leaves_nothing_behind(tmp_path: Path):
    path = tmp_path / "legs.parquet"
    pq.write_table(typed_table([row(), row(call_id="c2"), row(call_id="c2", caller="b")]), path)
    bad = tmp_path / "bad.parquet"
    pq.write_table(typed_table([row(start_time=None)]), bad)
    with DuckDBStore(tmp_path / "s" / "legs.duckdb") as store:
        for _ in range(2):  # again: the temp objects of the first were dropped
            assert store.ingest(open_source(path)).legs_stored == 2
            with pytest.raises(IngestRejected):
                store.ingest(open_source(bad))
        temps = store.con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE temporary "
            "UNION ALL SELECT view_name FROM duckdb_views() WHERE temporary AND NOT internal"
        ).fetchall()
        assert temps == []
        assert store.leg_count() == 2


# --- any mix of values, typed and as text -----------------------------------------------------

#: The widest epoch ms each unit is drawn from: past the bound of the text rule where the
#: unit reaches it (an int64 of ns ends in 2262).
_UNIT_MS_RANGE = {"s": MAX_MS + 1000, "ms": MAX_MS + 1, "us": MAX_MS + 1, "ns": 9 * 10**12}


@st.composite
def typed_tables(draw) -> pa.Table:
    unit = draw(st.sampled_from(["s", "ms", "us", "ns"]))
    reach = _UNIT_MS_RANGE[unit]
    instant = st.one_of(
        st.none(),
        st.integers(T - 5_000, T + 5_000),
        st.integers(-5_000, 5_000),
        st.sampled_from([-reach, reach, -min(reach, MAX_MS), min(reach, MAX_MS)]),
        st.integers(-reach, reach),
    )
    n = draw(st.integers(1, 8))
    rows = []
    for _ in range(n):
        rows.append(
            row(
                pbx_id=draw(st.sampled_from(["acme", "beta", "bad pbx"])),
                call_id=draw(st.sampled_from(["c1", "c2", "c3", " ", None])),
                leg_id=draw(st.one_of(st.none(), st.integers(-2, 3),
                                      st.sampled_from([10**18 - 1, 10**18, 2**63 - 1]))),
                start_time=draw(instant),
                connect_time=draw(st.one_of(st.none(), instant)),
                end_time=draw(instant),
                caller=draw(st.sampled_from(["1001", "+15550001", "  ", None])),
                caller_ext=draw(st.sampled_from([None, "1001", "1002"])),
                callee_ext=draw(st.sampled_from([None, "1001", "1002"])),
                abandoned=draw(st.one_of(st.none(), st.booleans())),
                voicemail=draw(st.one_of(st.none(), st.booleans())),
                status=draw(st.sampled_from([None, "Completed", "In Progress", "done"])),
                hold_ms=draw(st.one_of(st.none(), st.integers(-2, 5_000))),
            )
        )  # fmt: skip
    per_ms = PER_MS[unit] or 1
    subs = [draw(st.integers(0, per_ms - 1)) for _ in range(n)]
    return typed_table(
        rows,
        unit=unit,
        tz=draw(st.sampled_from([None, "UTC", "America/New_York"])),
        subs=subs,
        int_type=draw(st.sampled_from([pa.int64(), pa.int32()])),
        instants_as=draw(st.sampled_from(["timestamp", "timestamp", "int64"])),
    )


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(typed_tables())
def test_any_typed_file_has_the_outcome_of_its_text_twin(table: pa.Table):
    with tempfile.TemporaryDirectory() as tmp:
        assert_same_as_text(Path(tmp), table)


# --- DuckDB's own Parquet reader against pyarrow's stream --------------------------------------


class StreamedParquet(ParquetSource):
    """The same file, its rows always streamed from pyarrow through Python."""

    def native_scan(self) -> None:
        return None


def staged(source: ParquetSource) -> list[tuple]:
    """Every row staging makes of a file, typed, with its line and reasons."""
    con = duckdb.connect()
    report = IngestReport(path=source.path, format=source.format_name)
    staging.stage(
        con, source, report, skip_invalid=True, reject_path=None, reject_dir=source.path.parent
    )
    return con.execute("SELECT * FROM staged ORDER BY _line").fetchall()


def assert_native_as_streamed(path: Path) -> None:
    assert staged(ParquetSource(path)) == staged(StreamedParquet(path))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(typed_tables(), st.booleans())
def test_duckdb_reads_a_file_as_the_stream_does(table: pa.Table, as_text: bool):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "legs.parquet"
        pq.write_table(text_table(table) if as_text else table, path, row_group_size=3)
        assert_native_as_streamed(path)


def test_a_plain_file_is_read_by_duckdb(tmp_path: Path):
    path = tmp_path / "legs.parquet"
    table = typed_table([row(), row(call_id="c2", start_time=None)], unit="us")
    pq.write_table(table.drop_columns(["dnis", "cause"]), path)
    assert ParquetSource(path).native_scan() is not None
    assert_native_as_streamed(path)


@pytest.mark.parametrize("unit", ["ms", "us", "ns"])
@pytest.mark.parametrize("extreme", [2**63 - 1, -(2**63) + 1, -(2**63)])
def test_instants_duckdb_would_not_read_as_stored_go_through_the_stream(
    tmp_path: Path, unit: str, extreme: int
):
    """DuckDB reads the int64 extremes as infinities (nulls by epoch), and refuses a ms
    count past its microseconds: such a file is read by pyarrow, and what the rule refuses
    is named by row."""
    path = tmp_path / "legs.parquet"
    counts = [stamp(T, unit), extreme]
    table = typed_table([row(), row(call_id="c2")], unit=unit)
    table = table.set_column(
        COLUMN_NAMES.index("start_time"), "start_time", pa.array(counts, pa.timestamp(unit))
    )
    pq.write_table(table, path)
    assert ParquetSource(path).native_scan() is None
    assert_native_as_streamed(path)
    if unit == "ns":
        return  # every int64 of ns is within the rule's bounds
    with (
        DuckDBStore(tmp_path / "s" / "legs.duckdb") as store,
        pytest.raises(IngestRejected) as refused,
    ):
        store.ingest(open_source(path))
    assert [(e.where, e.reason) for e in refused.value.errors] == [
        (f"{path}: row 2", "start_time must be epoch milliseconds or ISO-8601 with an offset")
    ]


def test_a_column_of_another_type_goes_through_the_stream(tmp_path: Path):
    path = tmp_path / "legs.parquet"
    table = typed_table([row()])
    table = table.set_column(
        COLUMN_NAMES.index("hold_ms"), "hold_ms", pa.array([1.5], pa.float64())
    )
    pq.write_table(table, path)
    assert ParquetSource(path).native_scan() is None


def test_a_name_duckdb_would_read_as_a_pattern_goes_through_the_stream(tmp_path: Path):
    """``x[1].parquet`` is, to read_parquet, a pattern matching ``x1.parquet``."""
    pq.write_table(
        typed_table([row(call_id="neighbour"), row(call_id="n2")]), tmp_path / "x1.parquet"
    )
    path = tmp_path / "x[1].parquet"
    pq.write_table(typed_table([row(call_id="own")]), path)
    assert ParquetSource(path).native_scan() is None
    with DuckDBStore(tmp_path / "s" / "legs.duckdb") as store:
        assert store.ingest(open_source(path)).legs_stored == 1
        assert store.con.execute("SELECT call_id FROM legs").fetchall() == [("own",)]


@pytest.mark.parametrize("folder", ["pbx_id=beta", "leg_id=7", "status=Missed", "start_time=5"])
def test_a_folder_named_like_a_column_does_not_override_the_file(tmp_path: Path, folder: str):
    """DuckDB would read ``pbx_id=beta/`` as a partition and put beta in every row."""
    path = tmp_path / folder / "legs.parquet"
    path.parent.mkdir()
    pq.write_table(typed_table([row(), row(call_id="c2", leg_id=2)]), path)
    assert ParquetSource(path).native_scan() is not None
    assert_native_as_streamed(path)
    with DuckDBStore(tmp_path / "s" / "legs.duckdb") as store:
        store.ingest(open_source(path))
        stored = store.con.execute("SELECT pbx_id, leg_id, status FROM legs ORDER BY 2").fetchall()
    assert stored == [("acme", 1, "Completed"), ("acme", 2, "Completed")]


def test_a_column_named_like_duckdbs_row_number_goes_through_the_stream(tmp_path: Path):
    path = tmp_path / "legs.parquet"
    table = typed_table([row()]).append_column("File_Row_Number", pa.array([99]))
    pq.write_table(table, path)
    source = open_source(path, ignore_unknown=True)
    assert source.native_scan() is None
    with DuckDBStore(tmp_path / "s" / "legs.duckdb") as store:
        assert store.ingest(source).legs_stored == 1


def test_duckdb_reads_report_progress_to_the_end(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(staging, "PROGRESS_EVERY_S", 0.0005)
    path = tmp_path / "legs.parquet"  # a million rows: enough to take DuckDB a moment
    one = typed_table([row()])
    with pq.ParquetWriter(path, one.schema) as writer:
        for _ in range(10):
            writer.write_table(one.take(np.zeros(100_000, dtype=np.int64)))
    seen: list[tuple[int, int]] = []
    source = open_source(path, on_progress=lambda done, total: seen.append((done, total)))
    assert source.native_scan() is not None
    # Spilling rather than growing this process: a later test bounds its children's peak
    # memory, and a child forked from a big process counts the parent's pages too.
    con = duckdb.connect(config={"memory_limit": "256MB"})
    con.execute(f"SET temp_directory = '{tmp_path / 'tmp'}'")
    report = IngestReport(path=path, format=source.format_name)
    staging.stage(con, source, report, skip_invalid=False, reject_path=None, reject_dir=tmp_path)
    assert report.rows_read == 1_000_000
    assert seen[-1] == (1000, 1000)
    assert any(0 < done < 1000 for done, _total in seen)  # on the way, not only at the end
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


# --- the validator's guard around trim() --------------------------------------------------


def test_blank_to_null_is_nullif_trim_for_every_character():
    """Every code point alone, at either end and inside: the guarded expression that spares
    trim() where it cannot change a value gives what NULLIF(trim(x), '') gives."""
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE chars AS SELECT chr(cp::INTEGER) AS c FROM range(1, 1114112) t(cp) "
        "WHERE cp < 55296 OR cp > 57343"
    )
    shapes = ["c", "c || 'a'", "'a' || c", "c || 'a' || c", "c || c", "'a' || c || 'b'"]
    for shape in shapes:
        mismatches = con.execute(
            f"SELECT count(*) FROM (SELECT {shape} AS x FROM chars) "
            f"WHERE {_blank_to_null('x')} IS DISTINCT FROM NULLIF(trim(x), '')"
        ).fetchone()[0]
        assert mismatches == 0, shape
    for x in [None, "", " ", "  ", "\t", " a", "a ", "a", "a b", "\u00a0", "é", " é ", "\u3000x"]:
        got, want = con.execute(
            f"SELECT {_blank_to_null('$x::VARCHAR')}, NULLIF(trim($x::VARCHAR), '')", {"x": x}
        ).fetchone()
        assert got == want, repr(x)
