"""A million legs: a killed ingest leaves nothing behind, and memory stays bounded.

One generated file is shared by the module. Ingests run in child processes so that they can
be killed with SIGKILL (no cleanup of any kind runs) and so that their peak memory can be
measured on their own.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from workanalytics.bench import command_reporting_peak, peak_kb
from workanalytics.directory import read_directory_csv
from workanalytics.ingest import open_source
from workanalytics.store import DuckDBStore

from conftest import Leg, write_directory_csv, write_legs_csv

pytestmark = pytest.mark.slow

N = 1_000_000
T = 1_772_370_000_000  # 2026-03-01T13:00:00Z
PBXES = np.array(["acme", "beta", "gamma"])
#: Legs of the base store whose identity the big file also holds (they get replaced).
OVERLAP = 500
MEMORY_BOUND_BYTES = 1_500 * 1024 * 1024

CHILD = """
import sys
from pathlib import Path
from workanalytics.ingest import open_source
from workanalytics.store import DuckDBStore

store = DuckDBStore(Path(sys.argv[1]))
source = open_source(Path(sys.argv[2]))
print("started", flush=True)
report = store.ingest(source)
print("committed", report.legs_stored, report.legs_replaced, flush=True)
store.close()
print("closed", flush=True)
"""


def big_table(n: int = N) -> pa.Table:
    """``n`` valid legs, built column by column (no Python loop per leg).

    Three legs per call; identities (pbx, call, leg) are all distinct. Leg ``i`` starts at
    ``T + i`` seconds, rings up to 30 s; 60 % are answered, the rest split between abandoned,
    voicemail and plain missed; every 50th leg is still in progress; every 4th is outbound.
    """
    rng = np.random.default_rng(20260301)
    i = np.arange(n, dtype=np.int64)
    call = i // 3
    start = T + i * 1_000
    ring = rng.integers(0, 30_000, n)
    talk = rng.integers(1, 900_000, n)
    answered = rng.random(n) < 0.6
    rest = rng.integers(0, 3, n)
    abandoned = ~answered & (rest == 0)
    voicemail = ~answered & (rest == 1)
    connect = start + ring
    end = np.where(answered, connect + talk, start + ring)
    outbound = i % 4 == 0
    ext = pa.array((1000 + (i % 700)).astype(str))
    number = pa.array(np.char.add("+1555", (1_000_000 + (i % 9_973)).astype(str)))
    none = pa.nulls(n, pa.string())
    return pa.table(
        {
            "pbx_id": pa.array(PBXES[call % 3]),
            "call_id": pc.binary_join_element_wise("c", pa.array(call).cast(pa.string()), ""),
            "leg_id": pa.array(i % 3 + 1),
            "start_time": pa.array(start, pa.timestamp("ms", tz="UTC")),
            "connect_time": pa.array(connect, pa.timestamp("ms", tz="UTC"), mask=~answered),
            "end_time": pa.array(end, pa.timestamp("ms", tz="UTC")),
            "caller": pc.if_else(pa.array(outbound), ext, number),
            "callee": pc.if_else(pa.array(outbound), number, ext),
            "caller_ext": pc.if_else(pa.array(outbound), ext, none),
            "callee_ext": pc.if_else(pa.array(outbound), none, ext),
            "abandoned": pa.array(abandoned),
            "voicemail": pa.array(voicemail),
            "status": pa.array(np.where(i % 50 == 49, "In Progress", "Completed")),
            "hold_ms": pa.array(np.where(answered, talk // 10, 0)),
            "cause": pa.array(np.where(answered, "Normal", "Ring No Answer")),
        }
    )


@dataclass
class Big:
    parquet: Path
    csv: Path
    jsonl: Path
    base_store: Path  # a closed store holding legs and directory rows already
    base_legs: int


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Big:
    root = tmp_path_factory.mktemp("big")
    table = big_table()
    parquet = root / "legs.parquet"
    pq.write_table(table, parquet)
    as_text = table
    for name in ("start_time", "connect_time", "end_time"):
        k = as_text.schema.get_field_index(name)
        as_text = as_text.set_column(k, name, pc.cast(table[name], pa.int64()))
    csv_path = root / "legs.csv"
    pacsv.write_csv(as_text, csv_path)
    jsonl = root / "legs.jsonl"  # JSON numbers, booleans and nulls, as a JSON writer has them
    with duckdb.connect() as con:
        con.register("as_text", as_text)
        con.execute(f"COPY as_text TO '{jsonl}' (FORMAT json)")

    # The base store: legs the big file replaces (same identity, other values), legs it
    # does not touch, directory rows with names, and a PBX only the base knows.
    base = root / "base" / "legs.duckdb"
    overlap = [
        Leg(pbx_id=str(PBXES[c % 3]), call_id=f"c{c}", leg_id=1, start_time=T, end_time=T + 1,
            callee="1000", callee_ext="1000", callee_name="to be replaced")
        for c in range(OVERLAP)
    ]  # fmt: skip
    own = [Leg(pbx_id="old", call_id=f"k{k}", leg_id=2, callee_ext="55") for k in range(300)]
    with DuckDBStore(base) as store:
        store.ingest(open_source(write_legs_csv(root / "base.csv", overlap + own)))
        dir_rows = [{"pbx_id": "acme", "extension": "1000", "first_name": "Ada"},
                    {"pbx_id": "old", "extension": "55", "service_type": "RG"}]  # fmt: skip
        store.upsert_directory(read_directory_csv(write_directory_csv(root / "dir.csv", dir_rows)))
        assert store.leg_count() == OVERLAP + len(own)
    return Big(
        parquet=parquet, csv=csv_path, jsonl=jsonl, base_store=base, base_legs=OVERLAP + len(own)
    )


def fingerprint(store_path: Path) -> dict[str, tuple]:
    """Count and order-free hash sums of every table an ingest writes."""
    with DuckDBStore(store_path) as store:
        return {
            table: store.con.execute(
                f"SELECT count(*), sum(hash(t)::HUGEINT), bit_xor(hash(t)) FROM {table} t"
            ).fetchone()
            for table in ("legs", "directory", "pbxes", "meta")
        }


def copy_store(src: Path, dest_dir: Path) -> Path:
    dest_dir.mkdir(parents=True)
    for f in src.parent.iterdir():
        if f.is_file():
            shutil.copy2(f, dest_dir / f.name)
    return dest_dir / src.name


def start_child(store: Path, legs: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(store), str(legs)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def full_ingest(store: Path, legs: Path) -> str:
    proc = start_child(store, legs)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    return out


@pytest.fixture(scope="module")
def after(big: Big, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple]:
    """The store after the big file was ingested in full, as a fingerprint."""
    store = copy_store(big.base_store, tmp_path_factory.mktemp("after") / "data")
    out = full_ingest(store, big.parquet)
    assert out.split() == ["started", "committed", str(N), str(OVERLAP), "closed"]
    with DuckDBStore(store) as s:
        # what the file says, checked apart from the fingerprint
        assert s.leg_count() == big.base_legs - OVERLAP + N
        assert s.con.execute(
            "SELECT count(*) FROM legs WHERE callee_name = 'to be replaced'"
        ).fetchone() == (0,)
        assert s.pbx_ids() == ["acme", "beta", "gamma", "old"]
        assert s.con.execute(
            "SELECT first_name FROM directory WHERE pbx_id = 'acme' AND extension = '1000'"
        ).fetchone() == ("Ada",)
    return fingerprint(store)


def test_killed_ingest_leaves_the_store_as_it_was(big: Big, after, tmp_path: Path):
    before = fingerprint(big.base_store)
    assert before != after
    delays = (0.0, 0.4, 1.0, 1.8, 2.6, 3.0, 3.4, 3.8)
    mid_ingest_kills = 0
    recovered = False
    for k, delay in enumerate(delays):
        store = copy_store(big.base_store, tmp_path / f"run{k}")
        proc = start_child(store, big.parquet)
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first == "started\n", proc.stderr.read() if proc.stderr else first
        time.sleep(delay)
        still_running = proc.poll() is None
        proc.send_signal(signal.SIGKILL)  # a no-op if it has already been reaped
        proc.wait(timeout=30)
        rest = proc.stdout.read()
        state = fingerprint(store)  # opening replays the WAL, if any
        if "committed" in rest:
            assert state == after, f"kill after {delay}s, after the commit"
        else:
            assert state in (before, after), f"kill after {delay}s left a half-written store"
        if still_running and state == before:
            assert proc.returncode == -signal.SIGKILL
            mid_ingest_kills += 1
            if not recovered:
                # the killed store takes the same file in full afterwards
                full_ingest(store, big.parquet)
                assert fingerprint(store) == after
                recovered = True
    assert mid_ingest_kills >= 1, "no kill landed in the middle of an ingest"


@pytest.mark.parametrize("kind", ["parquet", "csv", "jsonl"])
def test_a_million_legs_ingest_with_bounded_memory(big: Big, after, tmp_path: Path, kind):
    legs = getattr(big, kind)
    data = copy_store(big.base_store, tmp_path / "data").parent
    # Launched with `python -c`, where DuckDB would think it runs interactively and draw
    # progress bars on stdout: the JSON must still be alone there. On its way out the child
    # writes its own peak (VmHWM): its ru_maxrss would also count this process's peak.
    peak_file = tmp_path / "peak"
    launcher = command_reporting_peak(peak_file)
    args = [*launcher, "--data-dir", str(data), "ingest", str(legs), "--no-progress",
            "--output-format", "json"]  # fmt: skip
    out_path, err_path = tmp_path / "stdout", tmp_path / "stderr"
    started = time.monotonic()
    with open(out_path, "wb") as out_fh, open(err_path, "wb") as err_fh:
        proc = subprocess.Popen(args, stdout=out_fh, stderr=err_fh)
    _, status, _usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.monotonic() - started
    out, err = out_path.read_bytes(), err_path.read_bytes()
    assert proc.returncode == 0, err.decode()
    assert out.count(b"\n") == 1, out[:300]
    [report] = json.loads(out)
    assert (report["rows"], report["stored"], report["rejected"]) == (N, N, 0)
    assert report["replaced"] == OVERLAP
    peak = peak_kb(peak_file) * 1024
    assert peak < MEMORY_BOUND_BYTES, f"peak RSS {peak / 2**20:.0f} MiB for {kind}"
    assert elapsed < 120, f"{kind}: {elapsed:.1f} s"
    with DuckDBStore(data / "legs.duckdb") as store:
        assert store.leg_count() == big.base_legs - OVERLAP + N
        assert store.con.execute(
            "SELECT count(*) FROM legs WHERE pbx_id IN ('acme', 'beta', 'gamma') "
            "AND callee_name IS NULL"
        ).fetchone() == (N,)
    # CSV and JSON Lines (instants as epoch ms) and Parquet (timestamps): the very same store
    assert fingerprint(data / "legs.duckdb") == after
