"""A small-scale run of the benchmark: every contender answers, and answers alike."""

from __future__ import annotations

import orjson

from workanalytics import bench


def test_benchmark_smoke_run_compares_every_answer(tmp_path):
    out = tmp_path / "results.json"
    assert (
        bench.main(
            [
                "--extensions",
                "12",
                "--days",
                "35",
                "--repeat",
                "1",
                "--dir",
                str(tmp_path),
                "--out",
                str(out),
                "--asterisk-rows",
                "2000",
            ]
        )
        == 0
    )
    results = orjson.loads(out.read_bytes())
    assert results["ingest"]["legs"] > 0
    assert results["asterisk_ingest"]["rows"] == 2000
    assert set(results["windows"]) == {"day", "month", "year"}
    for w in results["windows"].values():
        assert w["rows"] > 0
        assert w["engine_ms"] > 0 and w["duckdb_raw_ms"] > 0 and w["pandas_ms"] > 0
        assert w["http_ms"] > 0


def test_a_wrong_baseline_answer_stops_the_benchmark():
    expected = [{f.name: 0 for f in bench.FIELDS} | {"PbxId": "p", "Extension": "1"}]
    wrong = {("p", "1"): tuple(1 if i > 6 else v for i, v in enumerate(expected[0].values()))}
    try:
        bench._check("day", "duckdb-raw", expected, wrong, tuples=True)
    except SystemExit as exc:
        assert "differs" in str(exc)
    else:
        raise AssertionError("a differing answer must stop the benchmark")


def test_asterisk_master_csv_of_the_benchmark_ingests_every_row(tmp_path):
    path = bench.make_master_csv(tmp_path / "Master.csv", 3000)
    assert len(path.read_text().splitlines()) == 3000
    report = bench.measure_ingest(
        path, tmp_path / "d", "--format", "asterisk-csv", "--source-tz", "America/New_York"
    )
    assert report["rows"] == 3000 and report["legs"] >= 3000
