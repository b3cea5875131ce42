"""The ``workanalytics`` command, driven through click's runner (and once as a process)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from workanalytics.cli import main
from workanalytics.legs import COLUMN_NAMES
from workanalytics.metrics import FIELDS, V1_FIELDS
from workanalytics.settings import DATA_DIR_ENV
from workanalytics.store import DuckDBStore
from workanalytics.timewindow import resolve_window

from conftest import Leg, write_directory_csv, write_legs_csv

T = 1_772_370_000_000  # 2026-03-01T13:00:00Z, 08:00 in New York
HOUR = 3_600_000
NOW = "2026-06-01T00:00:00Z"
WINDOW = ["--start", "2026-03-01 00:00:00", "--end", "2026-03-01 23:59:59",
          "--tz", "America/New_York", "--now", NOW]  # fmt: skip

#: Inside the New York day of 1 March 2026 (05:00Z .. 05:00Z next day), except where noted.
LEGS = [
    Leg(call_id="a1", start_time=T, connect_time=T + 1_000, end_time=T + 61_000,
        callee="1001", callee_ext="1001"),
    Leg(call_id="a2", start_time=T + HOUR, end_time=T + HOUR + 9_000,
        callee="1001", callee_ext="1001", abandoned=True),
    Leg(call_id="a3", start_time=T + 2 * HOUR, end_time=T + 2 * HOUR + 20_000,
        callee="1001", callee_ext="1001", voicemail=True),
    Leg(call_id="a4", start_time=T, connect_time=T + 500, end_time=T + 30_500,
        caller="1002", caller_ext="1002", callee="+15550001111", callee_ext=None),
    Leg(call_id="early", start_time=T - 9 * HOUR, end_time=T - 9 * HOUR + 5_000,
        callee="1001", callee_ext="1001"),  # 04:00Z: the previous New York day
    Leg(pbx_id="beta", call_id="b1", start_time=T, connect_time=T + 2_000, end_time=T + 12_000,
        callee="7", callee_ext="7"),
]  # fmt: skip


def run(args: list[str], env: dict[str, str] | None = None):
    result = CliRunner(env={"COLUMNS": "400", **(env or {})}).invoke(main, args)
    # never a traceback: any exception but SystemExit is a bug
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A data dir holding LEGS and a directory row, filled through the CLI."""
    d = tmp_path / "data"
    assert run(["--data-dir", str(d), "init"]).exit_code == 0
    legs = write_legs_csv(tmp_path / "legs.csv", LEGS)
    assert run(["--data-dir", str(d), "ingest", str(legs)]).exit_code == 0
    dir_csv = write_directory_csv(
        tmp_path / "dir.csv",
        [{"pbx_id": "acme", "extension": "1001", "first_name": "Ada", "last_name": "Lovelace",
          "email": "ada@x", "username": "ada"}],
    )  # fmt: skip
    assert run(["--data-dir", str(d), "directory", "import", str(dir_csv)]).exit_code == 0
    return d


def extsum(data: Path, *extra: str, pbx: str = "acme", window=WINDOW):
    return run(["--data-dir", str(data), "extsum", "--pbx", pbx, *window, *extra])


def library_json(data: Path, pbx_ids: list[str], version: int = 2) -> bytes:
    now = datetime.fromisoformat(NOW)
    window = resolve_window(
        "2026-03-01 00:00:00", "2026-03-01 23:59:59", "America/New_York", clock=lambda: now
    )
    with DuckDBStore(data / "legs.duckdb") as store:
        return store.extension_summary(pbx_ids, window, version=version).to_json()


# --- init, directory, ingest ---------------------------------------------------------------


def test_init_creates_the_store_and_is_safe_to_repeat(tmp_path: Path):
    d = tmp_path / "new" / "dir"
    for _ in range(2):
        result = run(["--data-dir", str(d), "init"])
        assert result.exit_code == 0
        assert str(d) in result.stdout
    assert (d / "legs.duckdb").is_file()
    with DuckDBStore(d / "legs.duckdb") as store:
        assert store.leg_count() == 0
    # The control plane with its default customer, and one signing key, owner-only.
    assert (d / "control.sqlite").stat().st_mode & 0o777 == 0o600
    keys = list((d / "keys").glob("*.pem"))
    assert len(keys) == 1 and keys[0].stat().st_mode & 0o777 == 0o600
    assert d.stat().st_mode & 0o777 == 0o700
    from workanalytics.control.plane import ControlPlane

    assert ControlPlane.for_data_dir(d).customer("default").name == "default"


def test_data_dir_from_the_environment(tmp_path: Path):
    d = tmp_path / "envdir"
    legs = write_legs_csv(tmp_path / "legs.csv", LEGS)
    env = {DATA_DIR_ENV: str(d)}
    assert run(["init"], env).exit_code == 0
    assert run(["ingest", str(legs)], env).exit_code == 0
    with DuckDBStore(d / "legs.duckdb") as store:
        assert store.leg_count() == len(LEGS)
    # --data-dir wins over the environment
    other = tmp_path / "flag"
    assert run(["--data-dir", str(other), "init"], env).exit_code == 0
    assert (other / "legs.duckdb").is_file()


def test_directory_import(data: Path, tmp_path: Path):
    with DuckDBStore(data / "legs.duckdb") as store:
        rows = store.con.execute(
            "SELECT first_name, last_name FROM directory WHERE extension = '1001'"
        ).fetchall()
    assert rows == [("Ada", "Lovelace")]


def test_ingest_prints_a_table_and_json(tmp_path: Path):
    d = tmp_path / "data"
    legs = write_legs_csv(tmp_path / "legs.csv", LEGS)
    result = run(["--data-dir", str(d), "ingest", str(legs)])
    assert result.exit_code == 0
    assert "legs.csv" in result.stdout and str(len(LEGS)) in result.stdout
    result = run(["--data-dir", str(d), "ingest", str(legs), "--output-format", "json"])
    assert result.exit_code == 0
    [report] = json.loads(result.stdout)
    assert report["file"] == str(legs)
    assert (report["rows"], report["stored"], report["replaced"]) == (len(LEGS),) * 3
    assert report["rejected"] == 0 and report["format"] == "csv"


def test_ingest_format_overrides_the_name(tmp_path: Path):
    d = tmp_path / "data"
    legs = write_legs_csv(tmp_path / "legs.txt", LEGS)
    result = run(["--data-dir", str(d), "ingest", str(legs)])
    assert result.exit_code == 1
    assert "--format" in result.stderr
    result = run(["--data-dir", str(d), "ingest", "--format", "csv", str(legs),
                  "--output-format", "csv"])  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["format"], r["stored"]) for r in rows] == [("csv", str(len(LEGS)))]
    result = run(["--data-dir", str(d), "ingest", "--format", "xml", str(legs)])
    assert result.exit_code == 1
    assert "unknown format 'xml'" in result.stderr


def _bad_file(tmp_path: Path) -> Path:
    path = tmp_path / "bad.csv"
    lines = [",".join(COLUMN_NAMES)]
    for i, leg in enumerate(LEGS):
        cells = ["" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
                 for v in leg.row().values()]  # fmt: skip
        if i in (1, 3):
            cells[COLUMN_NAMES.index("leg_id")] = "0"
        lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_ingest_bad_file_exits_1_with_one_line_per_problem(tmp_path: Path):
    d = tmp_path / "data"
    bad = _bad_file(tmp_path)
    good = write_legs_csv(tmp_path / "good.csv", [Leg(call_id="z")])
    result = run(["--data-dir", str(d), "ingest", str(bad), str(good)])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"error: {bad}: rejected, nothing stored: 2 bad row(s)")
    assert lines[1] == f"{bad}:3: leg_id must be >= 1"
    assert lines[2] == f"{bad}:5: leg_id must be >= 1"
    assert "good.csv" in result.stdout  # the good file after it is still ingested
    with DuckDBStore(d / "legs.duckdb") as store:
        assert store.con.execute("SELECT call_id FROM legs").fetchall() == [("z",)]


def test_ingest_unreadable_file_exits_1_without_traceback(tmp_path: Path):
    d = tmp_path / "data"
    short = tmp_path / "short.csv"
    short.write_text("pbx_id,call_id,leg_id,start_time,end_time,caller,callee\nacme,c1,1,0\n")
    for path in (short, tmp_path / "absent.csv"):
        result = run(["--data-dir", str(d), "ingest", str(path)])
        assert result.exit_code == 1
        assert result.stderr.startswith(f"error: {path}: ")
    with DuckDBStore(d / "legs.duckdb") as store:
        assert store.leg_count() == 0


def test_ingest_skip_invalid_with_reject_file(tmp_path: Path):
    d = tmp_path / "data"
    bad = _bad_file(tmp_path)
    reject = tmp_path / "rejects.csv"
    result = run(["--data-dir", str(d), "ingest", str(bad), "--skip-invalid",
                  "--reject-file", str(reject), "--output-format", "json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    [report] = json.loads(result.stdout)
    assert (report["stored"], report["rejected"], report["reject_file"]) == (
        len(LEGS) - 2,
        2,
        str(reject),
    )
    with open(reject, newline="") as fh:
        assert [r["line"] for r in csv.DictReader(fh)] == ["3", "5"]


def test_ingest_as_a_process_keeps_stdout_clean(tmp_path: Path):
    """The installed entry point, for real: JSON alone on stdout, errors on stderr."""
    exe = Path(sys.executable).with_name("workanalytics")
    d = tmp_path / "data"
    bad = _bad_file(tmp_path)
    good = write_legs_csv(tmp_path / "good.csv", LEGS)
    proc = subprocess.run(
        [str(exe), "--data-dir", str(d), "ingest", str(good), str(bad), "--output-format", "json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1
    assert [r["file"] for r in json.loads(proc.stdout)] == [str(good)]
    assert "Traceback" not in proc.stderr and "Warning" not in proc.stderr
    assert proc.stderr.splitlines()[1] == f"{bad}:3: leg_id must be >= 1"


# --- extsum ------------------------------------------------------------------------------


def test_extsum_json_is_the_api_body(data: Path):
    result = extsum(data, "--format", "json")
    assert result.exit_code == 0, result.output
    assert result.stdout.encode() == library_json(data, ["acme"]) + b"\n"
    rows = json.loads(result.stdout)
    assert isinstance(rows, list)
    assert all(list(r) == [f.name for f in FIELDS] for r in rows)
    # the values follow from LEGS: 1001 got a1 (answered), a2 (abandoned), a3 (voicemail);
    # "early" is the day before in New York; 1002 called out once, answered
    by_ext = {r["Extension"]: r for r in rows}
    assert sorted(by_ext) == ["1001", "1002"]
    r = by_ext["1001"]
    assert (r["Inbound_Total"], r["Inbound_Answered"], r["Inbound_Abandoned"]) == (3, 1, 1)
    assert r["Total_Calls_To_VM"] == 1
    assert r["Total_Talk_Time"] == 60_000
    assert (r["FirstName"], r["Email"], r["UserName"]) == ("Ada", "ada@x", "ada")
    r = by_ext["1002"]
    assert (r["Outbound_Total"], r["Outbound_Answered"], r["Total_Talk_Time"]) == (1, 1, 30_000)
    assert (r["FirstName"], r["ServiceType"]) == ("", "UE")


def test_extsum_v1_drops_the_v2_fields(data: Path):
    result = extsum(data, "--format", "json", "--v1")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    names = [f.name for f in FIELDS]
    v1 = [n for n in names if n not in ("Inbound_Talk_Time", "Outbound_Talk_Time")]
    assert [f.name for f in V1_FIELDS] == v1
    assert rows and all(list(r) == v1 for r in rows)
    assert result.stdout.encode() == library_json(data, ["acme"], version=1) + b"\n"


def test_extsum_csv_parses_back_to_the_same_values(data: Path):
    as_json = json.loads(extsum(data, "--format", "json").stdout)
    result = extsum(data, "--format", "csv")
    assert result.exit_code == 0
    got = list(csv.reader(io.StringIO(result.stdout)))
    assert got[0] == [f.name for f in FIELDS]
    assert got[1:] == [[str(v) for v in r.values()] for r in as_json]


def test_extsum_table_prints(data: Path):
    result = extsum(data, "--format", "table")
    assert result.exit_code == 0
    for text in ("Extension Summary", "1001", "1002", "Ada", "Lovelace", "Inbound_Total"):
        assert text in result.stdout
    all_cols = extsum(data, "--columns", "Extension,Email")
    assert "ada@x" in all_cols.stdout and "Inbound_Total" not in all_cols.stdout
    bad = extsum(data, "--columns", "Nope")
    assert bad.exit_code == 2 and "Nope" in bad.stderr


def test_extsum_pbx_lists(data: Path):
    every = json.loads(extsum(data, "--format", "json", pbx="allpbxes").stdout)
    listed = extsum(data, "--format", "json", pbx=" beta , acme,acme ,beta")
    assert listed.exit_code == 0
    assert json.loads(listed.stdout) == every
    assert [(r["PbxId"], r["Extension"]) for r in every] == [
        ("acme", "1001"),
        ("acme", "1002"),
        ("beta", "7"),
    ]
    only_beta = json.loads(extsum(data, "--format", "json", pbx="beta").stdout)
    assert [r["Extension"] for r in only_beta] == ["7"]


def test_extsum_unknown_pbx(data: Path):
    result = extsum(data, "--format", "json", pbx="acme,nope")
    assert result.exit_code == 1
    assert "unknown PBX 'nope'" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("option", "value", "named"),
    [
        ("--start", "2026-03-01", "--start"),
        ("--start", "2026-03-01T00:00:00", "--start"),
        ("--end", "2026-02-30 00:00:00", "--end"),
        ("--end", "2026-02-28 23:59:59", "--end"),  # before --start
        ("--tz", "Mars/Olympus", "--tz"),
        ("--tz", "", "--tz"),
        ("--now", "2026-06-01T00:00:00", "--now"),  # no offset
        ("--now", "yesterday", "--now"),
    ],
)
def test_extsum_bad_parameters_exit_2_naming_the_option(data, option, value, named):
    window = list(WINDOW)
    window[window.index(option) + 1] = value
    result = extsum(data, "--format", "json", window=window)
    assert result.exit_code == 2
    assert named in result.stderr
    assert result.stdout == ""


def test_extsum_empty_pbx_is_a_usage_error(data: Path):
    result = extsum(data, pbx=" , ")
    assert result.exit_code == 2 and "--pbx" in result.stderr


def test_extsum_retention_follows_now(data: Path):
    older = ["--start", "2024-02-01 00:00:00", "--end", "2024-03-01 23:59:59",
             "--tz", "UTC", "--now", NOW]  # fmt: skip
    # legs exist in that window ...
    write_legs_csv(data.parent / "old.csv", [Leg(call_id="o", start_time=1_707_000_000_000,
                                                end_time=1_707_000_001_000)])  # fmt: skip
    assert run(["--data-dir", str(data), "ingest", str(data.parent / "old.csv")]).exit_code == 0
    result = extsum(data, "--format", "json", window=older)
    assert result.exit_code == 0
    assert result.stdout == "[]\n"  # ... but it ends more than 2 years before --now
    earlier_now = [*older[:-1], "2025-06-01T00:00:00+02:00"]
    rows = json.loads(extsum(data, "--format", "json", window=earlier_now).stdout)
    assert [r["Inbound_Total"] for r in rows] == [1]


def test_extsum_without_a_store_is_a_clear_error(tmp_path: Path):
    result = extsum(tmp_path / "nothing", "--format", "json")
    assert result.exit_code == 1
    assert "init" in result.stderr


def test_the_store_never_draws_progress_bars(tmp_path: Path):
    """DuckDB draws a progress bar on stdout for a query over 2 s when it believes it runs
    interactively (``python -c``, a REPL), which would corrupt ``--format json`` output.
    Checked in such a process, where DuckDB's own default is to draw it; also after an
    ingest that followed DuckDB's progress through a Parquet file."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    leg = Leg.of(
        pbx_id="acme", call_id="c1", start=1_772_370_000_000, ring=0, talk=0, answered=False
    )
    legs = write_legs_csv(tmp_path / "legs.csv", [leg])
    as_text = pacsv.ConvertOptions(column_types=dict.fromkeys(COLUMN_NAMES, pa.string()))
    pq.write_table(pacsv.read_csv(legs, convert_options=as_text), tmp_path / "legs.parquet")
    script = (
        "import sys; from pathlib import Path; from workanalytics.store import DuckDBStore\n"
        "from workanalytics.ingest import open_source\n"
        "for ro in (False, True):\n"
        "    with DuckDBStore(Path(sys.argv[1]), read_only=ro) as s:\n"
        "        if not ro:\n"
        "            s.ingest(open_source(Path(sys.argv[2]), on_progress=lambda d, t: None))\n"
        "        q = \"SELECT current_setting('enable_progress_bar')\"\n"
        "        print(s.con.execute(q).fetchone()[0])\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "legs.duckdb"), str(tmp_path / "legs.parquet")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "False"]
