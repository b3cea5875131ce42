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
            ]
        )
        == 0
    )
    results = orjson.loads(out.read_bytes())
    assert results["ingest"]["legs"] > 0
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
