"""The scale-out store: call legs in ClickHouse, one server or a cluster sharded by PBX.

How answers stay exact without transactions or waiting for merges:

- ``legs`` is a CollapsingMergeTree. Replacing a leg writes its stored version again with
  ``sign = -1`` beside the new one with ``sign = +1``; every query weighs a leg by its sign,
  so a replaced version cancels out whether or not ClickHouse has merged the pair away yet.
- ``agg_day`` and ``agg_month`` are SummingMergeTrees of the additive measures. Ingest adds
  the deltas that the embedded store would MERGE (computed by the same SQL, in DuckDB, from
  the staged file); queries ``sum()`` them, so unmerged parts add up to the same numbers.
- ``directory`` is a ReplacingMergeTree read with ``argMax`` by version: an imported row
  (version = import time) always beats one ingest added for an extension seen in a leg
  (version 0), and a later import beats an earlier one.

A file is read, validated and deduplicated in DuckDB first (``staging``), exactly as for the
embedded store, so a bad file is refused before anything reaches ClickHouse. The writes that
follow are several inserts; a process killed between them can leave the rollups short of
the legs. Ingest is serialised per process; two writers replacing the same legs at once from
two processes are not (see docs/deployment.md).

With ``cluster``, each table is a ``*_local`` table on every shard with a Distributed table
of the plain name over them, sharded by ``cityHash64(pbx_id)``: all versions of a leg and
all rollup rows of a PBX live on one shard, and a query fans out to every shard.

The SQL here runs on ClickHouse 18.16 (Debian's) and on current releases; tests check it on
both (the server, and chdb).
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from workanalytics import directory
from workanalytics.ingest.sources import LegSource
from workanalytics.legs import COLUMN_NAMES, COLUMNS, IDENTITY, NEVER_NULL, q
from workanalytics.metrics import (
    COUNTED_LEG_PREDICATE,
    MEASURE_NAMES,
    credits_sql,
    measures_sql,
)
from workanalytics.settings import DEFAULT_INGEST_MEMORY_LIMIT, DEFAULT_MEMORY_LIMIT
from workanalytics.store import staging
from workanalytics.store.answer import Answer, DirectoryIndex, build_answer
from workanalytics.store.base import AnswersBySql, IngestReport, StoreError
from workanalytics.store.clickhouse_backends import (
    INSERT_BLOCK_ROWS,
    Backend,
    NativeBackend,
)
from workanalytics.store.rollups import ROLLUPS, compute_deltas, delta_sources
from workanalytics.store.staging import quote_path
from workanalytics.timewindow import UtcWindow, WindowPlan, plan_window

DEFAULT_PORT = 9000
#: ClickHouse types of the canonical leg columns' store types.
_CH_TYPES = {"VARCHAR": "String", "BIGINT": "Int64", "BOOLEAN": "UInt8"}
_LEG_COLS = ", ".join(q(c) for c in COLUMN_NAMES)
_TABLES = ("legs", "agg_day", "agg_month", "directory", "pbxes")


@dataclass(frozen=True)
class ClickHouseURL:
    host: str
    port: int
    database: str
    user: str = "default"
    password: str = ""

    @classmethod
    def parse(cls, url: str) -> ClickHouseURL:
        """``clickhouse://[USER[:PASSWORD]@]HOST[:PORT][/DB]``, native protocol."""
        parts = urlsplit(url)
        shown = _without_password(url)
        if parts.scheme != "clickhouse" or not parts.hostname:
            raise StoreError(
                f"--store {shown!r}: expected clickhouse://HOST:PORT/DB (native protocol)"
            )
        try:
            port = parts.port or DEFAULT_PORT
        except ValueError:
            raise StoreError(f"--store {shown!r}: the port is not a number") from None
        database = parts.path.strip("/") or "default"
        if not re.fullmatch(r"[A-Za-z0-9_]+", database):
            raise StoreError(f"--store {shown!r}: database name {database!r} must be [A-Za-z0-9_]")
        return cls(
            parts.hostname,
            port,
            database,
            unquote(parts.username) if parts.username else "default",
            unquote(parts.password) if parts.password else "",
        )

    def __str__(self) -> str:  # never the password: this ends up in logs and errors
        return f"clickhouse://{self.host}:{self.port}/{self.database}"


def _without_password(url: str) -> str:
    """``url`` fit for a message: anything between ``:`` and ``@`` of its user part hidden."""
    return re.sub(r"(//[^/@:]*):[^/@]*@", r"\1:***@", url)


def _column_type(name: str, sql_type: str) -> str:
    ch = _CH_TYPES[sql_type]
    return ch if name in NEVER_NULL else f"Nullable({ch})"


def _leg_columns_ddl() -> str:
    return ", ".join(f"{q(c.name)} {_column_type(c.name, c.sql_type)}" for c in COLUMNS)


class ClickHouseStore(AnswersBySql):
    """Legs, rollups, directory and PBX list in ClickHouse; answers finished in numpy."""

    def __init__(
        self,
        url: str,
        *,
        cluster: str | None = None,
        work_dir: Path,
        memory_limit: str = DEFAULT_MEMORY_LIMIT,
        ingest_memory_limit: str = DEFAULT_INGEST_MEMORY_LIMIT,
        backend: Backend | None = None,
        read_only: bool = False,
    ):
        self.url = ClickHouseURL.parse(url)
        if cluster is not None and not re.fullmatch(r"[A-Za-z0-9_.-]{1,128}", cluster):
            raise StoreError(f"--cluster {cluster!r}: expected a name of A-Z a-z 0-9 _ . -")
        self.cluster = cluster
        self.work_dir = Path(work_dir)
        self.memory_limit = memory_limit
        self.ingest_memory_limit = ingest_memory_limit
        self.ch: Backend = backend or NativeBackend(
            self.url.host,
            self.url.port,
            user=self.url.user,
            password=self.url.password,
            # A cluster's inserts reach their shard before the insert returns.
            settings={"insert_distributed_sync": 1} if cluster else None,
            label=str(self.url),
        )
        self._write_lock = threading.Lock()
        self._index: tuple[object, DirectoryIndex] | None = None
        if read_only:  # a reader creates nothing (and may lack the right to)
            return
        try:
            self._create_schema()
        except BaseException:
            self.close()
            raise

    def _shards(self) -> list[Backend]:
        if self.cluster is None:
            return [self.ch]
        rows = self.ch.select(
            "SELECT host_address, port FROM system.clusters WHERE cluster = %(c)s "
            "ORDER BY shard_num, replica_num",
            {"c": self.cluster},
        )
        if rows.num_rows == 0:
            raise StoreError(
                f"{self.url}: no cluster {self.cluster!r} in system.clusters "
                "(remote_servers in the server's config)"
            )
        return [
            self.ch.for_shard(host, int(port))
            for host, port in zip(
                rows.column("host_address").to_pylist(),
                rows.column("port").to_pylist(),
                strict=True,
            )
        ]

    # --- schema --------------------------------------------------------------------------

    def _create_schema(self) -> None:
        measures = ", ".join(f"{m} Int64" for m in MEASURE_NAMES)
        dir_cols = ", ".join(f"{c} String" for c in directory.COLUMNS)
        suffix = "_local" if self.cluster else ""
        ddl = {
            "legs": (
                f"({_leg_columns_ddl()}, sign Int8) ENGINE = CollapsingMergeTree(sign) "
                # Monthly parts: a window's edges and a re-ingest touch few of them.
                "PARTITION BY intDiv(start_time, 2678400000) "
                f"ORDER BY (pbx_id, start_time, {', '.join(IDENTITY[1:])})"
            ),
            "agg_day": (
                f"(pbx_id String, extension String, day Int64, {measures}) "
                "ENGINE = SummingMergeTree ORDER BY (pbx_id, day, extension)"
            ),
            "agg_month": (
                f"(pbx_id String, extension String, month Int64, {measures}) "
                "ENGINE = SummingMergeTree ORDER BY (pbx_id, month, extension)"
            ),
            "directory": (
                f"({dir_cols}, imported UInt8, version UInt64) "
                "ENGINE = ReplacingMergeTree(version) ORDER BY (pbx_id, extension)"
            ),
            "pbxes": "(pbx_id String) ENGINE = ReplacingMergeTree ORDER BY pbx_id",
        }
        db = self.url.database
        for shard in self._shards():
            try:
                shard.command(f"CREATE DATABASE IF NOT EXISTS {db}")
                for table in _TABLES:
                    shard.command(f"CREATE TABLE IF NOT EXISTS {db}.{table}{suffix} {ddl[table]}")
                    if self.cluster:
                        shard.command(
                            f"CREATE TABLE IF NOT EXISTS {db}.{table} AS {db}.{table}_local "
                            f"ENGINE = Distributed('{self.cluster}', {db}, {table}_local, "
                            "cityHash64(pbx_id))"
                        )
            finally:
                if shard is not self.ch:
                    shard.close()

    # --- writing -------------------------------------------------------------------------

    def ingest(
        self,
        source: LegSource,
        *,
        skip_invalid: bool = False,
        reject_path: Path | None = None,
        check_pbx_ids: Callable[[list[str]], None] | None = None,
    ) -> IngestReport:
        report = IngestReport(path=source.path, format=source.format_name)
        con = duckdb.connect(config={"memory_limit": self.ingest_memory_limit})
        try:
            con.execute("SET enable_progress_bar = false")
            # Staging a large file spills here rather than outgrowing the memory limit.
            con.execute(f"SET temp_directory = {quote_path(self.work_dir / 'tmp')}")
            staging.stage(
                con,
                source,
                report,
                skip_invalid=skip_invalid,
                reject_path=reject_path,
                reject_dir=self.work_dir,
            )
            if check_pbx_ids is not None:
                check_pbx_ids(report.pbx_ids)  # may refuse the file before anything is written
            if report.pbx_ids:
                with self._write_lock:
                    self._apply(con, report)
        finally:
            staging.clean_up(con)
            con.close()
        return report

    def _apply(self, con: duckdb.DuckDBPyConnection, report: IngestReport) -> None:
        """Send the file's legs, cancel the versions they replace, add the rollup deltas."""
        incoming = f"incoming_{uuid.uuid4().hex}"
        db = self.url.database
        self.ch.command(
            f"CREATE TABLE {db}.{incoming} ({_leg_columns_ddl()}, sign Int8) ENGINE = Memory"
        )
        try:
            # Streamed in blocks: a file of millions of legs never sits whole in Python.
            reader = con.sql(f"SELECT {_LEG_COLS}, 1::TINYINT AS sign FROM good").to_arrow_reader(
                INSERT_BLOCK_ROWS
            )
            for batch in reader:
                self.ch.insert(f"{db}.{incoming}", pa.Table.from_batches([batch]))
                report.legs_stored += batch.num_rows
            # The stored versions of these legs: still counted (sign sum > 0), about to go.
            ident = ", ".join(IDENTITY)
            old = self.ch.select(
                f"SELECT {_LEG_COLS} FROM {db}.legs "
                f"WHERE pbx_id IN %(pbx)s AND ({ident}) GLOBAL IN "
                f"(SELECT {ident} FROM {db}.{incoming} WHERE sign = 1) "
                f"GROUP BY {_LEG_COLS} HAVING sum(sign) > 0",
                {"pbx": tuple(report.pbx_ids)},
            )
            report.legs_replaced = old.num_rows
            con.register("old_in", old)
            con.execute("CREATE OR REPLACE TEMP TABLE old AS SELECT * FROM old_in")
            con.unregister("old_in")
            self.ch.insert(f"{db}.{incoming}", old.append_column("sign", _repeat(-1, old.num_rows)))
            # One statement, not two: an error can no longer cancel old versions and leave
            # out their replacements.
            self.ch.command(f"INSERT INTO {db}.legs SELECT * FROM {db}.{incoming}")
            compute_deltas(con)
            as_bigint = ", ".join(f"CAST({m} AS BIGINT) AS {m}" for m in MEASURE_NAMES)
            for table, key in ROLLUPS:
                delta = con.sql(
                    f"SELECT pbx_id, extension, {key}, {as_bigint} FROM ({delta_sources()[table]})"
                ).to_arrow_table()
                self.ch.insert(f"{db}.{table}", delta)
            report.new_extensions = self._add_seen_extensions(con, report.pbx_ids)
            self.ch.insert(f"{db}.pbxes", pa.table({"pbx_id": pa.array(report.pbx_ids)}))
        finally:
            self.ch.command(f"DROP TABLE IF EXISTS {db}.{incoming}")

    def _add_seen_extensions(self, con: duckdb.DuckDBPyConnection, pbx_ids: list[str]) -> int:
        known = self.ch.select(
            f"SELECT DISTINCT pbx_id, extension FROM {self.url.database}.directory "
            "WHERE pbx_id IN %(pbx)s",
            {"pbx": tuple(pbx_ids)},
        )
        con.register("known_in", known)
        try:
            new = con.sql(
                "SELECT DISTINCT s.pbx_id, s.ext AS extension FROM (SELECT pbx_id, "
                "caller_ext AS ext FROM good UNION ALL SELECT pbx_id, callee_ext FROM good) s "
                "ANTI JOIN known_in k ON k.pbx_id = s.pbx_id AND k.extension = s.ext "
                "WHERE s.ext IS NOT NULL"
            ).to_arrow_table()
        finally:
            con.unregister("known_in")
        if new.num_rows:
            keys = ("pbx_id", "extension")
            rows = {c: new.column(c) if c in keys else None for c in directory.COLUMNS}
            self._insert_directory(rows, new.num_rows, imported=False)
        return new.num_rows

    def _insert_directory(self, columns: dict, n: int, *, imported: bool) -> None:
        """Directory rows; ``None`` columns are empty, service type UE. An import's version
        is its time, so it replaces earlier rows; a seen extension's is 0, replacing none."""
        version = time.time_ns() if imported else 0
        defaults = {"service_type": directory.DEFAULT_SERVICE_TYPE}
        arrays = {
            c: columns[c] if columns[c] is not None else _repeat(defaults.get(c, ""), n)
            for c in directory.COLUMNS
        }
        arrays["imported"] = _repeat(int(imported), n, pa.uint8())
        arrays["version"] = _repeat(version, n, pa.uint64())
        self.ch.insert(f"{self.url.database}.directory", pa.table(arrays))

    def upsert_directory(self, rows: pa.Table) -> int:
        rows = rows.select(list(directory.COLUMNS))
        with self._write_lock:
            self._insert_directory(
                {c: rows.column(c) for c in directory.COLUMNS}, rows.num_rows, imported=True
            )
            pbx = pc.unique(rows.column("pbx_id"))
            self.ch.insert(f"{self.url.database}.pbxes", pa.table({"pbx_id": pbx}))
        return rows.num_rows

    # --- reading -------------------------------------------------------------------------

    def _measures_query(self, plan: WindowPlan) -> str:
        """Summed measures per (PBX, extension) over a window plan: its raw edges, whole days
        and whole months."""
        # Never a plan that takes legs away: see _measures.
        assert not plan.raw_less, "the ClickHouse store only adds"
        db = self.url.database
        parts = []
        if plan.raw:
            counted = (
                f"(SELECT * FROM {db}.legs WHERE pbx_id IN %(pbx)s "
                f"AND {plan.spans_sql('raw', _param)} AND {COUNTED_LEG_PREDICATE})"
            )
            parts.append(measures_sql(credits_sql(counted, carry=("sign",)), weight="sign"))
        measures = ", ".join(MEASURE_NAMES)
        if plan.days:
            parts.append(
                f"SELECT pbx_id, extension, {measures} FROM {db}.agg_day "
                f"WHERE pbx_id IN %(pbx)s AND {plan.spans_sql('day', _param)}"
            )
        if plan.months is not None:
            parts.append(
                f"SELECT pbx_id, extension, {measures} FROM {db}.agg_month "
                "WHERE pbx_id IN %(pbx)s AND month >= %(month_start)s AND month < %(month_end)s"
            )
        totals = ", ".join(f"sum({m}) AS {m}" for m in MEASURE_NAMES)
        return (
            f"SELECT pbx_id, extension, {totals} FROM ({' UNION ALL '.join(parts)}) "
            "GROUP BY pbx_id, extension"
        )

    def _measures(self, pbx_ids: Sequence[str], window: UtcWindow) -> pa.Table:
        # Only adding: a file's legs land before its rollup rows (no transaction spans
        # both), so legs taken away from a day could be missing from it, and count below 0.
        plan = plan_window(window, take_away=False)
        params: dict[str, object] = {"pbx": tuple(pbx_ids), **plan.parameters()}
        return self.ch.select(self._measures_query(plan), params)

    def _directory_index(self) -> DirectoryIndex:
        """The directory prepared for answers. Other replicas write it too, so a cheap
        fingerprint (rows, newest version, a hash of every row's identity and version) is
        read per answer, and the directory itself only when that changed."""
        db = self.url.database
        (fingerprint,) = (
            self.ch.select(
                "SELECT concat(toString(count()), '/', toString(max(version)), '/', "
                f"toString(sum(cityHash64(pbx_id, extension, version)))) AS f FROM {db}.directory"
            )
            .column("f")
            .to_pylist()
        )
        cached = self._index
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
        latest = ", ".join(f"argMax({c}, version) AS {c}" for c in directory.COLUMNS[2:])
        table = self.ch.select(
            f"SELECT pbx_id, extension, {latest} FROM {db}.directory GROUP BY pbx_id, extension"
        )
        index = DirectoryIndex.build(table)
        self._index = (fingerprint, index)
        return index

    def _answer(self, pbx_ids: Sequence[str], window: UtcWindow, version: int) -> Answer:
        return build_answer(self._measures(pbx_ids, window), self._directory_index(), version)

    def directory_extensions(self) -> pa.Table:
        return self.ch.select(
            f"SELECT pbx_id, extension FROM {self.url.database}.directory "
            "GROUP BY pbx_id, extension HAVING max(imported) = 1"
        )

    def pbx_ids(self) -> list[str]:
        rows = self.ch.select(f"SELECT DISTINCT pbx_id FROM {self.url.database}.pbxes ORDER BY 1")
        return rows.column("pbx_id").to_pylist()

    def ping(self) -> None:
        self.ch.select("SELECT 1 AS one")

    def leg_count(self) -> int:
        total = self.ch.select(f"SELECT sum(sign) AS n FROM {self.url.database}.legs")
        return total.column("n")[0].as_py() or 0

    def close(self) -> None:
        self.ch.close()


def _repeat(value: object, n: int, type_: pa.DataType | None = None) -> pa.Array:
    if type_ is None:
        type_ = pa.string() if isinstance(value, str) else pa.int8()
    return pa.repeat(pa.scalar(value, type_), n)


def _param(name: str) -> str:
    return f"%({name})s"
