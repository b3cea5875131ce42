"""A small-scale run of the benchmark: every contender answers, and answers alike.

The benchmark runs once for the module (tiny data, a PostgreSQL baseline and a ClickHouse
store when this machine can start them, and a short load phase); the tests below read what it
wrote.
"""

from __future__ import annotations

import argparse
import hashlib
import re
from types import SimpleNamespace

import orjson
import pytest

from workanalytics import bench

from apiserver import EXTSUM_V2, KeySpec, UserSpec, start_api
from conftest import Leg, unavailable_server

LOAD_BATCHES, LOAD_BATCH_LEGS = 2, 40
#: Small, so the ClickHouse store is handed the legs in several files, as at full scale.
CLICKHOUSE_FILE_LEGS = 700


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bench")
    out = tmp / "results.json"
    args = [
        "--extensions", "12", "--days", "35", "--repeat", "1", "--dir", str(tmp),
        "--out", str(out), "--asterisk-rows", "2000",
        "--load-clients", "4", "--load-requests", "24", "--load-seconds", "120",
        "--load-batches", str(LOAD_BATCHES), "--load-batch-legs", str(LOAD_BATCH_LEGS),
        "--clickhouse-file-legs", str(CLICKHOUSE_FILE_LEGS),
    ]  # fmt: skip
    assert bench.main(args) == 0
    # PostgreSQL's, ClickHouse's and the DuckDB copy's files go with them: each is a copy
    # of every leg.
    assert not (tmp / "postgres").exists()
    assert not (tmp / "clickhouse").exists()
    assert not (tmp / "copy").exists()
    return orjson.loads(out.read_bytes())


def test_benchmark_smoke_run_compares_every_answer(results):
    assert results["ingest"]["legs"] > 0
    # The same generated legs, written as CSV, ingested whole.
    assert results["csv_ingest"]["legs"] == results["csv_ingest"]["rows"]
    assert results["csv_ingest"]["legs"] == results["ingest"]["legs"]
    assert results["csv_ingest"]["peak_rss_mb"] > 0
    assert results["asterisk_ingest"]["rows"] == 2000
    # DuckDB alone copied every row of both files, and its copy is gone again.
    for ingest in (results["ingest"], results["csv_ingest"]):
        copy = ingest["duckdb_copy"]
        assert copy["rows"] == ingest["rows"]
        assert copy["seconds"] > 0 and copy["rows_per_s"] > 0
    assert set(results["windows"]) == {"day", "month", "year"}
    for w in results["windows"].values():
        assert w["rows"] > 0
        assert w["engine_ms"] > 0 and w["duckdb_raw_ms"] > 0 and w["pandas_ms"] > 0
        assert w["http_ms"] > 0


def test_postgres_baseline_holds_the_same_legs_and_answers_alike(results):
    pg = results["postgres"]
    if not pg["available"]:
        unavailable_server(f"PostgreSQL baseline unavailable: {pg['reason']}")
    assert pg["legs"] == results["ingest"]["legs"]
    # Each window's answer was compared with the engine's inside the run (a difference stops
    # it); here: every window was measured.
    assert all(w["postgres_ms"] > 0 for w in results["windows"].values())


def test_clickhouse_store_holds_the_same_legs_and_answers_alike(results):
    ch = results["clickhouse"]
    if not ch["available"]:
        unavailable_server(f"ClickHouse store unavailable: {ch['reason']}")
    ingest = ch["ingest"]
    assert ingest["legs"] == ingest["rows"] == results["ingest"]["legs"]
    assert ingest["files"] == -(-ingest["rows"] // CLICKHOUSE_FILE_LEGS) > 1
    assert ingest["legs_per_s"] > 0 and ingest["peak_rss_mb"] > 0
    assert ingest["ingest_ratio"] == round(
        results["ingest"]["legs_per_s"] / ingest["legs_per_s"], 2
    )
    assert ingest["server_version"]
    # Each window's answers (engine and HTTP) were compared with the embedded engine's bytes
    # inside the run (a difference stops it); here: every window was measured, with ratios.
    for w in results["windows"].values():
        assert w["clickhouse_engine_ms"] > 0 and w["clickhouse_http_ms"] > 0
        assert w["clickhouse_ratio"] == round(w["clickhouse_engine_ms"] / w["engine_ms"], 2)
        assert w["clickhouse_http_ratio"] == round(w["clickhouse_http_ms"] / w["http_ms"], 2)


def test_under_load_every_answer_was_checked_while_legs_streamed_in(results):
    load = results["load"]
    assert load["clients"] == 4
    assert load["ok"] == load["requests"] == 24 and not load["stopped_by_time_cap"]
    assert load["batches"] == LOAD_BATCHES
    assert load["streamed_legs"] == LOAD_BATCHES * LOAD_BATCH_LEGS
    assert load["requests_during_ingest"] > 0
    assert load["checked_after"] == 3 * len(bench.LOAD_ZONES)
    assert 0 < load["p50_ms"] <= load["p99_ms"]
    assert sum(k["n"] for k in load["by_window"].values()) == 24
    assert load["requests_per_s"] > 0


def test_without_postgresql_or_clickhouse_the_table_says_so_and_the_run_goes_on(
    results, tmp_path, monkeypatch, capsys
):
    from workanalytics.localservers import clickhouse, postgres

    monkeypatch.setattr(postgres, "available", lambda: False)
    monkeypatch.setattr(clickhouse, "available", lambda: False)
    reason = bench.PostgresBaseline.start(tmp_path / "pg", None)
    assert isinstance(reason, str) and "PostgreSQL" in reason
    ch_reason = bench.ClickHouseColumn.start(tmp_path / "ch", tmp_path / "legs.parquet", 10)
    assert isinstance(ch_reason, str) and "ClickHouse" in ch_reason
    assert not (tmp_path / "ch").exists()
    gone = {"postgres_ms": None, "clickhouse_engine_ms": None, "clickhouse_http_ms": None}
    windows = {k: w | gone for k, w in results["windows"].items()}
    bench._print_table(
        results
        | {
            "postgres": {"available": False, "reason": reason},
            "clickhouse": {"available": False, "reason": ch_reason},
            "windows": windows,
        }
    )
    out = capsys.readouterr().out
    assert f"PostgreSQL baseline: n/a, {reason}" in out
    assert f"ClickHouse store: n/a, {ch_reason}" in out
    # One n/a per reason line, and per window: PostgreSQL's, ClickHouse's http and engine.
    assert out.count("n/a") == 2 + 3 * 3


def test_no_clickhouse_flag_skips_the_column(tmp_path):
    results = {"ingest": {"legs": 1, "legs_per_s": 1}}
    args = argparse.Namespace(no_clickhouse=True, dir=tmp_path, clickhouse_file_legs=10)
    assert bench._start_clickhouse(args, tmp_path / "legs.parquet", results) is None
    assert results["clickhouse"] == {"available": False, "reason": "skipped (--no-clickhouse)"}
    assert not (tmp_path / "clickhouse").exists()


def test_a_wrong_clickhouse_answer_stops_the_benchmark():
    """Engine and HTTP answers of the ClickHouse store are compared with the embedded bytes."""
    right = b'[{"PbxId":"p"}]'

    def column(engine: bytes, http: bytes, status: int = 200):
        store = SimpleNamespace(extension_summary_json=lambda *_a, **_k: engine)
        timed = SimpleNamespace(get=lambda *_a, **_k: (status, http))
        return SimpleNamespace(store=store, timed=timed)

    args = argparse.Namespace(repeat=1)
    ok = bench._measure_clickhouse(args, column(right, right), "day", ["p"], None, {}, right)
    assert ok["clickhouse_engine_ms"] >= 0 and ok["clickhouse_http_ms"] >= 0
    for bad, what in (
        (column(b"[]", right), "engine"),
        (column(right, b"[]"), "HTTP"),
        (column(right, right, 500), "HTTP"),
    ):
        with pytest.raises(SystemExit, match=what):
            bench._measure_clickhouse(args, bad, "day", ["p"], None, {}, right)


def test_load_queries_cover_zones_with_30_and_45_minute_offsets_and_dst():
    queries = bench.load_queries(35, ["a", "b"])
    assert {q.kind for q in queries} == {"day", "month", "year"}
    zones = {q.params["timeZone"] for q in queries}
    assert {"Asia/Kathmandu", "Asia/Kolkata", "America/New_York"} <= zones
    assert all(q.params["pbxId"] == "a,b" for q in queries)
    assert any(q.params["startTime"].endswith("08:30:00") for q in queries)


def test_a_wrong_answer_or_a_refused_batch_under_load_is_reported(tmp_path):
    """The load clients' checks can fail: a wrong expected digest and a bad body."""
    legs = [Leg(call_id=f"c{i}") for i in range(5)]
    api = start_api(
        tmp_path,
        legs=legs,
        users=[UserSpec("u", "pw-123456", all_pbxes=True)],
        keys=[KeySpec("default"), KeySpec("admin", admin=True)],
        retention_years=0,
    )
    try:
        params = {
            "pbxId": "acme",
            "startTime": "2026-03-01 00:00:00",
            "endTime": "2026-03-01 23:59:59",
            "timeZone": "America/New_York",
        }
        headers = {"8x8-apikey": api.keys["default"], "Authorization": f"Bearer {api.token('u')}"}
        right = api.client.get(api.url + EXTSUM_V2, params=params, headers=headers)
        assert right.status_code == 200 and right.json()[0]["Inbound_Total"] == 5
        bad_body = tmp_path / "bad.parquet"
        bad_body.write_bytes(b"not parquet")
        spec = {
            "url": api.url, "headers": headers, "admin_headers": {"8x8-apikey": api.keys["admin"]},
            "queries": [
                bench.LoadQuery("good", "day", params, hashlib.sha256(right.content).hexdigest()),
                bench.LoadQuery("bad", "day", params, hashlib.sha256(b"[]").hexdigest()),
            ],
            "batches": [str(bad_body)], "clients": 2, "requests": 12, "seconds": 60, "seed": 3,
        }  # fmt: skip
        result = bench._run_load_clients(spec)
    finally:
        api.stop()
    wrong = [f for f in result["failures"] if f.startswith("bad:")]
    assert wrong and all("differs" in f for f in wrong)
    assert not [f for f in result["failures"] if f.startswith("good:")]
    assert any(f.startswith("ingest") and "HTTP 400" in f for f in result["failures"])
    assert result["ok"] + len(wrong) == 12


def test_a_wrong_baseline_answer_stops_the_benchmark():
    expected = [{f.name: 0 for f in bench.FIELDS} | {"PbxId": "p", "Extension": "1"}]
    wrong = {("p", "1"): tuple(1 if i > 6 else v for i, v in enumerate(expected[0].values()))}
    try:
        bench._check("day", "duckdb-raw", expected, wrong, tuples=True)
    except SystemExit as exc:
        assert "differs" in str(exc)
    else:
        raise AssertionError("a differing answer must stop the benchmark")


def test_postgres_sql_spells_every_field_out_and_binds_only_its_parameters():
    sql = bench.raw_postgres_sql()
    # PostgreSQL reads no lateral alias: each field's name is its alias and its output column,
    # never an operand of another field (DuckDB's form does refer back).
    assert all(sql.count(f'"{f.name}"') == 2 for f in bench.FIELDS)
    assert any(bench.raw_duckdb_sql().count(f'"{f.name}"') > 2 for f in bench.FIELDS)
    assert set(re.findall(r"%\((\w+)\)s", sql)) == {"pbx", "start", "end"}
    assert "div(" in sql and "//" not in sql


def test_asterisk_master_csv_of_the_benchmark_ingests_every_row(tmp_path):
    path = bench.make_master_csv(tmp_path / "Master.csv", 3000)
    assert len(path.read_text().splitlines()) == 3000
    report = bench.measure_ingest(
        path, tmp_path / "d", "--format", "asterisk-csv", "--source-tz", "America/New_York"
    )
    assert report["rows"] == 3000 and report["legs"] >= 3000


def test_timed_gets_reconnect_when_the_server_closed_an_idle_connection():
    """uvicorn closes a keep-alive connection after 5 idle seconds, and the baselines run
    longer than that between two timed requests."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class ClosesAfterEachAnswer(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # says keep-alive, then hangs up anyway

        def do_GET(self):
            body = self.path.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), ClosesAfterEachAnswer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/base"
        with bench.TimedGet(url, {}) as timed:
            for n in range(3):
                assert timed.get("/x", {"n": str(n)}) == (200, f"/base/x?n={n}".encode())
    finally:
        server.shutdown()
        server.server_close()
