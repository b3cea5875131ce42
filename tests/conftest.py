"""Shared test helpers: build legs by hand, store them, and read reports back."""

from __future__ import annotations

import csv
import itertools
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest

from workanalytics.directory import COLUMNS as DIRECTORY_COLUMNS
from workanalytics.directory import read_directory_csv
from workanalytics.ingest import open_source
from workanalytics.legs import COLUMN_NAMES
from workanalytics.localservers import postgres
from workanalytics.store import DuckDBStore
from workanalytics.timewindow import UtcWindow


@dataclass
class Leg:
    """A canonical leg with instants as epoch ms; None means empty."""

    pbx_id: str = "acme"
    call_id: str = "c1"
    leg_id: int = 1
    start_time: int = 1_772_370_000_000  # 2026-03-01T13:00:00Z
    connect_time: int | None = None
    end_time: int = 1_772_370_010_000
    caller: str = "+15551234567"
    callee: str = "1001"
    caller_ext: str | None = None
    callee_ext: str | None = "1001"
    abandoned: bool = False
    voicemail: bool = False
    status: str = "Completed"
    caller_name: str | None = None
    callee_name: str | None = None
    hold_ms: int = 0
    cause: str | None = None
    parent_call_id: str | None = None
    transfer_to_call_id: str | None = None
    dnis: str | None = None
    sip_call_id: str | None = None
    extra: dict = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        *,
        pbx_id: str,
        call_id: str,
        start: int,
        ring: int,
        talk: int,
        answered: bool,
        outcome: str = "none",
        caller_ext: str | None = None,
        callee_ext: str | None = None,
        status: str = "Completed",
        leg_id: int = 1,
    ) -> Leg:
        """A leg from what a random test draws: ring and talk times, answered or an outcome
        (``none``, ``abandoned``, ``voicemail``), and who the extensions are."""
        return cls(
            pbx_id=pbx_id,
            call_id=call_id,
            leg_id=leg_id,
            start_time=start,
            connect_time=start + ring if answered else None,
            end_time=start + ring + talk,
            caller=caller_ext or "+15550000001",
            callee=callee_ext or "+15550000002",
            caller_ext=caller_ext,
            callee_ext=callee_ext,
            abandoned=outcome == "abandoned",
            voicemail=outcome == "voicemail",
            status=status,
        )

    def row(self) -> dict[str, object]:
        data = asdict(self)
        data.pop("extra")
        return {k: data[k] for k in COLUMN_NAMES}


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write_legs_csv(path: Path, legs: Iterable[Leg]) -> Path:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMN_NAMES)
        for leg in legs:
            row = leg.row()
            writer.writerow([_cell(row[c]) for c in COLUMN_NAMES])
    return path


def write_directory_csv(path: Path, rows: Sequence[dict[str, str]]) -> Path:
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=DIRECTORY_COLUMNS)
        writer.writeheader()
        for r in rows:
            writer.writerow({c: r.get(c, "") for c in DIRECTORY_COLUMNS})
    return path


class StoreHelper:
    """A fresh store in a temp dir, with one-liners to fill it and query it."""

    def __init__(self, tmp_path: Path, store=None):
        self.tmp_path = tmp_path
        self.store = store or DuckDBStore(tmp_path / "data" / "legs.duckdb")
        self._n = 0

    def add(self, legs: Iterable[Leg]):
        self._n += 1
        path = write_legs_csv(self.tmp_path / f"legs{self._n}.csv", legs)
        return self.store.ingest(open_source(path))

    def add_directory(self, rows: Sequence[dict[str, str]]) -> None:
        self._n += 1
        path = write_directory_csv(self.tmp_path / f"dir{self._n}.csv", rows)
        self.store.upsert_directory(read_directory_csv(path))

    def summary(self, pbx_ids=("acme",), window: UtcWindow | None = None, version: int = 2):
        window = window or UtcWindow(0, 2**62)
        return self.store.extension_summary(list(pbx_ids), window, version=version).as_dicts()

    def row(self, extension: str, **kw) -> dict[str, object]:
        rows = [r for r in self.summary(**kw) if r["Extension"] == extension]
        assert len(rows) == 1, f"expected one row for {extension}, got {rows}"
        return rows[0]


@pytest.fixture
def store_helper(tmp_path: Path):
    helper = StoreHelper(tmp_path)
    yield helper
    helper.store.close()


# --- PostgreSQL, for the shared control plane -------------------------------------------------

#: Set to 1 where the scale-out servers must be there (CI): their tests then fail, not skip.
REQUIRE_SCALEOUT_ENV = "WORKANALYTICS_REQUIRE_SCALEOUT"


def unavailable_server(reason: str):
    if os.environ.get(REQUIRE_SCALEOUT_ENV) == "1":
        pytest.fail(f"{reason} (and {REQUIRE_SCALEOUT_ENV}=1)")
    pytest.skip(reason)


def need_postgres() -> None:
    """Skip the test when PostgreSQL cannot start here (fail instead where it must)."""
    if not postgres.available():
        unavailable_server("PostgreSQL is not installed (apt-get install postgresql)")


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory) -> Iterator[postgres.PostgresServer]:
    """One real PostgreSQL for the session, on loopback, from Debian's packages."""
    need_postgres()
    try:
        server = postgres.start_postgres(tmp_path_factory.mktemp("postgres"))
    except postgres.PostgresUnavailable as exc:
        unavailable_server(str(exc))
    try:
        yield server
    finally:
        server.stop()


_databases = itertools.count(1)


def _pg_admin(server: postgres.PostgresServer) -> dict:
    return dict(host="127.0.0.1", port=server.port, user=postgres.ROLE, dbname="postgres")


def new_postgres_database(server: postgres.PostgresServer) -> str:
    """The URL of a new, empty database on ``server`` (left for the server's end to drop)."""
    import psycopg

    name = f"test_{os.getpid()}_{next(_databases)}"
    with psycopg.connect(**_pg_admin(server), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql://{postgres.ROLE}@127.0.0.1:{server.port}/{name}"


@pytest.fixture
def postgres_url(postgres_server: postgres.PostgresServer) -> Iterator[str]:
    """The URL of a fresh, empty database of the session's PostgreSQL, for this test only."""
    import psycopg

    url = new_postgres_database(postgres_server)
    yield url
    with psycopg.connect(**_pg_admin(postgres_server), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def control_url(request) -> str | None:
    """Where the control plane lives, once per kind: None (SQLite in the data dir, with the
    signing keys as files) or a fresh PostgreSQL database (keys in its table)."""
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("postgres_url")


# --- ClickHouse, for the scale-out leg store --------------------------------------------------

#: The cluster the session's two ClickHouse servers form, one shard each.
TEST_CLUSTER = "workanalytics"
_ch_databases = itertools.count(1)


@pytest.fixture(scope="session")
def clickhouse_servers(tmp_path_factory):
    """Two real ClickHouse servers for the session (Debian's 18.16), two shards of one cluster."""
    from workanalytics.localservers import clickhouse

    if not clickhouse.available():
        unavailable_server("ClickHouse is not installed (apt-get install clickhouse-server)")
    servers = clickhouse.start_cluster(
        tmp_path_factory.mktemp("clickhouse"), shards=2, cluster=TEST_CLUSTER
    )
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


def new_clickhouse_url(servers) -> str:
    """A database name no other test uses, on the first server (created by the store)."""
    return f"clickhouse://127.0.0.1:{servers[0].tcp_port}/t{os.getpid()}_{next(_ch_databases)}"


#: Every engine a store test runs on: embedded, one ClickHouse server, a two-shard cluster,
#: and chdb (the current ClickHouse engine, in-process).
STORE_KINDS = ("duckdb", "clickhouse", "clickhouse-cluster", "chdb")


def open_test_store(kind: str, tmp_path: Path, request):
    """A fresh, empty store of ``kind``."""
    if kind == "duckdb":
        return DuckDBStore(tmp_path / "data" / "legs.duckdb")
    from workanalytics.store.clickhouse_store import ClickHouseStore

    if kind == "chdb":
        from workanalytics.store.clickhouse_backends import ChdbBackend

        url = f"clickhouse://chdb/t{os.getpid()}_{next(_ch_databases)}"
        return ClickHouseStore(url, work_dir=tmp_path, backend=ChdbBackend())
    servers = request.getfixturevalue("clickhouse_servers")
    cluster = TEST_CLUSTER if kind == "clickhouse-cluster" else None
    return ClickHouseStore(new_clickhouse_url(servers), cluster=cluster, work_dir=tmp_path)


@pytest.fixture(params=STORE_KINDS)
def any_store_helper(request, tmp_path: Path):
    """A :class:`StoreHelper` once per engine."""
    helper = StoreHelper(tmp_path, store=open_test_store(request.param, tmp_path, request))
    yield helper
    helper.store.close()


# --- the two configurations the HTTP contract runs on ------------------------------------------


@dataclass(frozen=True)
class Deployment:
    """Where a server keeps its legs and its control plane: ``None`` is the embedded one."""

    name: str
    store_url: str | None = None
    cluster: str | None = None
    control_url: str | None = None


@pytest.fixture(scope="module", params=["embedded", "scaleout"])
def deployment(request) -> Deployment:
    """Embedded (DuckDB + SQLite in the data dir), or scale-out: a fresh database on the
    two-shard ClickHouse cluster and a fresh PostgreSQL database for the control plane."""
    if request.param == "embedded":
        return Deployment("embedded")
    servers = request.getfixturevalue("clickhouse_servers")
    pg = request.getfixturevalue("postgres_server")
    return Deployment(
        "scaleout",
        store_url=new_clickhouse_url(servers),
        cluster=TEST_CLUSTER,
        control_url=new_postgres_database(pg),
    )
