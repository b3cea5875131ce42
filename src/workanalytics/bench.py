"""``make bench``: how long a report takes, against what people would otherwise use.

Every number is a median measured in this run, printed beside baselines measured in the same
run on the same legs and windows, as ratios. Every answer of every contender is compared
with the engine's, and a difference stops the benchmark: speed is never bought with a wrong
answer.

Contenders for a report:
- ``engine``: the store's rollup path (what the API uses), answer bytes included;
- ``http``: the same through the real server on loopback (token, request, whole body read
  by the standard library's client, see :class:`TimedGet`);
- ``duckdb-raw``: one plain DuckDB GROUP BY over the raw legs of the window;
- ``pandas``: a straightforward pandas implementation over the window's legs;
- ``postgres``: PostgreSQL (Debian's server, started here on loopback) holding the same legs
  with an index on start time, answering with the same plain GROUP BY. When it cannot run
  here, the table says so and the column is empty.
- ``clickhouse``: the project's scale-out store on one ClickHouse server (Debian's, started
  here on loopback): the same legs ingested through the CLI (``--store clickhouse://...``),
  answering through its engine and through a second HTTP server over it. Its answers must be
  the embedded engine's, byte for byte. Its ingest rate is measured too: it is slower than the
  embedded store's, and the table says by how much.

Then the service under load: concurrent clients (16 by default) mixing day, month and year
windows in several zones (DST, :30 and :45 offsets) through HTTP, while batches of legs stream
in through the online ingest endpoint into a PBX of their own. Every answer for the other
PBXs must be the one computed (and checked against the raw GROUP BY) beforehand; afterwards
the streamed PBX's answers must equal the raw GROUP BY over what was stored. p50, p99 and
throughput are reported.

Run: ``python -m workanalytics.bench [--extensions 5000] [--days 365]``. The data is generated
once per (extensions, days, seed) into ``bench-data/`` and reused. The PostgreSQL and ClickHouse
servers live in ``bench-data/postgres`` and ``bench-data/clickhouse``, are loaded afresh each
run and removed at its end (their files are a copy of every leg).
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.client import HTTPConnection, RemoteDisconnected
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import orjson
import pyarrow.compute as pc

from workanalytics.metrics import (
    COUNTED_LEG_PREDICATE,
    FIELDS,
    MEASURE_NAMES,
    FloorDiv,
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


def ensure_data(
    extensions: int, days: int, seed: int, directory: Path, suffix: str = ".parquet"
) -> Path:
    """The generated legs (cached): the same legs in whichever format ``suffix`` names."""
    from workanalytics.generate import generate_company

    path = directory / f"legs-{extensions}x{days}-s{seed}{suffix}"
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


def measure_ingest(
    legs: Path | Sequence[Path], data_dir: Path, *extra: str, store_url: str | None = None
) -> dict[str, float]:
    """Ingest in a child process, so its peak memory is its own: one file, or several one
    after the other (one command); into the embedded store, or the one ``store_url`` names."""
    files = [legs] if isinstance(legs, Path) else list(legs)
    shutil.rmtree(data_dir, ignore_errors=True)
    store = ["--store", store_url] if store_url else []
    with tempfile.TemporaryDirectory() as tmp:
        peak_file = Path(tmp) / "status"
        started = time.perf_counter()
        child = subprocess.Popen(
            [*command_reporting_peak(peak_file), "--data-dir", str(data_dir), *store, "ingest",
             *map(str, files), *extra, "--no-progress", "--output-format", "json"],
            stdout=subprocess.PIPE,
        )  # fmt: skip
        out, _ = child.communicate()
        elapsed = time.perf_counter() - started
        if child.returncode != 0:
            raise SystemExit(f"ingest failed: {out.decode(errors='replace')}")
        peak = peak_kb(peak_file)
    reports = orjson.loads(out)
    if len(reports) != len(files):
        raise SystemExit(f"ingest stored {len(reports)} of {len(files)} files")
    stored = sum(r["stored"] for r in reports)
    return {
        "rows": sum(r["rows"] for r in reports),
        "legs": stored,
        "seconds": round(elapsed, 3),
        "legs_per_s": round(stored / elapsed),
        "peak_rss_mb": round(peak / 1024, 1),
    }


def measure_duckdb_copy(legs: Path, work_dir: Path) -> dict[str, float]:
    """DuckDB alone copying a file's rows into a table of a new database file, under the
    ingest's memory limit: what writing the legs costs before anything is checked,
    deduplicated, rolled up or added to the directory. The ingest rates read against it."""
    import duckdb

    from workanalytics.settings import DEFAULT_INGEST_MEMORY_LIMIT
    from workanalytics.store.staging import quote_path

    shutil.rmtree(work_dir, ignore_errors=True)
    work_dir.mkdir(parents=True)
    reader = "read_parquet" if legs.suffix == ".parquet" else "read_csv"
    try:
        con = duckdb.connect(
            str(work_dir / "copy.duckdb"), config={"memory_limit": DEFAULT_INGEST_MEMORY_LIMIT}
        )
        with contextlib.closing(con):
            con.execute(f"SET temp_directory = {quote_path(work_dir / 'tmp')}")
            con.execute("SET preserve_insertion_order = false")  # as the ingest of a file in order
            started = time.perf_counter()
            con.execute(f"CREATE TABLE legs AS SELECT * FROM {reader}({quote_path(legs)})")
            elapsed = time.perf_counter() - started
            (rows,) = con.execute("SELECT count(*) FROM legs").fetchone()
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    return {"rows": rows, "seconds": round(elapsed, 3), "rows_per_s": round(rows / elapsed)}


def command_reporting_peak(peak_file: Path) -> list[str]:
    """The command line of ``workanalytics`` in a child that writes its own peak memory
    (``VmHWM``) to ``peak_file`` on exit. Its ``ru_maxrss`` would not do: through vfork
    and exec, Linux carries the parent's high-water mark into the child."""
    return [sys.executable, "-c", (
        "import atexit, pathlib, sys\n"
        "status, peak = pathlib.Path('/proc/self/status'), pathlib.Path(sys.argv.pop(1))\n"
        "atexit.register(lambda: peak.write_text(status.read_text()))\n"
        "from workanalytics.cli import main; main()\n"
    ), str(peak_file)]  # fmt: skip


def peak_kb(status_file: Path) -> int:
    """``VmHWM`` of a copy of ``/proc/PID/status``, in kB."""
    for line in status_file.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise SystemExit(f"no VmHWM in {status_file}")


def raw_summary_sql(
    *, pbx: str, start: str, end: str, floor_div: FloorDiv, lateral_aliases: bool = True
) -> str:
    """The 45 fields straight from the window's legs: no rollups, one GROUP BY.

    ``pbx``, ``start`` and ``end`` are the engine's spelling of the parameters (``pbx`` is
    the test after ``pbx_id``); the legs, credits, measures and fields are the project's one
    definition in :mod:`workanalytics.metrics`.
    """
    counted = (
        f"(SELECT * FROM legs WHERE pbx_id {pbx} "
        f"AND start_time >= {start} AND start_time < {end} AND {COUNTED_LEG_PREDICATE}) AS counted"
    )
    names = ", ".join(f'"{f.name}"' for f in FIELDS)
    fields = select_fields_sql(2, floor_div=floor_div, lateral_aliases=lateral_aliases)
    return (
        f"WITH m AS ({measures_sql(credits_sql(counted))}), "
        f"answer AS (SELECT {fields} "
        "FROM m LEFT JOIN directory d ON d.pbx_id = m.pbx_id AND d.extension = m.extension) "
        f"SELECT {names} FROM answer"
    )


def raw_duckdb_sql() -> str:
    """Baseline (c): a plain DuckDB GROUP BY over the raw legs of the window."""
    return raw_summary_sql(
        pbx="IN (SELECT unnest($pbx))",
        start="$start",
        end="$end",
        floor_div=lambda a, b: f"({a}) // ({b})",
    )


def raw_postgres_sql() -> str:
    """Baseline (b): the same GROUP BY in PostgreSQL (psycopg placeholders).

    PostgreSQL reads no lateral column alias, so every field is spelled out from the
    measures; ``div`` is its integer division of numerics (SUM of a BIGINT is NUMERIC), and
    every operand is >= 0, so it floors.
    """
    sql = raw_summary_sql(
        pbx="= ANY(%(pbx)s)",
        start="%(start)s",
        end="%(end)s",
        floor_div=lambda a, b: f"div({a}, {b})",
        lateral_aliases=False,
    )
    if "%" in sql.replace("%(pbx)s", "").replace("%(start)s", "").replace("%(end)s", ""):
        raise AssertionError("a literal % in the SQL would be read as a placeholder")
    return sql


#: The legs' columns the report reads: PostgreSQL gets only these, which can only make it
#: faster (narrower rows to scan) and keeps the ratio against it conservative.
PG_LEG_COLUMNS = (
    "pbx_id",
    "caller_ext",
    "callee_ext",
    "start_time",
    "connect_time",
    "end_time",
    "abandoned",
    "voicemail",
    "status",
)


@dataclass
class PostgresBaseline:
    """PostgreSQL started by the benchmark, holding the same legs and directory."""

    server: object
    con: object  # psycopg.Connection
    load: dict[str, object]

    @classmethod
    def start(cls, root: Path, store_con) -> PostgresBaseline | str:
        """A loaded baseline, or why there is none (no server here, or it did not start)."""
        try:
            from workanalytics.localservers import postgres
        except ImportError as exc:
            return f"no PostgreSQL support here ({exc})"
        if not postgres.available():
            return "no PostgreSQL server here (apt-get install postgresql)"
        try:
            import psycopg
        except ImportError:
            return "psycopg is not installed (pip install 'psycopg[binary]')"
        shutil.rmtree(root, ignore_errors=True)
        try:
            server = postgres.start_postgres(root)
        except postgres.PostgresUnavailable as exc:
            return f"PostgreSQL cannot run here: {exc}"
        try:
            # No server-side prepared plans: each window gets a plan for its own range.
            con = psycopg.connect(server.url, autocommit=True, prepare_threshold=None)
            load = _load_postgres(con, store_con)
        except BaseException:
            server.stop()
            shutil.rmtree(root, ignore_errors=True)
            raise
        return cls(server, con, load)

    def summary(self, sql: str, pbx_ids: list[str], window: UtcWindow) -> list[tuple]:
        params = {"pbx": pbx_ids, "start": window.start_ms, "end": window.end_ms}
        with self.con.cursor() as cur:
            return cur.execute(sql, params).fetchall()

    def stop(self) -> None:
        """Stop the server and remove its files (a copy of every leg)."""
        try:
            self.con.close()
        finally:
            self.server.stop()
            shutil.rmtree(self.server.root, ignore_errors=True)


def _load_postgres(pg, store_con) -> dict[str, object]:
    """COPY the legs (as CSV written by Arrow, streamed) and the directory, index, analyze."""
    from workanalytics.directory import COLUMNS as DIRECTORY_COLUMNS
    from workanalytics.directory import ddl as directory_ddl
    from workanalytics.legs import COLUMNS

    types = {c.name: c for c in COLUMNS}
    cols = ", ".join(
        f"{c} {types[c].sql_type}{' NOT NULL' if types[c].required else ''}" for c in PG_LEG_COLUMNS
    )
    started = time.perf_counter()
    pg.execute(f"CREATE TABLE legs ({cols})")
    pg.execute(directory_ddl("directory"))
    legs = _copy_into(
        pg, store_con, "legs", PG_LEG_COLUMNS, f"SELECT {', '.join(PG_LEG_COLUMNS)} FROM legs"
    )
    _copy_into(
        pg, store_con, "directory", DIRECTORY_COLUMNS,
        f"SELECT {', '.join(DIRECTORY_COLUMNS)} FROM directory",
    )  # fmt: skip
    copied = time.perf_counter()
    pg.execute("CREATE INDEX legs_start_time ON legs (start_time)")
    pg.execute("VACUUM ANALYZE legs")
    pg.execute("ANALYZE directory")
    done = time.perf_counter()
    settings = {
        name: pg.execute(f"SHOW {name}").fetchone()[0]
        for name in ("server_version", "shared_buffers", "work_mem", "jit",
                     "max_parallel_workers_per_gather")
    }  # fmt: skip
    return {
        "legs": legs,
        "copy_seconds": round(copied - started, 3),
        "index_analyze_seconds": round(done - copied, 3),
        "legs_per_s": round(legs / max(copied - started, 1e-9)),
        "settings": settings,
    }


def _copy_into(pg, store_con, table: str, columns, sql: str) -> int:
    """Stream a DuckDB query into a PostgreSQL table with COPY ... (FORMAT csv).

    Arrow writes each batch as CSV in C++: strings quoted (so an empty string stays one),
    NULLs as empty fields, booleans as true/false, all of which COPY reads back as they were.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rows = 0
    options = pacsv.WriteOptions(include_header=False)
    with store_con.cursor() as duck, pg.cursor() as cur:
        reader = duck.sql(sql).to_arrow_reader(256 * 1024)
        with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT csv)") as copy:
            for batch in reader:
                sink = pa.BufferOutputStream()
                pacsv.write_csv(batch, sink, options)
                copy.write(memoryview(sink.getvalue()))
                rows += batch.num_rows
    return rows


#: Legs per file the ClickHouse store is given: its ingest holds a whole file in memory (as
#: Python lists on the way to the driver, a few KB a leg), so the benchmark's one big file is
#: handed over in parts, each stored whole, one after the other by one command.
CLICKHOUSE_FILE_LEGS = 1_000_000
#: The benchmark's database on its ClickHouse server.
CLICKHOUSE_DATABASE = "bench"


@dataclass
class ClickHouseColumn:
    """The scale-out store on one ClickHouse server started by the benchmark: the same legs,
    ingested through the CLI, answering through its engine and its own HTTP server."""

    server: object  # localservers.clickhouse.ClickHouseServer
    root: Path
    url: str
    ingest: dict[str, object]
    svc: object | None = None  # Services over the ClickHouse store, once serving
    running: object | None = None  # its HTTP server
    http: object | None = None  # httpx.Client to it
    timed: TimedGet | None = None  # what times it
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def start(cls, root: Path, legs: Path, file_legs: int) -> ClickHouseColumn | str:
        """A server holding the legs (ingest measured), or why there is none."""
        try:
            from workanalytics.localservers import clickhouse
        except ImportError as exc:
            return f"no ClickHouse support here ({exc})"
        if not clickhouse.available():
            return "no ClickHouse server here (apt-get install clickhouse-server)"
        try:
            import clickhouse_driver  # noqa: F401
        except ImportError:
            return "clickhouse-driver is not installed (pip install clickhouse-driver)"
        shutil.rmtree(root, ignore_errors=True)
        try:
            (server,) = clickhouse.start_cluster(root / "server", shards=1)
        except (clickhouse.ClickHouseUnavailable, RuntimeError) as exc:
            shutil.rmtree(root, ignore_errors=True)
            return f"ClickHouse cannot run here: {exc}"
        try:
            url = server.url.rsplit("/", 1)[0] + f"/{CLICKHOUSE_DATABASE}"
            files = split_parquet(legs, root / "files", file_legs)
            ingest = measure_ingest(files, root / "service", store_url=url)
            ingest["files"] = len(files)
            ingest["merge_wait_seconds"] = _wait_for_merges(server.tcp_port)
            ingest["server_peak_rss_mb"] = _peak_rss_mb(server.process.pid)
            ingest["server_version"] = _clickhouse_version(server.tcp_port)
        except BaseException:
            server.stop()
            shutil.rmtree(root, ignore_errors=True)
            raise
        return cls(server, root, url, ingest)

    @property
    def store(self):
        return self.svc.store

    def serve(self) -> None:
        """An HTTP server over the ClickHouse store, with a user and key like the embedded
        one's (its control plane beside the ingest's, in ``service/``)."""
        import httpx

        from workanalytics.api.server import start_in_thread
        from workanalytics.api.services import Services
        from workanalytics.settings import Settings

        settings = Settings(data_dir=self.root / "service", store_url=self.url, retention_years=0)
        self.svc = Services.open(settings)
        self.svc.control.add_user("bench", "bench-password", all_pbxes=True)
        _key, api_key = self.svc.control.create_api_key(name="bench")
        self.running = start_in_thread(settings, services=self.svc)
        self.http = httpx.Client(base_url=self.running.url + "/analytics/work", timeout=120)
        self.headers = _login(self.http, api_key)
        self.timed = TimedGet(self.running.url + "/analytics/work", self.headers)

    def stop(self) -> None:
        """Stop the HTTP server and ClickHouse, and remove its files (a copy of every leg).
        Stopping twice is harmless."""
        http, timed, running, svc = self.http, self.timed, self.running, self.svc
        self.http = self.timed = self.running = self.svc = None
        try:
            if http is not None:
                http.close()
            if timed is not None:
                timed.__exit__()
            if running is not None:
                running.stop()
            if svc is not None:
                svc.close()
        finally:
            self.server.stop()
            shutil.rmtree(self.root, ignore_errors=True)


def split_parquet(path: Path, directory: Path, legs_per_file: int) -> list[Path]:
    """The file itself when small enough, else parts of at most ``legs_per_file`` legs."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = pq.ParquetFile(path)
    if source.metadata.num_rows <= legs_per_file:
        return [path]
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, batch in enumerate(source.iter_batches(batch_size=legs_per_file)):
        paths.append(directory / f"part-{i:04d}.parquet")
        pq.write_table(pa.Table.from_batches([batch]), paths[-1])
    return paths


def _peak_rss_mb(pid: int) -> float | None:
    """A process's peak resident memory so far (Linux), or None."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def _clickhouse_client(tcp_port: int):
    from clickhouse_driver import Client

    return Client(host="127.0.0.1", port=tcp_port)


def _clickhouse_version(tcp_port: int) -> str:
    client = _clickhouse_client(tcp_port)
    try:
        return client.execute("SELECT version()")[0][0]
    finally:
        client.disconnect()


def _wait_for_merges(tcp_port: int, timeout_s: float = 900) -> float:
    """Wait until ClickHouse has no background merge running (twice in a row), so merges
    after the load take no CPU from the measurements; the seconds waited."""
    client = _clickhouse_client(tcp_port)
    started = time.perf_counter()
    quiet = 0
    try:
        while quiet < 2 and time.perf_counter() - started < timeout_s:
            running = client.execute("SELECT count() FROM system.merges")[0][0]
            quiet = quiet + 1 if running == 0 else 0
            if quiet < 2:
                time.sleep(0.5)
    finally:
        client.disconnect()
    return round(time.perf_counter() - started, 3)


class TimedGet:
    """GETs for timing, by the standard library's client: one keep-alive connection, each
    body read whole in one call. httpx gathers a 5 MB body in 64 KB pieces and spends about
    6 ms of its own on it: the client's cost, not the service's."""

    def __init__(self, base_url: str, headers: dict[str, str]):
        parts = urlsplit(base_url)
        self.prefix = parts.path.rstrip("/")
        self.headers = headers
        self.connection = HTTPConnection(parts.hostname, parts.port, timeout=120)

    def get(self, path: str, params: dict[str, str]) -> tuple[int, bytes]:
        target = f"{self.prefix}{path}?{urlencode(params)}"
        try:
            self.connection.request("GET", target, headers=self.headers)
            response = self.connection.getresponse()
        except (RemoteDisconnected, ConnectionError):
            # The server closes a connection left idle (while the baselines ran): reconnect.
            self.connection.close()
            self.connection.request("GET", target, headers=self.headers)
            response = self.connection.getresponse()
        return response.status, response.read()

    def __enter__(self) -> TimedGet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.connection.close()


def _login(http, api_key: str) -> dict[str, str]:
    """Headers of a logged-in ``bench`` user (a token, and the key it came with)."""
    response = http.post(
        "/v1/oauth/token",
        headers={"8x8-apikey": api_key},
        data={"username": "bench", "password": "bench-password"},
    )
    if response.status_code != 200:
        raise SystemExit(f"login: HTTP {response.status_code} {response.text[:300]}")
    return {"8x8-apikey": api_key, "Authorization": f"Bearer {response.json()['access_token']}"}


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


# --- under load ---------------------------------------------------------------------------

#: Zones the load clients mix: a DST zone each side of the equator, :45 and :30 offsets, UTC.
LOAD_ZONES = ("America/New_York", "Asia/Kathmandu", "Asia/Kolkata", "Australia/Adelaide", "UTC")
#: The PBX legs stream into during the load: the checked queries never name it.
STREAM_PBX = "bench-stream"


@dataclass(frozen=True)
class LoadQuery:
    name: str
    kind: str  # day, month or year
    params: dict[str, str]
    digest: str = ""  # sha256 of the expected answer


def load_queries(days: int, pbx_ids: list[str]) -> list[LoadQuery]:
    """Day, month and year windows in every load zone; every other zone with mid-day edges
    (08:30 to 17:44:59 local), so raw legs at the edges are read too."""
    out = []
    for kind, (first, last) in windows(days).items():
        for i, zone in enumerate(LOAD_ZONES):
            start, end = (
                (f"{first[:10]} 08:30:00", f"{last[:10]} 17:44:59") if i % 2 else (first, last)
            )
            params = {"pbxId": ",".join(pbx_ids), "startTime": start, "endTime": end}
            out.append(LoadQuery(f"{kind} {zone}", kind, params | {"timeZone": zone}))
    return out


def make_stream_batches(store_con, directory: Path, batches: int, batch_legs: int) -> list[Path]:
    """Canonical Parquet bodies for the online ingest endpoint: copies of stored legs under
    the stream PBX, picked and ordered by a hash so each batch spreads over the whole year
    (many days and months of rollups to maintain per batch)."""
    from workanalytics.legs import COLUMN_NAMES

    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    cols = ", ".join(c for c in COLUMN_NAMES if c != "pbx_id")
    table = store_con.sql(
        f"SELECT '{STREAM_PBX}' AS pbx_id, {cols} FROM legs "
        "ORDER BY hash(pbx_id, call_id, leg_id), pbx_id, call_id, leg_id LIMIT $n",
        params={"n": batches * batch_legs},
    ).to_arrow_table()
    # Source PBXs may share a call id; within the stream PBX every leg keeps its own.
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = table.set_column(
        table.column_names.index("call_id"),
        "call_id",
        pc.binary_join_element_wise(
            table["call_id"], pa.array([str(i) for i in range(table.num_rows)]), "-"
        ),
    )
    paths = []
    for i in range(batches):
        part = table.slice(i * batch_legs, batch_legs)
        if part.num_rows:
            paths.append(directory / f"batch-{i:04d}.parquet")
            pq.write_table(part, paths[-1])
    return paths


def _percentile(samples: list[float], q: float) -> float:
    import numpy as np

    return round(float(np.percentile(samples, q)), 2) if samples else 0.0


def _run_load_clients(spec: dict) -> dict:
    """In a process of its own (the server's GIL stays the server's): ``clients`` closed-loop
    HTTP clients, and one streamer posting the batches, paced so that batch i goes out once
    i/(batches+1) of the requests have been sent. Bounded by ``requests`` and ``seconds``."""
    import asyncio

    return asyncio.run(_load(spec))


async def _load(spec: dict) -> dict:
    import asyncio
    import hashlib
    import random

    import httpx

    queries: list[LoadQuery] = spec["queries"]
    total, deadline = spec["requests"], time.perf_counter() + spec["seconds"]
    rng = random.Random(spec["seed"])
    order = [rng.randrange(len(queries)) for _ in range(total)]
    issued = 0
    samples: list[tuple[str, float, float]] = []  # (kind, started, ended)
    failures: list[str] = []
    ingests: list[tuple[float, float, int]] = []
    clients_done = asyncio.Event()
    limits = httpx.Limits(max_connections=spec["clients"] + 1)
    timeout = httpx.Timeout(spec["seconds"])

    async with httpx.AsyncClient(base_url=spec["url"], limits=limits, timeout=timeout) as http:

        async def client() -> None:
            nonlocal issued
            while issued < total and time.perf_counter() < deadline:
                q = queries[order[issued]]
                issued += 1
                started = time.perf_counter()
                try:
                    r = await http.get(
                        "/analytics/work/v2/extsum", params=q.params, headers=spec["headers"]
                    )
                except httpx.HTTPError as exc:
                    failures.append(f"{q.name}: {exc!r}")
                    continue
                ended = time.perf_counter()
                if r.status_code != 200:
                    failures.append(f"{q.name}: HTTP {r.status_code} {r.text[:200]}")
                elif hashlib.sha256(r.content).hexdigest() != q.digest:
                    failures.append(f"{q.name}: the answer differs from the baseline's")
                else:
                    samples.append((q.kind, started, ended))

        async def streamer() -> None:
            batches = spec["batches"]
            for i, path in enumerate(batches):
                due = (i + 1) * total // (len(batches) + 1)
                while issued < due and not clients_done.is_set():
                    await asyncio.sleep(0.002)
                if time.perf_counter() >= deadline:
                    break
                started = time.perf_counter()
                try:
                    r = await http.post(
                        "/analytics/work/admin/v1/legs",
                        content=Path(path).read_bytes(),
                        headers=spec["admin_headers"]
                        | {"Content-Type": "application/vnd.apache.parquet"},
                    )
                except httpx.HTTPError as exc:
                    failures.append(f"ingest {path}: {exc!r}")
                    continue
                if r.status_code != 200:
                    failures.append(f"ingest {path}: HTTP {r.status_code} {r.text[:300]}")
                    continue
                ingests.append((started, time.perf_counter(), orjson.loads(r.content)["stored"]))

        async def clients() -> None:
            await asyncio.gather(*(client() for _ in range(spec["clients"])))
            clients_done.set()

        began = time.perf_counter()
        await asyncio.gather(clients(), streamer())
        ended = time.perf_counter()

    latencies = [(e - s) * 1000 for _k, s, e in samples]
    by_kind = {}
    for kind in ("day", "month", "year"):
        ms = [(e - s) * 1000 for k, s, e in samples if k == kind]
        by_kind[kind] = {"n": len(ms), "p50_ms": _percentile(ms, 50), "p99_ms": _percentile(ms, 99)}
    during = sum(1 for _k, s, e in samples if any(s < ie and e > i_s for i_s, ie, _n in ingests))
    streamed = sum(n for *_t, n in ingests)
    ingest_s = sum(e - s for s, e, _n in ingests)
    return {
        "clients": spec["clients"],
        "requests": issued,
        "ok": len(samples),
        "failures": failures,
        "seconds": round(ended - began, 3),
        "requests_per_s": round(len(samples) / (ended - began), 1),
        "p50_ms": _percentile(latencies, 50),
        "p99_ms": _percentile(latencies, 99),
        "by_window": by_kind,
        "batches": len(ingests),
        "streamed_legs": streamed,
        "ingest_legs_per_s": round(streamed / ingest_s) if ingest_s else 0,
        "ingest_p50_ms": _percentile([(e - s) * 1000 for s, e, _n in ingests], 50),
        "requests_during_ingest": during,
        "stopped_by_time_cap": issued < total,
    }


def run_load(args, store, server_url: str, headers: dict, admin_headers: dict) -> dict:
    """16 clients (by default) mixing windows and zones while legs stream in; every answer of
    the checked PBXs must be the baseline's, and afterwards so must the streamed PBX's."""
    import hashlib
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    pbx_ids = [p for p in store.pbx_ids() if p != STREAM_PBX]
    raw_sql = raw_duckdb_sql()
    queries = []
    for q in load_queries(args.days, pbx_ids):
        p = q.params
        window = resolve_window(p["startTime"], p["endTime"], p["timeZone"], retention_years=0)
        answer = store.extension_summary(pbx_ids, window).to_json()
        _check_raw(q.name, store, raw_sql, pbx_ids, window, orjson.loads(answer))
        queries.append(LoadQuery(q.name, q.kind, p, hashlib.sha256(answer).hexdigest()))
    batches = make_stream_batches(
        store.con, args.dir / "stream", args.load_batches, args.load_batch_legs
    )
    spec = {
        "url": server_url, "headers": headers, "admin_headers": admin_headers,
        "queries": queries, "batches": [str(b) for b in batches], "clients": args.load_clients,
        "requests": args.load_requests, "seconds": args.load_seconds, "seed": args.seed,
    }  # fmt: skip
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        result = pool.submit(_run_load_clients, spec).result()
    if result["failures"]:
        shown = "\n  ".join(result["failures"][:10])
        raise SystemExit(f"under load: {len(result['failures'])} failure(s):\n  {shown}")
    stored = store.con.execute(
        "SELECT count(*) FROM legs WHERE pbx_id = $p", {"p": STREAM_PBX}
    ).fetchone()[0]
    if stored != result["streamed_legs"]:
        raise SystemExit(
            f"under load: {result['streamed_legs']} legs streamed, {stored} stored for {STREAM_PBX}"
        )
    # The streamed PBX, now quiet: its answer through HTTP must equal the raw legs' answer.
    import httpx

    with httpx.Client(base_url=server_url, headers=headers, timeout=120) as http:
        for q in queries:
            p = q.params | {"pbxId": STREAM_PBX}
            window = resolve_window(p["startTime"], p["endTime"], p["timeZone"], retention_years=0)
            response = http.get("/analytics/work/v2/extsum", params=p)
            if response.status_code != 200:
                raise SystemExit(f"{q.name} {STREAM_PBX}: HTTP {response.status_code}")
            _check_raw(
                f"{q.name} {STREAM_PBX}", store, raw_sql, [STREAM_PBX], window,
                orjson.loads(response.content),
            )  # fmt: skip
    result["checked_after"] = len(queries)
    del result["failures"]
    return result


def _check_raw(name: str, store, raw_sql: str, pbx_ids, window: UtcWindow, expected) -> None:
    params = {"pbx": list(pbx_ids), "start": window.start_ms, "end": window.end_ms}
    with store.con.cursor() as cur:
        rows = cur.execute(raw_sql, params).fetchall()
    _check(name, "duckdb-raw", expected, {(r[0], r[1]): r for r in rows}, tuples=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="workanalytics.bench", description=__doc__)
    parser.add_argument("--extensions", type=int, default=5000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--dir", type=Path, default=BENCH_DIR)
    parser.add_argument("--out", type=Path, default=Path("bench-results.json"))
    parser.add_argument("--asterisk-rows", type=int, default=1_000_000)
    parser.add_argument("--no-postgres", action="store_true", help="skip baseline (b)")
    parser.add_argument("--no-clickhouse", action="store_true", help="skip the ClickHouse store")
    parser.add_argument(
        "--clickhouse-file-legs", type=int, default=CLICKHOUSE_FILE_LEGS,
        help="legs per file handed to the ClickHouse store (its ingest holds a file in memory)",
    )  # fmt: skip
    load = parser.add_argument_group("under load")
    load.add_argument("--load-clients", type=int, default=16)
    load.add_argument("--load-requests", type=int, default=800, help="in all, across clients")
    load.add_argument("--load-seconds", type=float, default=300, help="time cap of the phase")
    load.add_argument("--load-batches", type=int, default=20, help="bodies streamed in")
    load.add_argument("--load-batch-legs", type=int, default=5000)
    args = parser.parse_args(argv)

    import httpx

    from workanalytics.api.server import start_in_thread
    from workanalytics.api.services import Services
    from workanalytics.settings import Settings

    legs = ensure_data(args.extensions, args.days, args.seed, args.dir)
    data_dir = args.dir / f"store-{legs.stem}"
    ingest = measure_ingest(legs, data_dir)
    ingest["duckdb_copy"] = measure_duckdb_copy(legs, args.dir / "copy")
    print(f"ingest: {ingest}", file=sys.stderr)
    # The same legs as canonical CSV, into a store of their own.
    as_csv = ensure_data(args.extensions, args.days, args.seed, args.dir, ".csv")
    csv_ingest = measure_ingest(as_csv, args.dir / "store-csv")
    shutil.rmtree(args.dir / "store-csv", ignore_errors=True)  # a second copy of every leg
    csv_ingest["duckdb_copy"] = measure_duckdb_copy(as_csv, args.dir / "copy")
    print(f"CSV ingest: {csv_ingest}", file=sys.stderr)
    master = make_master_csv(args.dir / f"Master-{args.asterisk_rows}.csv", args.asterisk_rows)
    asterisk = measure_ingest(
        master, args.dir / "store-asterisk", "--format", "asterisk-csv", "--source-tz", TIME_ZONE
    )
    asterisk["rows_per_s"] = round(asterisk["rows"] / asterisk["seconds"])
    print(f"asterisk ingest: {asterisk}", file=sys.stderr)
    results: dict[str, dict] = {
        "ingest": ingest, "csv_ingest": csv_ingest, "asterisk_ingest": asterisk, "windows": {}
    }  # fmt: skip

    with contextlib.ExitStack() as cleanup:  # whatever happens, every server stops
        # ClickHouse loads first, alone on the machine: its ingest is measured like the
        # embedded store's, and its merges settle before anything is timed.
        ch = _start_clickhouse(args, legs, results)
        if ch is not None:
            cleanup.callback(ch.stop)
        settings = Settings(data_dir=data_dir, retention_years=0)
        svc = Services.open(settings)
        cleanup.callback(svc.close)
        store = svc.store
        svc.control.add_user("bench", "bench-password", all_pbxes=True)
        _key, api_key = svc.control.create_api_key(name="bench")
        _admin, admin_key = svc.control.create_api_key(name="bench-stream", admin=True)
        server = start_in_thread(settings, services=svc)
        cleanup.callback(server.stop)
        http = cleanup.enter_context(
            httpx.Client(base_url=server.url + "/analytics/work", timeout=60)
        )
        headers = _login(http, api_key)
        pbx_ids = store.pbx_ids()
        if args.no_postgres:
            started: PostgresBaseline | str = "skipped (--no-postgres)"
        else:
            started = PostgresBaseline.start(args.dir / "postgres", store.con)
        pg: PostgresBaseline | None = None
        if isinstance(started, str):
            results["postgres"] = {"available": False, "reason": started}
            print(f"PostgreSQL baseline: {started}", file=sys.stderr)
        else:
            pg = started
            cleanup.callback(pg.stop)
            results["postgres"] = {"available": True, **pg.load}
            print(f"PostgreSQL load: {pg.load}", file=sys.stderr)
        if ch is not None:
            ch.serve()
            _check_clickhouse_holds_the_same(ch, store, pbx_ids)
        timed = cleanup.enter_context(TimedGet(server.url + "/analytics/work", headers))
        _measure_windows(args, store, pbx_ids, timed, pg, results, ch)
        # The load phase has the machine to itself (stopping twice is harmless).
        if pg is not None:
            pg.stop()
        if ch is not None:
            ch.stop()
        results["load"] = run_load(args, store, server.url, headers, {"8x8-apikey": admin_key})
        print(f"under load: {results['load']}", file=sys.stderr)
    _print_table(results)
    args.out.write_text(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode())
    print(f"results written to {args.out}", file=sys.stderr)
    return 0


def _start_clickhouse(args, legs: Path, results: dict) -> ClickHouseColumn | None:
    """The ClickHouse column loaded (its ingest in ``results``), or None and why not."""
    if args.no_clickhouse:
        started: ClickHouseColumn | str = "skipped (--no-clickhouse)"
    else:
        started = ClickHouseColumn.start(args.dir / "clickhouse", legs, args.clickhouse_file_legs)
    if isinstance(started, str):
        results["clickhouse"] = {"available": False, "reason": started}
        print(f"ClickHouse store: {started}", file=sys.stderr)
        return None
    ingest, embedded = started.ingest, results["ingest"]
    # How many times the embedded store's ingest rate ClickHouse's is (> 1: slower).
    ingest["ingest_ratio"] = round(embedded["legs_per_s"] / max(ingest["legs_per_s"], 1), 2)
    results["clickhouse"] = {"available": True, "ingest": ingest}
    print(f"ClickHouse ingest: {ingest}", file=sys.stderr)
    if ingest["legs"] != embedded["legs"]:
        started.stop()
        raise SystemExit(
            f"ClickHouse stored {ingest['legs']} legs, the embedded store {embedded['legs']}"
        )
    return started


def _check_clickhouse_holds_the_same(ch: ClickHouseColumn, store, pbx_ids: list[str]) -> None:
    ch_pbx_ids = ch.store.pbx_ids()
    if ch_pbx_ids != pbx_ids:
        raise SystemExit(f"ClickHouse knows PBXs {ch_pbx_ids}, the embedded store {pbx_ids}")
    ch_legs, legs = ch.store.leg_count(), store.leg_count()
    if ch_legs != legs:
        raise SystemExit(f"ClickHouse holds {ch_legs} legs, the embedded store {legs}")


def _measure_windows(args, store, pbx_ids, timed: TimedGet, pg, results, ch=None) -> None:
    raw_sql = raw_duckdb_sql()
    pg_sql = raw_postgres_sql()
    for name, (start, end) in windows(args.days).items():
        window = resolve_window(start, end, TIME_ZONE, retention_years=0)
        engine_ms, answer = _median_of(
            lambda w=window: store.extension_summary_json(pbx_ids, w), args.repeat
        )
        if answer != store.extension_summary(pbx_ids, window).to_json():
            raise SystemExit(f"{name}: the engine's body differs from its rows written by orjson")
        expected = orjson.loads(answer)
        query = {"pbxId": "allpbxes", "startTime": start, "endTime": end, "timeZone": TIME_ZONE}
        http_ms, (status, body) = _median_of(
            lambda q=query: timed.get("/v2/extsum", q), args.repeat
        )
        if status != 200 or body != answer:
            raise SystemExit(f"{name}: the HTTP answer (status {status}) differs from the engine's")
        params = {"pbx": pbx_ids, "start": window.start_ms, "end": window.end_ms}
        raw_ms, raw_rows = _median_of(
            lambda p=params: store.con.execute(raw_sql, p).fetchall(), args.repeat
        )
        _check(name, "duckdb-raw", expected, {(r[0], r[1]): r for r in raw_rows}, tuples=True)
        pandas_ms, measures = _median_of(
            lambda w=window: pandas_summary(store.con, pbx_ids, w), max(1, args.repeat // 3)
        )
        _check_measures(name, store, pbx_ids, window, measures)
        pg_ms = None
        if pg is not None:
            samples, pg_rows = _median_of(
                lambda w=window: pg.summary(pg_sql, pbx_ids, w), max(1, args.repeat // 2)
            )
            _check(name, "postgres", expected, {(r[0], r[1]): r for r in pg_rows}, tuples=True)
            pg_ms = round(statistics.median(samples), 2)
        ch_times = _measure_clickhouse(args, ch, name, pbx_ids, window, query, answer)
        results["windows"][name] = {
            "rows": len(expected),
            "answer_bytes": len(answer),
            "engine_ms": round(statistics.median(engine_ms), 2),
            "http_ms": round(statistics.median(http_ms), 2),
            "duckdb_raw_ms": round(statistics.median(raw_ms), 2),
            "pandas_ms": round(statistics.median(pandas_ms), 2),
            "postgres_ms": pg_ms,
            **ch_times,
        }
        if ch_times["clickhouse_engine_ms"] is not None:
            w = results["windows"][name]
            w["clickhouse_ratio"] = round(w["clickhouse_engine_ms"] / w["engine_ms"], 2)
            w["clickhouse_http_ratio"] = round(w["clickhouse_http_ms"] / w["http_ms"], 2)


def _measure_clickhouse(args, ch, name, pbx_ids, window, query, answer: bytes) -> dict:
    """The ClickHouse store's engine and HTTP medians; each answer must be the embedded
    engine's, byte for byte."""
    if ch is None:
        return {"clickhouse_engine_ms": None, "clickhouse_http_ms": None}
    engine_ms, ch_answer = _median_of(
        lambda: ch.store.extension_summary_json(pbx_ids, window), args.repeat
    )
    if ch_answer != answer:
        raise SystemExit(f"{name}: the ClickHouse engine's answer differs from the embedded one's")
    http_ms, (status, body) = _median_of(lambda: ch.timed.get("/v2/extsum", query), args.repeat)
    if status != 200:
        raise SystemExit(f"{name}: ClickHouse over HTTP: {status} {body[:300]!r}")
    if body != answer:
        raise SystemExit(f"{name}: the ClickHouse HTTP answer differs from the embedded engine's")
    return {
        "clickhouse_engine_ms": round(statistics.median(engine_ms), 2),
        "clickhouse_http_ms": round(statistics.median(http_ms), 2),
    }


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


def _times(ratio: float) -> str:
    """``embedded / other`` of a rate, in words: 3.1 -> "3.1x slower than"."""
    if ratio >= 1:
        return f"{ratio:.1f}x slower than"
    return f"{1 / ratio:.1f}x faster than"


def _copy_line(ingest: dict) -> str:
    """How the ingest compares with DuckDB alone copying the same file into a table."""
    copy = ingest["duckdb_copy"]
    return (
        f"\n  DuckDB alone copies the file into a table in {copy['seconds']} s = "
        f"{copy['rows_per_s']:,} rows/s; the ingest takes "
        f"{ingest['seconds'] / copy['seconds']:.1f}x that"
    )


def _print_table(results: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    ingest = results["ingest"]
    console = Console(stderr=False)
    console.width = max(console.width, 150)  # fourteen columns: not cut to a pipe's 80
    console.print(
        f"ingest: {ingest['legs']:,} legs in {ingest['seconds']} s = "
        f"{ingest['legs_per_s']:,} legs/s, peak RSS {ingest['peak_rss_mb']} MB" + _copy_line(ingest)
    )
    c = results["csv_ingest"]
    console.print(
        f"the same legs as CSV: {c['legs']:,} legs in {c['seconds']} s = "
        f"{c['legs_per_s']:,} legs/s, peak RSS {c['peak_rss_mb']} MB" + _copy_line(c)
    )
    a = results["asterisk_ingest"]
    console.print(
        f"asterisk Master.csv: {a['rows']:,} rows in {a['seconds']} s = {a['rows_per_s']:,} rows/s"
    )
    pg = results["postgres"]
    if pg["available"]:
        console.print(
            f"PostgreSQL {pg['settings']['server_version']}: {pg['legs']:,} legs copied in "
            f"{pg['copy_seconds']} s, index + analyze {pg['index_analyze_seconds']} s"
        )
    else:
        console.print(f"PostgreSQL baseline: n/a, {pg['reason']}")
    ch = results.get("clickhouse", {"available": False, "reason": "not measured"})
    if ch["available"]:
        c = ch["ingest"]
        console.print(
            f"ClickHouse {c['server_version']} (one server): {c['legs']:,} legs from Parquet "
            f"({c['files']} file(s)) in {c['seconds']} s = {c['legs_per_s']:,} legs/s, "
            f"{_times(c['ingest_ratio'])} the embedded store's\n  peak RSS {c['peak_rss_mb']} MB "
            f"(ingesting process), {c['server_peak_rss_mb']} MB (server); its merges settled "
            f"{c['merge_wait_seconds']} s later"
        )
    else:
        console.print(f"ClickHouse store: n/a, {ch['reason']}")
    table = Table(
        title="Extension Summary, all PBXs, medians in ms; ratio = column / embedded store's "
        "(http / http, others / engine); ch = the ClickHouse store"
    )
    columns = ("window", "rows", "http", "engine", "duckdb raw", "ratio", "pandas", "ratio")
    for col in (*columns, "postgres", "ratio", "ch http", "ratio", "ch engine", "ratio"):
        table.add_column(col, justify="right")
    for name, w in results["windows"].items():
        e = w["engine_ms"]
        p = w.get("postgres_ms")
        postgres = [f"{p:.1f}", f"{p / e:.1f}x"] if p is not None else ["n/a", ""]
        ch_e, ch_h = w.get("clickhouse_engine_ms"), w.get("clickhouse_http_ms")
        clickhouse = (
            [f"{ch_h:.1f}", f"{ch_h / w['http_ms']:.1f}x", f"{ch_e:.1f}", f"{ch_e / e:.1f}x"]
            if ch_e is not None
            else ["n/a", "", "n/a", ""]
        )
        table.add_row(
            name, f"{w['rows']:,}", f"{w['http_ms']:.1f}", f"{e:.1f}", f"{w['duckdb_raw_ms']:.1f}",
            f"{w['duckdb_raw_ms'] / e:.1f}x", f"{w['pandas_ms']:.1f}", f"{w['pandas_ms'] / e:.1f}x",
            *postgres, *clickhouse,
        )  # fmt: skip
    console.print(table)
    load = results.get("load")
    if load:
        console.print(
            f"under load: {load['clients']} clients, {load['ok']:,} requests in {load['seconds']} s"
            f" = {load['requests_per_s']:,} req/s, p50 {load['p50_ms']:.1f} ms, "
            f"p99 {load['p99_ms']:.1f} ms; {load['streamed_legs']:,} legs streamed in "
            f"{load['batches']} batches meanwhile ({load['requests_during_ingest']:,} requests "
            "overlapped an ingest); no error, every answer equal to the baseline's"
        )
        for kind, k in load["by_window"].items():
            console.print(
                f"  {kind}: n={k['n']}, p50 {k['p50_ms']:.1f} ms, p99 {k['p99_ms']:.1f} ms"
            )


if __name__ == "__main__":
    raise SystemExit(main())
