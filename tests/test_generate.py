"""The synthetic company generator: deterministic, canonical, realistic enough to test on.

Every check reads the written files back with DuckDB (vectorised), the way ingest will, so
a leg that ingest would reject, or a scenario the reports need but the data lacks, fails here.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from workanalytics.generate import (
    DEFAULT_CALLS_PER_USER,
    DIRECTORY_COLUMNS,
    PBX_TIME_ZONES,
    GenerateResult,
    generate_company,
)
from workanalytics.legs import (
    COLUMN_NAMES,
    LINE_COLUMN,
    REASON_COLUMN,
    SOURCE_ERROR_COLUMN,
    validated_select,
)

EXTENSIONS = 40
DAYS = 14
# A Tuesday; the 14 days include the US spring-forward (Sunday 8 March 2026).
END = dt.date(2026, 3, 10)
SEED = 7


@dataclass(frozen=True)
class Generated:
    results: dict[str, GenerateResult]

    @property
    def parquet(self) -> GenerateResult:
        return self.results[".parquet"]


@pytest.fixture(scope="module")
def gen(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    results = {}
    for suffix in (".parquet", ".csv", ".jsonl"):
        out = tmp_path_factory.mktemp("gen") / f"legs{suffix}"
        results[suffix] = generate_company(
            extensions=EXTENSIONS, days=DAYS, end=END, seed=SEED, out=out
        )
    return Generated(results)


@pytest.fixture(scope="module")
def con(gen: Generated) -> duckdb.DuckDBPyConnection:
    """Parquet legs as ``legs`` (instants as epoch ms, plus local time), directory as ``dir``."""
    c = duckdb.connect()
    tz_rows = ", ".join(f"('{p}', '{tz}')" for p, tz in PBX_TIME_ZONES.items())
    c.execute(f"CREATE TABLE tz(pbx_id VARCHAR, tz VARCHAR); INSERT INTO tz VALUES {tz_rows}")
    c.execute(
        f"""
        CREATE TABLE legs AS
        SELECT l.* REPLACE (epoch_ms(start_time) AS start_time,
                            epoch_ms(connect_time) AS connect_time,
                            epoch_ms(end_time) AS end_time),
               timezone(tz.tz, l.start_time) AS local_start
        FROM read_parquet('{gen.parquet.legs_path}') l JOIN tz USING (pbx_id)
        """
    )
    c.execute(
        f"CREATE TABLE dir AS SELECT * FROM read_csv('{gen.parquet.directory_path}', "
        "all_varchar = true, header = true)"
    )
    return c


def scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    assert row is not None
    return row[0]


# --- determinism ------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path, suffix: str) -> None:
    def run(name: str, seed: int) -> GenerateResult:
        return generate_company(
            extensions=12, days=5, end=END, seed=seed, out=tmp_path / name / f"legs{suffix}"
        )

    a, b, c = run("a", 3), run("b", 3), run("c", 4)
    assert a.legs_path.read_bytes() == b.legs_path.read_bytes()
    assert a.directory_path.read_bytes() == b.directory_path.read_bytes()
    assert a.legs_path.read_bytes() != c.legs_path.read_bytes()
    assert a.directory_path.read_bytes() != c.directory_path.read_bytes()


# --- formats ----------------------------------------------------------------------------


def test_every_format_has_every_canonical_column_in_order(gen: Generated) -> None:
    schema = pq.read_schema(gen.parquet.legs_path)
    assert tuple(schema.names) == COLUMN_NAMES
    for name in ("start_time", "connect_time", "end_time"):
        assert schema.field(name).type == pa.timestamp("ms", tz="UTC")
    with gen.results[".csv"].legs_path.open() as f:
        assert tuple(next(csv.reader(f))) == COLUMN_NAMES
    with gen.results[".jsonl"].legs_path.open() as f:
        first = json.loads(f.readline())
    assert tuple(first) == COLUMN_NAMES
    assert first["start_time"].endswith("Z") and "T" in first["start_time"]


def _canonical_rows(con: duckdb.DuckDBPyConnection, relation: str, text: bool) -> list[tuple]:
    """Legs of any format as comparable Python values (instants as epoch ms)."""

    def instant(c: str) -> str:
        if text:
            return f"epoch_ms(CAST(NULLIF({c}, '') AS TIMESTAMPTZ))"
        return f"epoch_ms({c})"

    def boolean(c: str) -> str:
        return f"CAST({c} AS BOOLEAN)"

    def integer(c: str) -> str:
        return f"CAST({c} AS BIGINT)"

    converters = {
        "start_time": instant,
        "connect_time": instant,
        "end_time": instant,
        "abandoned": boolean,
        "voicemail": boolean,
        "leg_id": integer,
        "hold_ms": integer,
    }
    cols = ", ".join(
        converters[c](f'"{c}"') if c in converters else f"NULLIF(CAST(\"{c}\" AS VARCHAR), '')"
        for c in COLUMN_NAMES
    )
    return con.execute(f"SELECT {cols} FROM {relation}").fetchall()


def test_three_formats_hold_the_same_legs(gen: Generated) -> None:
    c = duckdb.connect()
    res = gen.results
    parquet = _canonical_rows(c, f"read_parquet('{res['.parquet'].legs_path}')", text=False)
    csv_rows = _canonical_rows(
        c, f"read_csv('{res['.csv'].legs_path}', all_varchar = true, header = true)", text=True
    )
    types = "{" + ", ".join(f"'{n}': 'VARCHAR'" for n in COLUMN_NAMES) + "}"
    jsonl = _canonical_rows(
        c,
        f"read_json('{res['.jsonl'].legs_path}', format = 'newline_delimited', columns = {types})",
        text=True,
    )
    assert len(parquet) == gen.parquet.legs > 1000
    assert csv_rows == parquet
    assert jsonl == parquet
    assert {r.legs for r in res.values()} == {gen.parquet.legs}
    assert res[".csv"].directory_path.read_bytes() == res[".parquet"].directory_path.read_bytes()


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_text_formats_pass_the_canonical_validator(gen: Generated, suffix: str) -> None:
    path = gen.results[suffix].legs_path
    c = duckdb.connect()
    if suffix == ".csv":
        src = f"read_csv('{path}', all_varchar = true, header = true)"
    else:
        types = "{" + ", ".join(f"'{n}': 'VARCHAR'" for n in COLUMN_NAMES) + "}"
        src = f"read_json('{path}', format = 'newline_delimited', columns = {types})"
    c.execute(
        f"CREATE VIEW raw AS SELECT *, row_number() OVER () AS {LINE_COLUMN}, "
        f"NULL::VARCHAR AS {SOURCE_ERROR_COLUMN} FROM {src}"
    )
    bad = c.execute(
        f"SELECT {LINE_COLUMN}, {REASON_COLUMN} FROM ({validated_select('raw')}) "
        f"WHERE {REASON_COLUMN} IS NOT NULL LIMIT 5"
    ).fetchall()
    assert bad == []


def test_unknown_suffix_is_refused_naming_it_and_the_accepted_ones(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.xlsx.*\.parquet.*\.csv.*\.jsonl"):
        generate_company(extensions=4, days=1, end=END, out=tmp_path / "legs.xlsx")
    assert list(tmp_path.iterdir()) == []


def test_result_counts_match_the_files(gen: Generated, con: duckdb.DuckDBPyConnection) -> None:
    r = gen.parquet
    assert r.legs == scalar(con, "SELECT count(*) FROM legs")
    assert r.calls == scalar(con, "SELECT count(DISTINCT (pbx_id, call_id)) FROM legs")
    assert r.extensions == scalar(con, "SELECT count(*) FROM dir")
    assert r.directory_path == r.legs_path.with_name("legs.directory.csv")
    assert set(r.pbx_ids) == {
        row[0] for row in con.execute("SELECT DISTINCT pbx_id FROM legs").fetchall()
    }


# --- canonical rules ----------------------------------------------------------------------


def test_every_leg_obeys_the_canonical_rules(con: duckdb.DuckDBPyConnection) -> None:
    rules = {
        "start after end": "start_time > end_time",
        "connect outside the leg": "connect_time < start_time OR connect_time > end_time",
        "answered and abandoned": "connect_time IS NOT NULL AND abandoned",
        "answered and voicemail": "connect_time IS NOT NULL AND voicemail",
        "abandoned and voicemail": "abandoned AND voicemail",
        "self call": "caller_ext = callee_ext",
        "hold outside talk": "hold_ms < 0 OR hold_ms > coalesce(end_time - connect_time, 0)",
        "missing required": "pbx_id IS NULL OR call_id IS NULL OR leg_id IS NULL "
        "OR start_time IS NULL OR end_time IS NULL OR caller IS NULL OR callee IS NULL",
        "bad status": "status NOT IN ('Completed', 'In Progress')",
        "ext and party disagree": "(caller_ext IS NOT NULL AND caller <> caller_ext) "
        "OR (callee_ext IS NOT NULL AND callee <> callee_ext)",
        "outside party not E.164": "(caller_ext IS NULL AND NOT regexp_full_match(caller, '\\+[1-9][0-9]{7,14}')) "
        "OR (callee_ext IS NULL AND NOT regexp_full_match(callee, '\\+[1-9][0-9]{7,14}'))",
    }
    broken = {
        name: n
        for name, cond in rules.items()
        if (n := scalar(con, f"SELECT count(*) FROM legs WHERE {cond}"))
    }
    assert broken == {}


def test_identities_are_unique_and_leg_ids_run_1_to_n(con: duckdb.DuckDBPyConnection) -> None:
    assert scalar(con, "SELECT count(*) - count(DISTINCT (pbx_id, call_id, leg_id)) FROM legs") == 0
    assert (
        scalar(
            con,
            "SELECT count(*) FROM (SELECT pbx_id, call_id, min(leg_id) lo, max(leg_id) hi, count(*) n "
            "FROM legs GROUP BY ALL) WHERE lo <> 1 OR hi <> n",
        )
        == 0
    )
    # A call lives on one PBX only, and call ids are unique over the whole file.
    assert (
        scalar(
            con,
            "SELECT count(*) FROM (SELECT call_id FROM legs GROUP BY call_id "
            "HAVING count(DISTINCT pbx_id) > 1)",
        )
        == 0
    )


def test_every_extension_in_the_legs_is_in_the_directory(con: duckdb.DuckDBPyConnection) -> None:
    missing = con.execute(
        "SELECT DISTINCT pbx_id, ext FROM (SELECT pbx_id, caller_ext ext FROM legs "
        "UNION ALL SELECT pbx_id, callee_ext FROM legs) WHERE ext IS NOT NULL "
        "AND (pbx_id, ext) NOT IN (SELECT (pbx_id, extension) FROM dir)"
    ).fetchall()
    assert missing == []


def test_directory_shape(gen: Generated, con: duckdb.DuckDBPyConnection) -> None:
    with gen.parquet.directory_path.open() as f:
        assert tuple(next(csv.reader(f))) == DIRECTORY_COLUMNS
    types = {t for (t,) in con.execute("SELECT DISTINCT service_type FROM dir").fetchall()}
    assert {"UE", "RG", "CQ", "AA"} <= types <= {"UE", "RG", "CQ", "AA", "VM"}
    assert scalar(con, "SELECT count(*) FROM dir WHERE service_type = 'UE'") == EXTENSIONS
    assert scalar(con, "SELECT count(*) - count(DISTINCT (pbx_id, extension)) FROM dir") == 0
    assert (
        scalar(con, "SELECT count(*) FROM dir WHERE NOT regexp_full_match(extension, '[0-9]+')")
        == 0
    )
    # Users: real-looking names, unique emails and usernames; services: a name, no login.
    assert (
        scalar(
            con,
            "SELECT count(*) FROM dir WHERE service_type = 'UE' AND NOT ("
            "regexp_full_match(first_name, '[A-Z][a-z]+') AND last_name <> '' "
            "AND regexp_full_match(email, '[a-z]+\\.[a-z]+[0-9]*@[a-z.]+') AND username <> '')",
        )
        == 0
    )
    assert (
        scalar(con, "SELECT count(*) - count(DISTINCT email) FROM dir WHERE service_type = 'UE'")
        == 0
    )
    assert (
        scalar(con, "SELECT count(*) - count(DISTINCT username) FROM dir WHERE service_type = 'UE'")
        == 0
    )
    assert (
        scalar(
            con,
            "SELECT count(*) FROM dir WHERE service_type IN ('RG', 'CQ', 'AA') AND NOT ("
            "first_name LIKE '% %' AND email IS NULL AND username IS NULL)",
        )
        == 0
    )
    assert scalar(con, "SELECT count(*) FROM dir WHERE first_name = 'Sales Ring Group'") >= 1
    # 99 and 100 on one PBX: sorting extensions as text would be wrong.
    assert (
        scalar(
            con, "SELECT count(*) FROM dir WHERE pbx_id = 'acme-ktm' AND extension IN ('99', '100')"
        )
        == 2
    )


def test_pbxs_span_time_zones_including_half_and_quarter_hours(gen: Generated) -> None:
    zones = {PBX_TIME_ZONES[p] for p in gen.parquet.pbx_ids}
    assert len(zones) >= 3
    offsets = {dt.datetime(2026, 1, 15, 12, tzinfo=ZoneInfo(z)).utcoffset() for z in zones}
    minutes = {int(o.total_seconds() // 60) % 60 for o in offsets if o is not None}
    assert {0, 30, 45} <= minutes


# --- scenarios ----------------------------------------------------------------------------


def test_ring_all_calls_fan_out_and_at_most_one_member_answers(
    con: duckdb.DuckDBPyConnection,
) -> None:
    con.execute(
        "CREATE OR REPLACE TEMP VIEW fanout AS SELECT pbx_id, call_id, start_time, count(*) n, "
        "count(DISTINCT callee_ext) members, count(connect_time) answered, "
        "count(DISTINCT end_time) FILTER (WHERE connect_time IS NULL) unanswered_ends, "
        "min(end_time) FILTER (WHERE connect_time IS NULL) unanswered_end, "
        "min(connect_time) connect FROM legs GROUP BY ALL HAVING count(*) >= 2"
    )
    assert scalar(con, "SELECT count(*) FROM fanout WHERE members = n AND answered = 1") >= 5
    assert scalar(con, "SELECT count(*) FROM fanout WHERE answered = 0") >= 1
    assert scalar(con, "SELECT count(*) FROM fanout WHERE answered > 1 OR members < n") == 0
    # The phones that lost stop ringing together, when the winner picks up.
    assert (
        scalar(
            con,
            "SELECT count(*) FROM fanout WHERE unanswered_ends > 1 "
            "OR (answered = 1 AND unanswered_end <> connect)",
        )
        == 0
    )


def test_linear_groups_ring_members_one_after_another(con: duckdb.DuckDBPyConnection) -> None:
    # Consecutive legs of one call where the next one starts when the previous stops ringing.
    hunts = scalar(
        con,
        "SELECT count(*) FROM (SELECT *, lead(start_time) OVER w next_start, "
        "lead(callee_ext) OVER w next_ext FROM legs "
        "WINDOW w AS (PARTITION BY pbx_id, call_id ORDER BY leg_id)) "
        "WHERE connect_time IS NULL AND NOT abandoned AND cause = 'Ring No Answer' "
        "AND next_start = end_time AND next_ext <> callee_ext "
        "AND end_time - start_time BETWEEN 15000 AND 20000",
    )
    assert hunts >= 5


def test_queue_legs_are_service_legs_then_an_agent_answers(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "CREATE OR REPLACE TEMP VIEW q AS SELECT l.*, lead(connect_time) OVER w next_connect "
        "FROM legs l WINDOW w AS (PARTITION BY pbx_id, call_id ORDER BY leg_id)"
    )
    queue_legs = (
        "FROM q JOIN dir d ON (q.pbx_id, q.callee_ext) = (d.pbx_id, d.extension) "
        "WHERE d.service_type = 'CQ'"
    )
    assert scalar(con, f"SELECT count(*) {queue_legs}") >= 10
    assert scalar(con, f"SELECT count(*) {queue_legs} AND connect_time IS NOT NULL") == 0
    assert scalar(con, f"SELECT count(*) {queue_legs} AND abandoned") >= 1
    assert scalar(con, f"SELECT count(*) {queue_legs} AND next_connect = end_time") >= 5
    # Auto attendants and voicemail are services too: never answered by a person.
    assert (
        scalar(
            con,
            "SELECT count(*) FROM legs l JOIN dir d ON (l.pbx_id, l.callee_ext) = "
            "(d.pbx_id, d.extension) WHERE d.service_type <> 'UE' AND l.connect_time IS NOT NULL",
        )
        == 0
    )


def test_outcomes_and_call_kinds_all_occur(con: duckdb.DuckDBPyConnection) -> None:
    kinds = {
        "voicemail": "voicemail AND connect_time IS NULL",
        "abandoned inbound": "abandoned AND caller_ext IS NULL AND callee_ext IS NOT NULL",
        "external answered": "caller_ext IS NULL AND connect_time IS NOT NULL AND dnis IS NOT NULL",
        "internal answered": "caller_ext IS NOT NULL AND callee_ext IS NOT NULL "
        "AND connect_time IS NOT NULL",
        "internal missed": "caller_ext IS NOT NULL AND callee_ext IS NOT NULL "
        "AND connect_time IS NULL",
        "outbound answered": "caller_ext IS NOT NULL AND callee_ext IS NULL "
        "AND callee LIKE '+%' AND connect_time IS NOT NULL",
        "outbound unanswered": "caller_ext IS NOT NULL AND callee_ext IS NULL "
        "AND callee LIKE '+%' AND connect_time IS NULL",
        "held": "hold_ms > 0",
        "ring no answer": "cause = 'Ring No Answer'",
    }
    counts = {k: scalar(con, f"SELECT count(*) FROM legs WHERE {w}") for k, w in kinds.items()}
    assert min(counts.values()) >= 3, counts
    # Inbound external legs carry the dialled number; internal and outbound ones do not.
    assert (
        scalar(con, "SELECT count(*) FROM legs WHERE caller_ext IS NOT NULL AND dnis IS NOT NULL")
        == 0
    )
    assert scalar(con, "SELECT count(*) FROM legs WHERE caller_ext IS NULL AND dnis IS NULL") == 0


def test_transfers_continue_the_call_from_the_answering_extension(
    con: duckdb.DuckDBPyConnection,
) -> None:
    con.execute(
        "CREATE OR REPLACE TEMP VIEW t AS SELECT l.*, p.callee_ext prev_callee, "
        "p.connect_time prev_connect, p.end_time prev_end FROM legs l "
        "LEFT JOIN legs p ON (p.pbx_id, p.call_id, p.leg_id) = (l.pbx_id, l.call_id, l.leg_id - 1) "
        "WHERE l.cause = 'Transfer'"
    )
    assert scalar(con, "SELECT count(*) FROM t") >= 3
    assert (
        scalar(
            con,
            "SELECT count(*) FROM t WHERE prev_connect IS NULL OR caller_ext IS DISTINCT FROM prev_callee "
            "OR callee_ext IS NULL OR start_time <> prev_end",
        )
        == 0
    )


def test_in_progress_legs_are_few_and_at_the_end(con: duckdb.DuckDBPyConnection) -> None:
    n = scalar(con, "SELECT count(*) FROM legs WHERE status = 'In Progress'")
    assert 1 <= n <= 0.02 * scalar(con, "SELECT count(*) FROM legs")
    # In progress legs belong to calls of the last local day of their PBX, whole calls at a time.
    assert (
        scalar(
            con,
            f"SELECT count(*) FROM legs WHERE status = 'In Progress' "
            f"AND CAST(local_start AS DATE) < DATE '{END}'",
        )
        == 0
    )
    assert (
        scalar(
            con,
            "SELECT count(*) FROM (SELECT pbx_id, call_id FROM legs GROUP BY ALL "
            "HAVING count(DISTINCT status) > 1)",
        )
        == 0
    )


# --- time -----------------------------------------------------------------------------


def test_legs_cover_the_requested_local_days(con: duckdb.DuckDBPyConnection) -> None:
    # A call starts on one of the local days; its later legs may run past midnight.
    lo, hi = con.execute(
        "SELECT min(CAST(local_start AS DATE)), max(CAST(local_start AS DATE)) FROM legs "
        "WHERE leg_id = 1"
    ).fetchone() or (None, None)
    assert lo == END - dt.timedelta(days=DAYS - 1)
    assert hi == END
    # Every PBX has legs on every weekday of the range.
    assert (
        scalar(
            con,
            "SELECT min(n_days) FROM (SELECT pbx_id, count(DISTINCT CAST(local_start AS DATE)) AS n_days "
            "FROM legs WHERE dayofweek(local_start) BETWEEN 1 AND 5 GROUP BY pbx_id)",
        )
        == 10
    )


def test_business_hours_dominate_in_local_time(con: duckdb.DuckDBPyConnection) -> None:
    # Legs per hour of clock time in each kind of period, over all PBXs.
    rates = dict(
        con.execute(
            """
            SELECT kind, count(*) / any_value(n_hours) FROM (
              SELECT CASE
                WHEN dayofweek(local_start) IN (0, 6) THEN 'weekend'
                WHEN hour(local_start) BETWEEN 9 AND 16 THEN 'business'
                WHEN hour(local_start) >= 21 OR hour(local_start) < 6 THEN 'night'
                ELSE 'shoulder' END kind,
              CASE kind WHEN 'weekend' THEN 4 * 24 WHEN 'business' THEN 10 * 8
                        WHEN 'night' THEN 10 * 9 ELSE 10 * 7 END AS n_hours
              FROM legs WHERE leg_id = 1)
            GROUP BY kind
            """
        ).fetchall()
    )
    assert rates["business"] > 8 * rates["night"]
    assert rates["business"] > 5 * rates["weekend"]


def test_local_hours_do_not_shift_across_daylight_saving(tmp_path: Path) -> None:
    # New York springs forward on Sunday 8 March 2026: the weekdays before and after must
    # have the same local rhythm. Converting with one fixed offset would move it by an hour.
    r = generate_company(
        extensions=400, days=12, end=dt.date(2026, 3, 13), seed=1, out=tmp_path / "l.parquet"
    )
    c = duckdb.connect()
    rows = c.execute(
        f"""
        SELECT pbx_id, CAST(local_start AS DATE) >= DATE '2026-03-08' after,
               avg(hour(local_start) + minute(local_start) / 60) mean_hour, count(*) n
        FROM (SELECT pbx_id, timezone('America/New_York', start_time) local_start
              FROM read_parquet('{r.legs_path}') WHERE pbx_id = 'acme-nyc' AND leg_id = 1)
        WHERE dayofweek(local_start) BETWEEN 1 AND 5 GROUP BY ALL ORDER BY after
        """
    ).fetchall()
    (_, _, before, n_before), (_, _, after, n_after) = rows
    assert min(n_before, n_after) > 1500
    assert abs(after - before) < 0.4


def test_end_defaults_to_today_in_utc(tmp_path: Path) -> None:
    r = generate_company(extensions=6, days=2, seed=2, out=tmp_path / "l.parquet")
    today = dt.datetime.now(dt.UTC).date()
    lo, hi = duckdb.connect().execute(
        f"SELECT min(start_time), max(start_time) FROM read_parquet('{r.legs_path}')"
    ).fetchone() or (None, None)
    assert lo is not None and hi is not None
    # Local days of the PBXs lie within a day either side of the UTC dates.
    assert today - dt.timedelta(days=2) <= lo.date() and hi.date() <= today + dt.timedelta(days=1)
    assert hi.date() >= today - dt.timedelta(days=1)


# --- volume and progress --------------------------------------------------------------------


def test_volume_is_about_seven_and_a_half_legs_per_user_per_weekday(gen: Generated) -> None:
    # 10 weekdays and 4 weekend days (at 10 % and 5 % volume) in the range.
    weekday_equivalents = 10 * 1.0 + 2 * (0.10 + 0.05)
    per_user_weekday = gen.parquet.legs / EXTENSIONS / weekday_equivalents
    assert 6.0 < per_user_weekday < 9.0
    assert 1.7 < gen.parquet.legs / gen.parquet.calls < 2.4


def test_calls_per_user_scales_the_volume(tmp_path: Path) -> None:
    def legs(rate: float) -> int:
        return generate_company(
            extensions=20,
            days=7,
            end=END,
            seed=5,
            out=tmp_path / f"{rate}.parquet",
            calls_per_user=rate,
        ).legs

    assert 1.6 < legs(2 * DEFAULT_CALLS_PER_USER) / legs(DEFAULT_CALLS_PER_USER) < 2.4


def test_progress_bar_goes_to_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    generate_company(extensions=4, days=2, end=END, out=tmp_path / "l.csv", progress=True)
    captured = capsys.readouterr()
    assert "generating legs" in captured.err
    assert captured.out == ""
