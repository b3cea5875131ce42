"""Ingest of the canonical formats: CSV, JSON Lines and Parquet (call-legs.md).

Every expectation is derived from the legs written here, never from what the code answered.
"""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from workanalytics.directory import COLUMNS as DIRECTORY_COLUMNS
from workanalytics.directory import read_directory_csv
from workanalytics.ingest import SourceError, detect_format, open_source
from workanalytics.ingest import sources as sources_module
from workanalytics.ingest.run import ingest_paths
from workanalytics.legs import COLUMN_NAMES, COLUMNS
from workanalytics.store import DuckDBStore, IngestRejected
from workanalytics.timewindow import UtcWindow

from conftest import Leg, StoreHelper, write_directory_csv, write_legs_csv

T = 1_772_370_000_000  # 2026-03-01T13:00:00Z
INSTANTS = ("start_time", "connect_time", "end_time")
ORDER = "pbx_id, call_id, leg_id"


# --- legs and writers -------------------------------------------------------------------


def sample_legs() -> list[Leg]:
    """Legs that use every column, every kind of value and two PBXs."""
    return [
        Leg(
            call_id="c1", leg_id=1, start_time=T, connect_time=T + 2_000, end_time=T + 60_000,
            caller="+15551230001", callee="1001", callee_ext="1001",
            caller_name='Ann O\'Neil, "Q"', callee_name="Zoë 山田", hold_ms=1_500,
            cause="Normal", dnis="+18005550100", sip_call_id="abc@host;tag=1",
        ),
        Leg(
            call_id="c1", leg_id=2, start_time=T + 60_000, end_time=T + 90_000,
            caller="1001", callee="1002", caller_ext="1001", callee_ext="1002",
            voicemail=True, cause="Ring No Answer", parent_call_id="c0", transfer_to_call_id="c9",
        ),
        Leg(
            call_id="c2", leg_id=1, start_time=T + 123, end_time=T + 5_123,
            callee="1003", callee_ext="1003", abandoned=True,
        ),
        Leg(
            pbx_id="beta.pbx-2_X", call_id="c3", leg_id=3, start_time=T + 7, connect_time=T + 7,
            end_time=T + 999_999, caller="2001", callee="+445550001", caller_ext="2001",
            callee_ext=None, status="In Progress",
        ),
        Leg(
            call_id="c4", leg_id=12, start_time=T - 86_400_000, end_time=T - 86_400_000,
            caller="1001", callee="+15559990000", caller_ext="1001", callee_ext=None,
        ),
    ]  # fmt: skip


def expected_rows(legs: list[Leg]) -> list[tuple]:
    """What the store must hold for these legs: the canonical columns, sorted by identity."""
    rows = [tuple(leg.row()[c] for c in COLUMN_NAMES) for leg in legs]
    return sorted(rows, key=lambda r: (r[0], r[1], r[2]))


def cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def cells(leg: Leg) -> dict[str, str]:
    return {c: cell(v) for c, v in leg.row().items()}


def write_cells_csv(path: Path, rows: list[dict[str, str]], columns=COLUMN_NAMES) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for r in rows:
            writer.writerow([r.get(c, "") for c in columns])
    return path


def write_jsonl(path: Path, objects: list[dict], newline: str = "\n") -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        for obj in objects:
            fh.write(json.dumps(obj, ensure_ascii=False) + newline)
    return path


def json_objects(legs: list[Leg], *, drop_nulls: bool = False) -> list[dict]:
    """Legs as JSON objects with native types: numbers, booleans and null."""
    objs = []
    for leg in legs:
        obj = dict(leg.row())
        if drop_nulls:
            obj = {k: v for k, v in obj.items() if v is not None}
        objs.append(obj)
    return objs


def write_parquet(path: Path, legs: list[Leg], instants: str = "timestamp") -> Path:
    """``instants``: "timestamp" (timestamp[ms, UTC]) or "int64" (epoch ms)."""
    rows = [leg.row() for leg in legs]
    arrays = {}
    for col in COLUMNS:
        values = [r[col.name] for r in rows]
        if col.kind == "instant":
            typ = pa.timestamp("ms", tz="UTC") if instants == "timestamp" else pa.int64()
            arrays[col.name] = pa.array(values, typ)
        elif col.kind == "int":
            arrays[col.name] = pa.array(values, pa.int64())
        elif col.kind == "bool":
            arrays[col.name] = pa.array(values, pa.bool_())
        else:
            arrays[col.name] = pa.array(values, pa.string())
    pq.write_table(pa.table(arrays), path)
    return path


def iso(ms: int, offset: str, sub_ms: str = "") -> str:
    """``ms`` as ISO-8601 in the offset ``Z``, ``+05:45`` or ``-05:00``, plus sub-ms digits."""
    if offset == "Z":
        tz = UTC
    else:
        sign = 1 if offset[0] == "+" else -1
        tz = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])))
    dt = datetime.fromtimestamp(ms // 1000, tz)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}{sub_ms}{offset}"


def stored(store: DuckDBStore) -> list[tuple]:
    return store.con.execute(f"SELECT * FROM legs ORDER BY {ORDER}").fetchall()


def snapshot(store: DuckDBStore) -> tuple:
    """Everything an ingest may touch."""
    return (
        stored(store),
        store.con.execute("SELECT * EXCLUDE (imported) FROM directory ORDER BY ALL").fetchall(),
        store.con.execute("SELECT * FROM pbxes ORDER BY ALL").fetchall(),
    )


def ingest(store: DuckDBStore, path: Path, fmt: str | None = None, **kw):
    return store.ingest(
        open_source(path, fmt, ignore_unknown=kw.pop("ignore_unknown", False)), **kw
    )


@pytest.fixture
def filled(store_helper: StoreHelper) -> StoreHelper:
    """A store that already holds legs and directory rows, so "unchanged" means something."""
    store_helper.add(
        [
            Leg(pbx_id="old", call_id="k1", leg_id=1, callee_ext="500"),
            Leg(pbx_id="acme", call_id="c1", leg_id=1, callee="999", callee_ext="999"),
        ]
    )
    store_helper.add_directory(
        [{"pbx_id": "acme", "extension": "1001", "first_name": "Ada", "last_name": "Lovelace"}]
    )
    return store_helper


# --- every format stores the same rows -----------------------------------------------


def _write_format(tmp_path: Path, kind: str, legs: list[Leg]) -> Path:
    if kind == "csv":
        return write_legs_csv(tmp_path / "legs.csv", legs)
    if kind == "jsonl":
        return write_jsonl(tmp_path / "legs.jsonl", json_objects(legs))
    if kind == "jsonl-sparse":
        return write_jsonl(tmp_path / "legs.ndjson", json_objects(legs, drop_nulls=True))
    if kind == "parquet-timestamp":
        return write_parquet(tmp_path / "legs.parquet", legs, "timestamp")
    if kind == "parquet-int64":
        return write_parquet(tmp_path / "legs.parquet", legs, "int64")
    raise AssertionError(kind)


FORMATS = ("csv", "jsonl", "jsonl-sparse", "parquet-timestamp", "parquet-int64")


@pytest.mark.parametrize("kind", FORMATS)
def test_every_format_stores_the_legs_exactly(tmp_path: Path, kind: str):
    legs = sample_legs()
    path = _write_format(tmp_path, kind, legs)
    with DuckDBStore(tmp_path / "store" / "legs.duckdb") as store:
        report = ingest(store, path)
        assert stored(store) == expected_rows(legs)
        assert report.rows_read == report.legs_stored == len(legs)
        assert report.legs_replaced == 0 and report.rejected == 0
        assert report.pbx_ids == sorted({leg.pbx_id for leg in legs})
        assert [
            r[0] for r in store.con.execute("SELECT pbx_id FROM pbxes ORDER BY 1").fetchall()
        ] == (sorted({leg.pbx_id for leg in legs}))


def test_all_formats_give_identical_tables(tmp_path: Path):
    legs = sample_legs()
    tables = {}
    for kind in FORMATS:
        d = tmp_path / kind
        d.mkdir()
        path = _write_format(d, kind, legs)
        with DuckDBStore(d / "legs.duckdb") as store:
            ingest(store, path)
            tables[kind] = snapshot(store)
    first = tables["csv"]
    for kind, snap in tables.items():
        assert snap == first, kind


def test_iso_offsets_and_epoch_ms_land_on_the_same_utc_ms(tmp_path: Path):
    """The same instants written as epoch ms and as ISO in three offsets, with sub-ms digits
    that must be floored (``.123999`` is 123 ms, never rounded up to 124)."""
    legs = sample_legs()
    offsets = ("-05:00", "+05:45", "Z")
    sub = ("", "999", "4", "999999")  # 0, 3, 1 and 6 extra digits (9 fractional digits)
    rows = []
    for i, leg in enumerate(legs):
        r = cells(leg)
        for j, name in enumerate(INSTANTS):
            value = leg.row()[name]
            if value is not None:
                r[name] = iso(value, offsets[(i + j) % 3], sub[(i + j) % len(sub)])
        rows.append(r)
    # the space separator and the offset without a colon are ISO too
    rows[0]["end_time"] = (
        iso(legs[0].end_time, "+05:45").replace("T", " ").replace("+05:45", "+0545")
    )
    csv_path = write_cells_csv(tmp_path / "iso.csv", rows)
    jsonl_path = write_jsonl(tmp_path / "iso.jsonl", rows)
    for path in (csv_path, jsonl_path):
        with DuckDBStore(tmp_path / f"{path.suffix}.duckdb") as store:
            ingest(store, path)
            assert stored(store) == expected_rows(legs), path


def test_iso_helper_is_what_it_claims():
    # the test's own helper, checked against the standard library
    assert iso(T + 123, "Z") == "2026-03-01T13:00:00.123Z"
    assert iso(T, "-05:00") == "2026-03-01T08:00:00.000-05:00"
    assert datetime.fromisoformat(iso(T + 45, "+05:45")).timestamp() * 1000 == T + 45


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_parquet_timestamps_of_any_unit_are_floored_to_ms(tmp_path: Path, unit: str):
    per_ms = {"s": None, "ms": 1, "us": 1_000, "ns": 1_000_000}[unit]
    legs = [Leg(call_id=f"c{i}", start_time=T + i * 1_000 + (0 if unit == "s" else 999),
                end_time=T + 100_000) for i in range(3)]  # fmt: skip
    if per_ms is None:
        starts = [leg.start_time // 1000 for leg in legs]
    else:  # sub-millisecond digits on top of the ms: must be floored away
        starts = [leg.start_time * per_ms + (per_ms - 1) for leg in legs]
    table = pa.table(
        {
            "pbx_id": ["acme"] * 3,
            "call_id": [leg.call_id for leg in legs],
            "leg_id": [1, 1, 1],
            "start_time": pa.array(starts, pa.timestamp(unit, tz="UTC")),
            "end_time": pa.array([leg.end_time for leg in legs], pa.timestamp("ms", tz="UTC")),
            "caller": ["a"] * 3,
            "callee": ["1001"] * 3,
            "callee_ext": ["1001"] * 3,
        }
    )
    path = tmp_path / "units.parquet"
    pq.write_table(table, path)
    with DuckDBStore(tmp_path / "s.duckdb") as store:
        ingest(store, path)
        got = store.con.execute("SELECT start_time FROM legs ORDER BY call_id").fetchall()
    assert [g[0] for g in got] == [leg.start_time for leg in legs]


# --- format detection ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("a.csv", "csv"), ("A.CSV", "csv"), ("a.jsonl", "jsonl"), ("a.ndjson", "jsonl"),
     ("x.y.parquet", "parquet"), ("a.json", "8x8-json")],
)  # fmt: skip
def test_format_detected_from_the_suffix(name: str, fmt: str):
    assert detect_format(Path(name)) == fmt


def test_unknown_suffix_is_a_clear_error(tmp_path: Path):
    path = write_legs_csv(tmp_path / "legs.txt", sample_legs())
    with pytest.raises(SourceError) as err:
        open_source(path)
    assert str(path) in str(err.value)
    assert "--format" in str(err.value)


def test_format_override_reads_any_name(tmp_path: Path):
    legs = sample_legs()
    csv_txt = write_legs_csv(tmp_path / "legs.txt", legs)
    jsonl_dat = write_jsonl(tmp_path / "legs.csv", json_objects(legs))  # lies about itself
    for path, fmt in ((csv_txt, "csv"), (jsonl_dat, "jsonl")):
        with DuckDBStore(tmp_path / f"{fmt}.duckdb") as store:
            report = ingest(store, path, fmt)
            assert report.format == fmt
            assert stored(store) == expected_rows(legs)


def test_unknown_format_name_and_missing_file(tmp_path: Path):
    path = write_legs_csv(tmp_path / "legs.csv", sample_legs())
    with pytest.raises(SourceError, match="unknown format 'xml'"):
        open_source(path, "xml")
    with pytest.raises(SourceError, match="no such file"):
        open_source(tmp_path / "absent.csv")


def test_a_file_that_is_not_what_it_claims_is_refused_whole(filled: StoreHelper, tmp_path: Path):
    before = snapshot(filled.store)
    fake = tmp_path / "legs.parquet"
    fake.write_text("pbx_id,call_id\nacme,c1\n")
    with pytest.raises(SourceError, match="Parquet"):
        ingest(filled.store, fake)
    assert snapshot(filled.store) == before


# --- leg rules: each one rejects the file with file:line and reason ------------------------

GOOD = Leg(call_id="g", leg_id=1)


def _bad(**changes: str) -> dict[str, str]:
    row = cells(replace(GOOD, call_id="bad"))
    row.update(changes)
    return row


RULES = [
    *[(_bad(**{c.name: ""}), f"{c.name} is required") for c in COLUMNS if c.required],
    *[(_bad(**{c.name: "   "}), f"{c.name} is required") for c in COLUMNS if c.required],
    (_bad(start_time="2026-03-01T13:00:00"), "start_time must be epoch milliseconds or ISO-8601"),
    (_bad(end_time="2026-03-01 13:00:10.5"), "end_time must be epoch milliseconds or ISO-8601"),
    (_bad(connect_time="soon"), "connect_time must be epoch milliseconds or ISO-8601"),
    (_bad(start_time="2026-02-30T13:00:00Z"), "start_time must be epoch milliseconds or ISO-8601"),
    (_bad(abandoned="maybe"), "abandoned must be true/false/1/0/yes/no"),
    (_bad(voicemail="2"), "voicemail must be true/false/1/0/yes/no"),
    (_bad(status="Done"), "status must be 'Completed' or 'In Progress'"),
    (_bad(status="completed"), "status must be 'Completed' or 'In Progress'"),
    (_bad(leg_id="0"), "leg_id must be >= 1"),
    (_bad(leg_id="-1"), "leg_id must be a whole number"),
    (_bad(leg_id="1.5"), "leg_id must be a whole number"),
    (_bad(hold_ms="-5"), "hold_ms must be a whole number >= 0"),
    (_bad(start_time=str(T + 1), end_time=str(T)), "start_time is after end_time"),
    (_bad(connect_time=str(T - 1)), "connect_time is before start_time"),
    (_bad(connect_time=str(GOOD.end_time + 1)), "connect_time is after end_time"),
    (_bad(connect_time=str(T + 1), abandoned="true"), "an answered leg cannot be abandoned"),
    (_bad(connect_time=str(T + 1), voicemail="yes"), "an answered leg cannot go to voicemail"),
    (_bad(abandoned="1", voicemail="1"), "abandoned and voicemail exclude each other"),
    (_bad(pbx_id="ac me"), "pbx_id must be 1-64 characters"),
    (_bad(pbx_id="acme!"), "pbx_id must be 1-64 characters"),
    (_bad(pbx_id="a/b"), "pbx_id must be 1-64 characters"),
    (_bad(pbx_id="x" * 65), "pbx_id must be 1-64 characters"),
]


@pytest.mark.parametrize(("row", "reason"), RULES, ids=[r for _, r in RULES])
def test_each_leg_rule_rejects_the_file_with_line_and_reason(
    filled: StoreHelper, tmp_path: Path, row: dict[str, str], reason: str
):
    before = snapshot(filled.store)
    good = [cells(replace(GOOD, call_id=f"g{i}", callee_ext=f"77{i}")) for i in range(4)]
    path = write_cells_csv(tmp_path / "one_bad.csv", [*good[:3], row, good[3]])  # bad on line 5
    with pytest.raises(IngestRejected) as err:
        ingest(filled.store, path)
    assert err.value.total == 1
    [error] = err.value.errors
    assert error.where == f"{path}:5"
    assert reason in error.reason
    assert f"{path}:5: " in str(err.value)
    # nothing of the file, not even the new extensions 770..773, was stored
    assert snapshot(filled.store) == before


def test_rules_are_the_same_in_every_format(tmp_path: Path):
    """The same bad legs in JSONL and Parquet are rejected for the same reasons."""
    bad = [
        Leg(call_id="a", start_time=T + 1, end_time=T),
        Leg(call_id="b", connect_time=T + 1, abandoned=True),
        Leg(call_id="c", abandoned=True, voicemail=True),
        Leg(call_id="d", leg_id=0),
        Leg(call_id="e", pbx_id="bad pbx"),
    ]
    legs = [Leg(call_id="ok"), *bad]
    reasons = [
        "start_time is after end_time",
        "an answered leg cannot be abandoned",
        "abandoned and voicemail exclude each other",
        "leg_id must be >= 1",
        "pbx_id must be 1-64 characters",
    ]
    cases = [
        (write_legs_csv(tmp_path / "r.csv", legs), [f"{tmp_path / 'r.csv'}:{i}" for i in range(3, 8)]),
        (write_jsonl(tmp_path / "r.jsonl", json_objects(legs)),
         [f"{tmp_path / 'r.jsonl'}:{i}" for i in range(2, 7)]),
        (write_parquet(tmp_path / "r.parquet", legs),
         [f"{tmp_path / 'r.parquet'}: row {i}" for i in range(2, 7)]),
    ]  # fmt: skip
    for path, wheres in cases:
        with DuckDBStore(tmp_path / f"{path.suffix}.duckdb") as store:
            with pytest.raises(IngestRejected) as err:
                ingest(store, path)
            assert [e.where for e in err.value.errors] == wheres
            for e, reason in zip(err.value.errors, reasons, strict=True):
                assert reason in e.reason
            assert store.leg_count() == 0


def test_a_row_breaking_several_rules_names_them_all(tmp_path: Path, store_helper: StoreHelper):
    path = write_cells_csv(tmp_path / "multi.csv", [_bad(leg_id="0", status="x", caller="")])
    with pytest.raises(IngestRejected) as err:
        ingest(store_helper.store, path)
    reason = err.value.errors[0].reason
    for part in ("leg_id must be >= 1", "status must be", "caller is required"):
        assert part in reason


def test_line_numbers_are_the_files_lines(tmp_path: Path, store_helper: StoreHelper):
    """Blank lines count: they are skipped, and the lines after them keep their number."""
    good = cells(GOOD)
    header = ",".join(COLUMN_NAMES)

    def line(r: dict[str, str]) -> str:
        return ",".join(r[c] for c in COLUMN_NAMES)

    text = "\n".join(
        [header, line(good), "", line(_bad(leg_id="0")), "", "", line(_bad(status="x")), ""]
    )
    path = tmp_path / "blank.csv"
    path.write_text(text + "\n")
    with pytest.raises(IngestRejected) as err:
        ingest(store_helper.store, path)
    assert [e.where for e in err.value.errors] == [f"{path}:4", f"{path}:7"]
    assert err.value.total == 2


def test_line_numbers_stay_true_across_blocks(tmp_path: Path, store_helper, monkeypatch):
    """Tiny read blocks: line numbers and blank-line skipping across block boundaries."""
    monkeypatch.setattr(sources_module, "BLOCK_BYTES", 512)
    rows, bad_lines, lines = [], [], [",".join(COLUMN_NAMES)]
    for i in range(60):
        if i % 7 == 3:
            lines.append("")
        r = cells(replace(GOOD, call_id=f"g{i}"))
        if i % 11 == 5:
            r["leg_id"] = "0"
            bad_lines.append(len(lines) + 1)
        lines.append(",".join(r[c] for c in COLUMN_NAMES))
        rows.append(r)
    csv_path = tmp_path / "blocks.csv"
    csv_path.write_text("\r\n".join(lines) + "\r\n")
    jsonl_path = tmp_path / "blocks.jsonl"
    jsonl_path.write_text(
        "\r\n".join(json.dumps(cells_from_line(x)) if x else "" for x in lines[1:]) + "\r\n"
    )
    for path, offset in ((csv_path, 0), (jsonl_path, -1)):
        with pytest.raises(IngestRejected) as err:
            ingest(store_helper.store, path)
        assert [e.where for e in err.value.errors] == [f"{path}:{n + offset}" for n in bad_lines]
    assert store_helper.store.leg_count() == 0


def cells_from_line(text: str) -> dict[str, str]:
    return dict(zip(COLUMN_NAMES, next(csv.reader([text])), strict=True))


def test_more_than_100_bad_rows_lists_100_and_counts_the_rest(tmp_path: Path, store_helper):
    rows = [cells(GOOD)] + [_bad(call_id=f"b{i}", leg_id="0") for i in range(150)]
    path = write_cells_csv(tmp_path / "many.csv", rows)
    with pytest.raises(IngestRejected) as err:
        ingest(store_helper.store, path)
    assert err.value.total == 150
    assert [e.where for e in err.value.errors] == [f"{path}:{n}" for n in range(3, 103)]
    assert "... and 50 more" in str(err.value)
    assert store_helper.store.leg_count() == 0


# --- header problems -------------------------------------------------------------------


def test_missing_required_column(tmp_path: Path, store_helper: StoreHelper):
    cols = [c for c in COLUMN_NAMES if c not in ("caller", "end_time")]
    path = write_cells_csv(tmp_path / "m.csv", [cells(GOOD)], columns=cols)
    with pytest.raises(SourceError) as err:
        ingest(store_helper.store, path)
    assert "missing required column(s): caller, end_time" in str(err.value)
    # optional columns may be absent: they take their defaults
    path = write_cells_csv(
        tmp_path / "opt.csv", [cells(GOOD)], columns=[c.name for c in COLUMNS if c.required]
    )
    ingest(store_helper.store, path)
    assert stored(store_helper.store) == [
        tuple(replace(GOOD, callee_ext=None).row()[c] for c in COLUMN_NAMES)
    ]


def test_unknown_column_is_an_error_unless_ignored(tmp_path: Path, store_helper: StoreHelper):
    cols = [*COLUMN_NAMES[:5], "mood", *COLUMN_NAMES[5:]]
    rows = [{**cells(leg), "mood": "happy"} for leg in sample_legs()]
    path = write_cells_csv(tmp_path / "u.csv", rows, columns=cols)
    with pytest.raises(SourceError, match=r"unknown column.*mood"):
        ingest(store_helper.store, path)
    assert store_helper.store.leg_count() == 0
    ingest(store_helper.store, path, ignore_unknown=True)
    assert stored(store_helper.store) == expected_rows(sample_legs())


def test_duplicated_column_is_an_error(tmp_path: Path, store_helper: StoreHelper):
    cols = [*COLUMN_NAMES, "caller"]
    path = write_cells_csv(tmp_path / "d.csv", [cells(GOOD)], columns=cols)
    with pytest.raises(SourceError, match="named twice: caller"):
        ingest(store_helper.store, path)
    assert store_helper.store.leg_count() == 0


def test_parquet_header_problems(tmp_path: Path, store_helper: StoreHelper):
    legs = sample_legs()
    full = pq.read_table(write_parquet(tmp_path / "full.parquet", legs))
    pq.write_table(full.drop_columns(["callee"]), tmp_path / "missing.parquet")
    pq.write_table(full.append_column("mood", pa.array(["x"] * len(legs))), tmp_path / "u.parquet")
    with pytest.raises(SourceError, match=r"missing required column.*callee"):
        ingest(store_helper.store, tmp_path / "missing.parquet")
    with pytest.raises(SourceError, match=r"unknown column.*mood"):
        ingest(store_helper.store, tmp_path / "u.parquet")
    assert store_helper.store.leg_count() == 0
    ingest(store_helper.store, tmp_path / "u.parquet", ignore_unknown=True)
    assert stored(store_helper.store) == expected_rows(legs)


def test_empty_files(tmp_path: Path, store_helper: StoreHelper):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(SourceError, match="empty"):
        ingest(store_helper.store, empty)
    header_only = write_cells_csv(tmp_path / "h.csv", [])
    report = ingest(store_helper.store, header_only)
    assert report.rows_read == report.legs_stored == 0
    blank = tmp_path / "blank.jsonl"
    blank.write_text("\n\n")
    assert ingest(store_helper.store, blank).legs_stored == 0
    assert store_helper.store.leg_count() == 0


# --- identity: replay and corrections ---------------------------------------------------


@pytest.mark.parametrize("kind", FORMATS)
def test_replay_changes_nothing(tmp_path: Path, kind: str):
    legs = sample_legs()
    path = _write_format(tmp_path, kind, legs)
    with DuckDBStore(tmp_path / "s.duckdb") as store:
        ingest(store, path)
        first = snapshot(store)
        report = ingest(store, path)
        assert snapshot(store) == first
        assert report.legs_replaced == report.legs_stored == len(legs)
        assert report.new_extensions == 0


def test_replay_in_another_format_changes_nothing(tmp_path: Path):
    legs = sample_legs()
    with DuckDBStore(tmp_path / "s.duckdb") as store:
        ingest(store, _write_format(tmp_path, "csv", legs))
        first = snapshot(store)
        ingest(store, _write_format(tmp_path, "parquet-timestamp", legs))
        ingest(store, _write_format(tmp_path, "jsonl", legs))
        assert snapshot(store) == first


def test_a_corrected_leg_replaces_the_stored_one(tmp_path: Path, store_helper: StoreHelper):
    legs = sample_legs()
    store_helper.add(legs)
    fixed = replace(legs[2], abandoned=False, connect_time=legs[2].start_time + 10,
                    callee_name="Fixed", cause="Normal")  # fmt: skip
    report = store_helper.add([fixed])
    assert report.legs_replaced == 1 and report.legs_stored == 1
    assert stored(store_helper.store) == expected_rows([*legs[:2], fixed, *legs[3:]])
    # the report reads the corrected leg: answered now, no longer abandoned
    row = store_helper.row("1003")
    assert (row["Inbound_Answered"], row["Inbound_Abandoned"]) == (1, 0)


def test_within_one_file_the_last_row_of_an_identity_wins(tmp_path: Path, store_helper):
    first = Leg(call_id="dup", leg_id=4, callee_name="first")
    middle = replace(first, callee_name="middle", hold_ms=5)
    last = replace(first, callee_name="last", cause="Transfer")
    other = Leg(call_id="dup", leg_id=5)
    report = store_helper.add([first, middle, other, last])
    assert report.rows_read == 4
    assert report.legs_stored == 2
    assert stored(store_helper.store) == expected_rows([last, other])


def test_identity_is_pbx_call_and_leg(store_helper: StoreHelper):
    legs = [
        Leg(pbx_id=p, call_id=c, leg_id=n) for p in ("a", "b") for c in ("x", "y") for n in (1, 2)
    ]
    store_helper.add(legs)
    assert store_helper.store.leg_count() == 8


# --- --skip-invalid ----------------------------------------------------------------------


def test_skip_invalid_stores_good_rows_and_writes_the_bad_ones(tmp_path: Path, filled):
    good = [cells(replace(GOOD, call_id=f"g{i}", callee_ext=f"80{i}")) for i in range(4)]
    bad1 = _bad(call_id="b1", leg_id="0", caller_name='Quote "me", please')
    bad2 = _bad(call_id="b2", status="Gone", abandoned="true", voicemail="true")
    rows = [good[0], bad1, good[1], good[2], bad2, good[3]]
    path = write_cells_csv(tmp_path / "mixed.csv", rows)
    reject = tmp_path / "out" / "rejects.csv"
    before = stored(filled.store)
    report = ingest(filled.store, path, skip_invalid=True, reject_path=reject)
    assert (report.rows_read, report.legs_stored, report.rejected) == (6, 4, 2)
    assert report.reject_file == reject
    legs = [replace(GOOD, call_id=f"g{i}", callee_ext=f"80{i}") for i in range(4)]
    assert stored(filled.store) == sorted(before + expected_rows(legs), key=lambda r: r[:3])
    with open(reject, newline="") as fh:
        got = list(csv.DictReader(fh))
    assert [r["line"] for r in got] == ["3", "6"]
    assert "leg_id must be >= 1" in got[0]["reason"]
    assert "status must be" in got[1]["reason"]
    assert "abandoned and voicemail exclude each other" in got[1]["reason"]
    for r, original in zip(got, (bad1, bad2), strict=True):
        assert {c: r[c] for c in COLUMN_NAMES} == original


def test_skip_invalid_default_reject_file_is_in_the_data_dir(tmp_path: Path, store_helper):
    path = write_cells_csv(tmp_path / "x.csv", [cells(GOOD), _bad(leg_id="0")])
    report = ingest(store_helper.store, path, skip_invalid=True)
    assert report.reject_file is not None
    assert report.reject_file.parent == store_helper.store.path.parent / "rejects"
    assert report.reject_file.is_file()
    assert store_helper.store.leg_count() == 1


def test_skip_invalid_with_jsonl_source_errors(tmp_path: Path, store_helper: StoreHelper):
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps(cells(GOOD)) + "\n{not json\n[1, 2]\n")
    reject = tmp_path / "rej.csv"
    report = ingest(store_helper.store, path, skip_invalid=True, reject_path=reject)
    assert (report.legs_stored, report.rejected) == (1, 2)
    with open(reject, newline="") as fh:
        got = [(r["line"], r["reason"]) for r in csv.DictReader(fh)]
    assert got == [("2", "not valid JSON"), ("3", "expected a JSON object")]


# --- the directory kept up to date by ingest ---------------------------------------------


def _directory(store: DuckDBStore) -> list[tuple]:
    cols = ", ".join(DIRECTORY_COLUMNS)
    return store.con.execute(f"SELECT {cols} FROM directory ORDER BY ALL").fetchall()


def test_only_imported_directory_rows_are_known_extensions(store_helper: StoreHelper):
    store_helper.add([Leg(call_id="a", callee="2002", callee_ext="2002")])
    assert store_helper.store.directory_extensions().num_rows == 0  # seen in legs only
    store_helper.add_directory([{"pbx_id": "acme", "extension": "1001"}])
    store_helper.add_directory([{"pbx_id": "acme", "extension": "2002", "first_name": "Bo"}])
    known = store_helper.store.directory_extensions().to_pylist()
    assert sorted((r["pbx_id"], r["extension"]) for r in known) == [
        ("acme", "1001"),
        ("acme", "2002"),
    ]


def test_extensions_seen_in_legs_join_the_directory(store_helper: StoreHelper):
    legs = [
        Leg(call_id="a", caller="1001", caller_ext="1001", callee="+1555", callee_ext=None),
        Leg(call_id="b", caller="+1555", callee="2002", callee_ext="2002"),
        Leg(call_id="c", pbx_id="other", callee="2002", callee_ext="2002"),
    ]
    report = store_helper.add(legs)
    assert report.new_extensions == 3
    empty = ("UE", "", "", "", "", "", "")
    assert _directory(store_helper.store) == [
        ("acme", "1001", *empty),
        ("acme", "2002", *empty),
        ("other", "2002", *empty),
    ]
    row = store_helper.row("2002")
    assert (row["ServiceType"], row["FirstName"], row["LastName"]) == ("UE", "", "")
    assert store_helper.add(legs).new_extensions == 0


def _dir_row(ext: str, **kw: str) -> dict[str, str]:
    return {"pbx_id": "acme", "extension": ext, **kw}


def test_directory_import_before_ingest_keeps_its_names(store_helper: StoreHelper):
    store_helper.add_directory(
        [_dir_row("1001", first_name="Ada", last_name="Lovelace", service_type="RG",
                  branch="HQ", department="Ops", email="ada@x", username="ada")]
    )  # fmt: skip
    report = store_helper.add([Leg(callee_ext="1001"), Leg(call_id="c2", callee_ext="1002")])
    assert report.new_extensions == 1
    assert _directory(store_helper.store) == [
        ("acme", "1001", "RG", "Ada", "Lovelace", "HQ", "Ops", "ada@x", "ada"),
        ("acme", "1002", "UE", "", "", "", "", "", ""),
    ]
    row = store_helper.row("1001")
    assert (row["FirstName"], row["ServiceType"], row["Branch"]) == ("Ada", "RG", "HQ")


def test_directory_import_after_ingest_fills_names_and_reimport_replaces(store_helper):
    store_helper.add([Leg(callee_ext="1001")])
    store_helper.add_directory([_dir_row("1001", first_name="Ada", email="ada@x", username="a")])
    row = store_helper.row("1001")
    assert (row["FirstName"], row["Email"], row["UserName"]) == ("Ada", "ada@x", "a")
    store_helper.add_directory([_dir_row("1001", first_name="Grace", service_type="CQ")])
    assert _directory(store_helper.store) == [("acme", "1001", "CQ", "Grace", "", "", "", "", "")]
    # a replay of the legs does not wipe the names
    store_helper.add([Leg(callee_ext="1001")])
    assert store_helper.row("1001")["FirstName"] == "Grace"


def test_directory_csv_round_trip_via_conftest(tmp_path: Path, store_helper: StoreHelper):
    path = write_directory_csv(tmp_path / "d.csv", [_dir_row("7", first_name="Q")])
    assert store_helper.store.upsert_directory(read_directory_csv(path)) == 1
    assert store_helper.store.pbx_ids() == ["acme"]


def test_csv_words_a_reader_might_take_for_null_stay_text(store_helper):
    """Only an empty field is absent: a callee written NULL, or a caller named NA, is text."""
    words = ["NULL", "NA", "nan", "N/A", "null", "#N/A", "NaN", "n/a"]
    legs = [
        Leg(call_id=f"c{i}", callee=w, callee_ext=None, caller_name=w, dnis=w)
        for i, w in enumerate(words)
    ]
    helper = store_helper
    report = helper.add(legs)
    assert report.legs_stored == len(words)
    rows = helper.store.con.execute(
        "SELECT callee, caller_name, dnis, callee_ext FROM legs ORDER BY call_id"
    ).fetchall()
    assert sorted(rows) == sorted((w, w, w, None) for w in words)


def test_a_csv_record_longer_than_the_reader_s_blocks_is_read_in_bigger_ones(
    tmp_path, store_helper
):
    """A field of several MB straddles Arrow's blocks: the reader goes on in bigger blocks
    from that line, and the lines around it keep their numbers."""
    long_name = "x" * (3 * sources_module.CSV_BLOCK_BYTES)
    legs = [Leg(call_id=f"c{i}", caller_name="short") for i in range(3000)]
    legs[2000] = replace(legs[2000], caller_name=long_name)
    path = write_legs_csv(tmp_path / "long.csv", legs)
    lines = path.read_text().split("\n")
    lines.insert(1500, "")  # a blank line before it: line 1501, so leg i is on line i + 3 after it
    bad = _bad(leg_id="0")
    lines[-1:-1] = [",".join(bad[c] for c in COLUMN_NAMES)]
    path.write_text("\n".join(lines))
    with pytest.raises(IngestRejected) as err:
        ingest(store_helper.store, path)
    assert [e.where for e in err.value.errors] == [f"{path}:3003"]
    report = ingest(store_helper.store, path, skip_invalid=True)
    assert (report.legs_stored, report.rejected) == (3000, 1)
    (stored,) = store_helper.store.con.execute(
        "SELECT length(caller_name) FROM legs WHERE call_id = 'c2000'"
    ).fetchone()
    assert stored == len(long_name)


# --- JSON Lines specifics ----------------------------------------------------------------


def test_jsonl_blank_lines_are_skipped_but_lines_stay_true(tmp_path: Path, store_helper):
    ok = json.dumps(cells(GOOD))
    bad = json.dumps(_bad(leg_id="0"))
    path = tmp_path / "b.jsonl"
    path.write_text("\n".join(["", ok, "   ", "\t", bad, "", bad.replace('"bad"', '"bad2"')]))
    with pytest.raises(IngestRejected) as err:
        ingest(store_helper.store, path)
    assert [e.where for e in err.value.errors] == [f"{path}:5", f"{path}:7"]
    assert err.value.total == 2


def test_jsonl_unreadable_lines_are_reported_with_their_line(tmp_path: Path, filled):
    before = snapshot(filled.store)
    ok = json.dumps(cells(GOOD))
    path = tmp_path / "x.jsonl"
    path.write_text("\n".join([ok, "{not json", ok, "[1, 2]", "42", '"text"', "null", ok]) + "\n")
    with pytest.raises(IngestRejected) as err:
        ingest(filled.store, path)
    got = [(e.where, e.reason) for e in err.value.errors]
    assert got == [
        (f"{path}:2", "not valid JSON"),
        (f"{path}:4", "expected a JSON object"),
        (f"{path}:5", "expected a JSON object"),
        (f"{path}:6", "expected a JSON object"),
        (f"{path}:7", "expected a JSON object"),
    ]
    assert snapshot(filled.store) == before


def test_jsonl_unknown_keys(tmp_path: Path, store_helper: StoreHelper):
    path = write_jsonl(tmp_path / "u.jsonl", [cells(GOOD), {**cells(GOOD), "mood": 1, "x": None}])
    with pytest.raises(IngestRejected) as err:
        ingest(store_helper.store, path)
    [e] = err.value.errors
    assert e.where == f"{path}:2"
    assert "unknown key(s): mood, x" in e.reason
    ingest(store_helper.store, path, ignore_unknown=True)
    assert stored(store_helper.store) == expected_rows([GOOD])


def test_jsonl_native_json_types(tmp_path: Path, store_helper: StoreHelper):
    objs = [
        {"pbx_id": "acme", "call_id": "n", "leg_id": 2, "start_time": T, "connect_time": None,
         "end_time": T + 10, "caller": "+1", "callee": "1001", "callee_ext": "1001",
         "abandoned": True, "voicemail": False, "hold_ms": 0, "status": None, "cause": None},
        {"pbx_id": "acme", "call_id": "s", "leg_id": "3", "start_time": str(T),
         "connect_time": iso(T + 1, "Z"), "end_time": str(T + 10), "caller": "+1",
         "callee": "1001", "callee_ext": "1001", "abandoned": "no", "voicemail": 0, "hold_ms": 7},
    ]  # fmt: skip
    path = write_jsonl(tmp_path / "n.jsonl", objs)
    ingest(store_helper.store, path)
    assert stored(store_helper.store) == expected_rows(
        [
            Leg(call_id="n", leg_id=2, start_time=T, end_time=T + 10, caller="+1",
                abandoned=True),
            Leg(call_id="s", leg_id=3, start_time=T, connect_time=T + 1, end_time=T + 10,
                caller="+1", hold_ms=7),
        ]
    )  # fmt: skip


def test_jsonl_wrong_json_types_are_rejected(tmp_path: Path, store_helper: StoreHelper):
    objs = [
        {**cells(GOOD), "leg_id": 1.5},
        {**cells(GOOD), "call_id": "b", "start_time": float(T) + 0.5},
        {**cells(GOOD), "call_id": "c", "abandoned": [True]},
    ]
    path = write_jsonl(tmp_path / "t.jsonl", objs)
    with pytest.raises(IngestRejected) as err:
        ingest(store_helper.store, path)
    reasons = [e.reason for e in err.value.errors]
    assert "leg_id must be a whole number" in reasons[0]
    assert "start_time must be epoch milliseconds" in reasons[1]
    assert "abandoned must be true/false" in reasons[2]


# --- many files: each one atomic ---------------------------------------------------------


def test_ingest_paths_keeps_going_past_a_bad_file(tmp_path: Path, filled: StoreHelper):
    a = write_legs_csv(tmp_path / "a.csv", [Leg(call_id="a")])
    bad = write_cells_csv(tmp_path / "bad.csv", [cells(Leg(call_id="bb")), _bad(leg_id="0")])
    b = write_jsonl(tmp_path / "b.jsonl", json_objects([Leg(call_id="b")]))
    before = stored(filled.store)
    seen: set[Path] = set()
    outcome = ingest_paths(
        filled.store, [a, bad, b, tmp_path / "nope.csv"],
        on_progress=lambda p, done, total: seen.add(p),
    )  # fmt: skip
    assert not outcome.ok
    assert [r.path for r in outcome.reports] == [a, b]
    assert [p for p, _ in outcome.failures] == [bad, tmp_path / "nope.csv"]
    assert isinstance(outcome.failures[0][1], IngestRejected)
    assert isinstance(outcome.failures[1][1], SourceError)
    added = expected_rows([Leg(call_id="a"), Leg(call_id="b")])
    assert stored(filled.store) == sorted(before + added, key=lambda r: r[:3])
    assert {a, b} <= seen


def test_window_sees_the_stored_legs(store_helper: StoreHelper):
    """Ingested instants are UTC ms: a window [T, T+1) holds exactly the leg starting at T."""
    store_helper.add([Leg(call_id="in", start_time=T, end_time=T + 5),
                      Leg(call_id="out", start_time=T + 1, end_time=T + 5)])  # fmt: skip
    rows = store_helper.summary(window=UtcWindow(T, T + 1))
    assert [r["Inbound_Total"] for r in rows] == [1]


def test_ingest_runs_under_its_own_memory_limit_and_gives_it_back(tmp_path: Path):
    from workanalytics.ingest.sources import LegSource

    store = DuckDBStore(tmp_path / "s.duckdb", memory_limit="1GB", ingest_memory_limit="256MB")
    limit = "SELECT current_setting('memory_limit')"
    serving = store.con.execute(limit).fetchone()[0]
    seen = []

    class Watching(LegSource):
        """A CSV source that notes the limit in force while its rows are read."""

        def __init__(self, inner):
            self.__dict__.update(inner.__dict__)
            self._inner = inner

        def batches(self):
            seen.append(store.con.cursor().execute(limit).fetchone()[0])
            yield from self._inner.batches()

        def locate(self, line):
            return self._inner.locate(line)

    good = write_legs_csv(tmp_path / "good.csv", [Leg()])
    store.ingest(Watching(open_source(good)))
    assert seen and seen[0] != serving
    assert store.con.execute(limit).fetchone()[0] == serving
    bad = write_legs_csv(tmp_path / "bad.csv", [Leg(start_time="never")])
    with pytest.raises(IngestRejected):
        store.ingest(open_source(bad))
    assert store.con.execute(limit).fetchone()[0] == serving
    store.close()
