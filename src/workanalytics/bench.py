"""``make bench``: how long a report takes, against what people would otherwise use.

Every number is a median measured in this run, printed beside baselines measured in the same
run on the same legs and windows, as ratios. Every answer of every contender is compared
with the engine's, and a difference stops the benchmark: speed is never bought with a wrong
answer.

Contenders for a report:
- ``engine``: the store's rollup path (what the API uses), answer bytes included;
- ``http``: the same through the real server on loopback (token, request, answer);
- ``duckdb-raw``: one plain DuckDB GROUP BY over the raw legs of the window;
- ``pandas``: a straightforward pandas implementation over the window's legs.

Run: ``python -m workanalytics.bench [--extensions 5000] [--days 365]``. The data is generated
once per (extensions, days, seed) into ``bench-data/`` and reused.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import orjson
import pyarrow.compute as pc

from workanalytics.metrics import (
    COUNTED_LEG_PREDICATE,
    FIELDS,
    MEASURE_NAMES,
    credits_sql,
    measures_sql,
    select_fields_sql,
)
from workanalytics.timewindow import UtcWindow, resolve_window

BENCH_DIR = Path("bench-data")
END_DAY = date(2026, 11, 27)  # fixed, so cached data and windows stay comparable
TIME_ZONE = "America/New_York"


@dataclass
class Timing:
    name: str
    window: str
    samples_ms: list[float] = field(default_factory=list)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples_ms)


def _median_of(fn: Callable[[], object], repeat: int) -> tuple[list[float], object]:
    samples, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples, result


def windows(days: int) -> dict[str, tuple[str, str]]:
    """Day, month and year windows (local New York time) inside the generated range."""
    last = END_DAY - timedelta(days=1)
    spans = {"day": last, "month": last - timedelta(days=29), "year": last - timedelta(days=364)}
    first_day = END_DAY - timedelta(days=days - 1)
    return {
        name: (f"{max(start, first_day).isoformat()} 00:00:00", f"{last.isoformat()} 23:59:59")
        for name, start in spans.items()
    }


def ensure_data(extensions: int, days: int, seed: int, directory: Path) -> Path:
    from workanalytics.generate import generate_company

    path = directory / f"legs-{extensions}x{days}-s{seed}.parquet"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        print(f"generating {extensions} extensions x {days} days -> {path}", file=sys.stderr)
        generate_company(extensions=extensions, days=days, end=END_DAY, seed=seed, out=path)
    return path


def make_master_csv(path: Path, rows: int, seed: int = 7) -> Path:
    """A header-less Asterisk cdr_csv (21 fields) of internal, inbound and outbound calls.

    Built column by column with numpy, so a million rows take a second or two.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    n = rows
    kind = rng.integers(0, 3, n)  # 0 internal, 1 inbound from a trunk, 2 outbound to a trunk
    ext_a = (1000 + rng.integers(0, 2000, n)).astype(str)
    ext_b = (1000 + rng.integers(0, 2000, n)).astype(str)
    ext_b = np.where(ext_b == ext_a, "3999", ext_b)
    number = np.strings.add("+1555", (1_000_000 + rng.integers(0, 8_999_999, n)).astype(str))
    first = np.datetime64("2026-03-02T08:00:00")
    start = first + (np.arange(n, dtype=np.int64) * (60 * 86_400) // max(n, 1)).astype("m8[s]")
    ring = rng.integers(2, 25, n).astype("m8[s]")
    answered = rng.random(n) < 0.7
    talk = np.where(answered, rng.integers(10, 600, n), 0).astype("m8[s]")
    seq = np.arange(n).astype(str)
    src = np.where(kind == 1, number, ext_a)
    dst = np.where(kind == 2, number, ext_b)
    chan_id = np.strings.add("-", np.char.zfill(seq, 8))
    channel = np.strings.add(
        np.where(kind == 1, "PJSIP/trunk", np.strings.add("PJSIP/", ext_a)), chan_id
    )
    dstchannel = np.strings.add(
        np.where(kind == 2, "PJSIP/trunk", np.strings.add("PJSIP/", ext_b)), chan_id
    )
    uniqueid = np.strings.add(np.strings.add("1772440000.", seq), "")

    def stamp(values: np.ndarray) -> pa.Array:
        return pa.array(np.datetime_as_string(values, unit="s")).cast(pa.string())

    table = pa.table(
        {
            "accountcode": pa.array(np.full(n, "")),
            "src": src, "dst": dst, "dcontext": pa.array(np.full(n, "from-internal")),
            "clid": np.strings.add(np.strings.add('"', src), np.strings.add('" <', np.strings.add(src, ">"))),
            "channel": channel, "dstchannel": dstchannel,
            "lastapp": pa.array(np.full(n, "Dial")), "lastdata": np.strings.add(dstchannel, ",30"),
            "start": pc.replace_substring(stamp(start), "T", " "),
            "answer": pc.if_else(pa.array(answered), pc.replace_substring(stamp(start + ring), "T", " "), None),
            "end": pc.replace_substring(stamp(start + ring + talk), "T", " "),
            "duration": (ring + talk).astype(np.int64), "billsec": talk.astype(np.int64),
            "disposition": np.where(answered, "ANSWERED", "NO ANSWER"),
            "amaflags": pa.array(np.full(n, "DOCUMENTATION")),
            "uniqueid": uniqueid, "userfield": pa.array(np.full(n, "")),
            "peeraccount": pa.array(np.full(n, "")), "linkedid": uniqueid,
            "sequence": np.zeros(n, dtype=np.int64),
        }
    )  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(table, path, pacsv.WriteOptions(include_header=False))
    return path


def measure_ingest(legs: Path, data_dir: Path, *extra: str) -> dict[str, float]:
    """Ingest in a child process, so its peak memory is its own."""
    import shutil

    shutil.rmtree(data_dir, ignore_errors=True)
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "workanalytics", "--data-dir", str(data_dir), "ingest",
         str(legs), *extra, "--no-progress", "--output-format", "json"],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    _pid, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    out = child.stdout.read() if child.stdout else b""
    if status != 0:
        raise SystemExit(f"ingest failed: {out.decode(errors='replace')}")
    report = orjson.loads(out)[0]
    stored = report["stored"]
    return {
        "rows": report["rows"],
        "legs": stored,
        "seconds": round(elapsed, 3),
        "legs_per_s": round(stored / elapsed),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
    }


def raw_duckdb_sql() -> str:
    """The 45 fields straight from the window's legs: no rollups."""
    counted = (
        "(SELECT * FROM legs WHERE pbx_id IN (SELECT unnest($pbx)) "
        f"AND start_time >= $start AND start_time < $end AND {COUNTED_LEG_PREDICATE})"
    )
    names = ", ".join(f'"{f.name}"' for f in FIELDS)
    return (
        f"WITH m AS ({measures_sql(credits_sql(counted))}), "
        f"answer AS (SELECT {select_fields_sql(2, floor_div=lambda a, b: f'({a}) // ({b})')} "
        "FROM m LEFT JOIN directory d ON d.pbx_id = m.pbx_id AND d.extension = m.extension) "
        f"SELECT {names} FROM answer"
    )


def pandas_summary(con, pbx_ids: list[str], window: UtcWindow) -> dict[tuple, dict]:
    """What an analyst would write: load the window's legs, credit both sides, group, sum.

    Written out plainly from the spec, independent of the engine's SQL; it returns the
    additive measures, which the benchmark compares with the engine's.
    """
    import numpy as np
    import pandas as pd

    legs = con.execute(
        "SELECT pbx_id, caller_ext, callee_ext, start_time, connect_time, end_time, abandoned, "
        "voicemail, status FROM legs WHERE start_time >= $start AND start_time < $end "
        "AND pbx_id IN (SELECT unnest($pbx))",
        {"start": window.start_ms, "end": window.end_ms, "pbx": pbx_ids},
    ).df()
    self_call = legs.caller_ext.notna() & (legs.caller_ext == legs.callee_ext)
    legs = legs[(legs.status == "Completed") & ~self_call]
    answered = legs.connect_time.notna()
    ring = (legs.connect_time.fillna(legs.end_time) - legs.start_time).astype("int64")
    talk = (legs.end_time - legs.connect_time).fillna(0).astype("int64")
    internal = legs.caller_ext.notna() & legs.callee_ext.notna()
    frames = []
    for inbound, side in ((True, "callee_ext"), (False, "caller_ext")):
        on = legs[side].notna()
        a, ab, vm, n = answered[on], legs.abandoned[on], legs.voicemail[on], internal[on]
        r, t, x = ring[on], talk[on], ~internal[on]
        zero = np.zeros(int(on.sum()), dtype="int64")

        def count(mask) -> np.ndarray:
            return mask.to_numpy().astype("int64")

        frames.append(
            pd.DataFrame(
                {
                    "pbx_id": legs.pbx_id[on].to_numpy(),
                    "extension": legs[side][on].to_numpy(),
                    "ext_in_total": count(x) if inbound else zero,
                    "ext_in_answered": count(x & a) if inbound else zero,
                    "ext_in_abandoned": count(x & ab) if inbound else zero,
                    "int_in_total": count(n) if inbound else zero,
                    "int_in_answered": count(n & a) if inbound else zero,
                    "int_in_abandoned": count(n & ab) if inbound else zero,
                    "ext_out_total": zero if inbound else count(x),
                    "ext_out_answered": zero if inbound else count(x & a),
                    "int_out_total": zero if inbound else count(n),
                    "int_out_answered": zero if inbound else count(n & a),
                    "to_voicemail": count(vm) if inbound else zero,
                    "ring_ms": r.to_numpy(),
                    "ringing_legs": count(r > 0),
                    "in_talk_ms": t.to_numpy() if inbound else zero,
                    "out_talk_ms": zero if inbound else t.to_numpy(),
                    "abandoned_ring_ms": np.where((ab if inbound else ~a).to_numpy(), r, 0),
                }
            )
        )
    g = pd.concat(frames, ignore_index=True).groupby(["pbx_id", "extension"], sort=False).sum()
    return dict(zip(g.index, g.to_dict("records"), strict=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="workanalytics.bench", description=__doc__)
    parser.add_argument("--extensions", type=int, default=5000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--dir", type=Path, default=BENCH_DIR)
    parser.add_argument("--out", type=Path, default=Path("bench-results.json"))
    parser.add_argument("--asterisk-rows", type=int, default=1_000_000)
    args = parser.parse_args(argv)

    import httpx

    from workanalytics.api.server import start_in_thread
    from workanalytics.api.services import Services
    from workanalytics.settings import Settings

    legs = ensure_data(args.extensions, args.days, args.seed, args.dir)
    data_dir = args.dir / f"store-{legs.stem}"
    ingest = measure_ingest(legs, data_dir)
    print(f"ingest: {ingest}", file=sys.stderr)
    master = make_master_csv(args.dir / f"Master-{args.asterisk_rows}.csv", args.asterisk_rows)
    asterisk = measure_ingest(
        master, args.dir / "store-asterisk", "--format", "asterisk-csv", "--source-tz", TIME_ZONE
    )
    asterisk["rows_per_s"] = round(asterisk["rows"] / asterisk["seconds"])
    print(f"asterisk ingest: {asterisk}", file=sys.stderr)

    settings = Settings(data_dir=data_dir, retention_years=0)
    svc = Services.open(settings)
    store = svc.store
    svc.control.add_user("bench", "bench-password", all_pbxes=True)
    _key, api_key = svc.control.create_api_key(name="bench")
    server = start_in_thread(settings, services=svc)
    http = httpx.Client(base_url=server.url + "/analytics/work", timeout=60)
    token = http.post(
        "/v1/oauth/token",
        headers={"8x8-apikey": api_key},
        data={"username": "bench", "password": "bench-password"},
    ).json()["access_token"]
    headers = {"8x8-apikey": api_key, "Authorization": f"Bearer {token}"}
    pbx_ids = store.pbx_ids()
    raw_sql = raw_duckdb_sql()
    results: dict[str, dict] = {"ingest": ingest, "asterisk_ingest": asterisk, "windows": {}}
    for name, (start, end) in windows(args.days).items():
        window = resolve_window(start, end, TIME_ZONE, retention_years=0)
        engine_ms, answer = _median_of(
            lambda w=window: store.extension_summary(pbx_ids, w).to_json(), args.repeat
        )
        expected = orjson.loads(answer)
        query = {"pbxId": "allpbxes", "startTime": start, "endTime": end, "timeZone": TIME_ZONE}
        http_ms, response = _median_of(
            lambda q=query: http.get("/v2/extsum", params=q, headers=headers), args.repeat
        )
        if response.content != answer:
            raise SystemExit(f"{name}: the HTTP answer differs from the engine's")
        params = {"pbx": pbx_ids, "start": window.start_ms, "end": window.end_ms}
        raw_ms, raw_rows = _median_of(
            lambda p=params: store.con.execute(raw_sql, p).fetchall(), args.repeat
        )
        _check(name, "duckdb-raw", expected, {(r[0], r[1]): r for r in raw_rows}, tuples=True)
        pandas_ms, measures = _median_of(
            lambda w=window: pandas_summary(store.con, pbx_ids, w), max(1, args.repeat // 3)
        )
        _check_measures(name, store, pbx_ids, window, measures)
        results["windows"][name] = {
            "rows": len(expected),
            "answer_bytes": len(answer),
            "engine_ms": round(statistics.median(engine_ms), 2),
            "http_ms": round(statistics.median(http_ms), 2),
            "duckdb_raw_ms": round(statistics.median(raw_ms), 2),
            "pandas_ms": round(statistics.median(pandas_ms), 2),
        }
    http.close()
    server.stop()
    svc.close()
    _print_table(results)
    args.out.write_text(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode())
    print(f"results written to {args.out}", file=sys.stderr)
    return 0


def _check(window: str, who: str, expected: list[dict], got: dict, *, tuples: bool) -> None:
    names = [f.name for f in FIELDS]
    if len(got) != len(expected):
        raise SystemExit(f"{window}: {who} has {len(got)} rows, the engine {len(expected)}")
    for row in expected:
        other = got.get((row["PbxId"], row["Extension"]))
        other = dict(zip(names, other, strict=True)) if tuples and other is not None else other
        if other != row:
            raise SystemExit(f"{window}: {who} differs for {row['PbxId']}/{row['Extension']}")


def _check_measures(window_name: str, store, pbx_ids, window: UtcWindow, measures: dict) -> None:
    """pandas computes the additive measures; they must match the engine's raw measures."""
    counted = (
        "(SELECT * FROM legs WHERE pbx_id IN (SELECT unnest($pbx)) "
        f"AND start_time >= $start AND start_time < $end AND {COUNTED_LEG_PREDICATE})"
    )
    rows = store.con.execute(
        measures_sql(credits_sql(counted)),
        {"pbx": pbx_ids, "start": window.start_ms, "end": window.end_ms},
    ).fetchall()
    names = list(MEASURE_NAMES)
    engine = {(r[0], r[1]): dict(zip(names, r[2:], strict=True)) for r in rows}
    got = {k: {n: int(v[n]) for n in names} for k, v in measures.items()}
    if got != engine:
        raise SystemExit(f"{window_name}: pandas differs from the engine")


def _print_table(results: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    ingest = results["ingest"]
    console = Console(stderr=False)
    console.print(
        f"ingest: {ingest['legs']:,} legs in {ingest['seconds']} s = "
        f"{ingest['legs_per_s']:,} legs/s, peak RSS {ingest['peak_rss_mb']} MB"
    )
    a = results["asterisk_ingest"]
    console.print(
        f"asterisk Master.csv: {a['rows']:,} rows in {a['seconds']} s = {a['rows_per_s']:,} rows/s"
    )
    table = Table(title="Extension Summary, all PBXs, medians in ms (ratio = baseline / engine)")
    for col in ("window", "rows", "http", "engine", "duckdb raw", "ratio", "pandas", "ratio"):
        table.add_column(col, justify="right")
    for name, w in results["windows"].items():
        e = w["engine_ms"]
        table.add_row(
            name, f"{w['rows']:,}", f"{w['http_ms']:.1f}", f"{e:.1f}", f"{w['duckdb_raw_ms']:.1f}",
            f"{w['duckdb_raw_ms'] / e:.1f}x", f"{w['pandas_ms']:.1f}", f"{w['pandas_ms'] / e:.1f}x",
        )  # fmt: skip
    console.print(table)


if __name__ == "__main__":
    raise SystemExit(main())
