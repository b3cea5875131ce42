"""The embedded store: one DuckDB file in the data directory.

Atomicity comes from DuckDB's transactions: a file's legs, the directory rows they add and
the PBXs they name are written in one transaction, committed only when the whole file has
been read and checked. A process killed before the commit leaves the file as it was; the
write-ahead log makes a commit either whole or absent after a crash.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from workanalytics import directory
from workanalytics.ingest.sources import LegSource
from workanalytics.legs import COLUMN_NAMES, IDENTITY, lit, q, store_table_ddl
from workanalytics.metrics import (
    COUNTED_LEG_PREDICATE,
    MEASURE_NAMES,
    credited_legs_sql,
    credits_from_legs,
    credits_sql,
    measures_per_group,
    measures_sql,
)
from workanalytics.settings import DEFAULT_INGEST_MEMORY_LIMIT, DEFAULT_MEMORY_LIMIT
from workanalytics.store import staging
from workanalytics.store.admission import FairSlots
from workanalytics.store.answer import Answer, DirectoryIndex, answer_of, build_answer
from workanalytics.store.base import AnswersBySql, IngestReport, StoreBusyError, StoreError
from workanalytics.store.rollups import ROLLUPS, compute_deltas, delta_sources
from workanalytics.store.staging import quote_path
from workanalytics.timewindow import UtcWindow, WindowPlan, plan_window

SCHEMA_VERSION = 1


class DuckDBStore(AnswersBySql):
    """Legs, directory and PBX list in one DuckDB file, owned by one process at a time."""

    def __init__(
        self,
        path: Path,
        *,
        memory_limit: str = DEFAULT_MEMORY_LIMIT,
        ingest_memory_limit: str = DEFAULT_INGEST_MEMORY_LIMIT,
        read_only: bool = False,
        answer_slots: int | None = None,
    ):
        self.path = Path(path)
        self.memory_limit = memory_limit
        self.ingest_memory_limit = ingest_memory_limit
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
            raise StoreError(f"{self.path}: no store here yet (run `workanalytics init`)")
        config = {"memory_limit": memory_limit}
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only, config=config)
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise StoreBusyError(
                    f"{self.path} is in use by another process (a running `workanalytics "
                    "serve`?); send legs to the server instead: `workanalytics ingest "
                    "--server URL --api-key KEY FILE`"
                ) from None
            raise StoreError(f"{self.path}: cannot open the store: {exc}") from None
        # DuckDB draws a progress bar on stdout for a slow query when it believes it runs
        # interactively (any `python -c`, a REPL, a notebook): never in this library's output.
        self.con.execute("SET enable_progress_bar = false")
        if not read_only:
            self.con.execute(f"SET temp_directory = {quote_path(self.path.parent / 'tmp')}")
            self._create_schema()
        self._index: DirectoryIndex | None = None
        self._index_lock = threading.Lock()
        self._commits = CommitCounter()
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="duckdb-rollups")
        # Answers are built on this machine's cores: as many at once as there are cores.
        self._slots = FairSlots(
            answer_slots if answer_slots is not None else len(os.sched_getaffinity(0))
        )

    def _create_schema(self) -> None:
        self.con.execute(store_table_ddl("legs"))
        self.con.execute(directory.ddl("directory"))
        self.con.execute("CREATE TABLE IF NOT EXISTS pbxes (pbx_id VARCHAR PRIMARY KEY)")
        self.con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
        measures = ", ".join(f"{name} BIGINT NOT NULL" for name in MEASURE_NAMES)
        for table, key in ROLLUPS:
            self.con.execute(
                f"CREATE TABLE IF NOT EXISTS {table} (pbx_id VARCHAR NOT NULL, "
                f"extension VARCHAR NOT NULL, {key} BIGINT NOT NULL, {measures})"
            )
        self.con.execute(
            "INSERT INTO meta VALUES ('schema_version', ?) ON CONFLICT DO NOTHING",
            [str(SCHEMA_VERSION)],
        )

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
        con = self.con
        # A big file is sorted and written spilling to disk rather than growing the process;
        # the answers' larger buffers come back afterwards.
        con.execute(f"SET memory_limit = {lit(self.ingest_memory_limit)}")
        con.execute("BEGIN TRANSACTION")
        try:
            in_order = staging.stage(
                con,
                source,
                report,
                skip_invalid=skip_invalid,
                reject_path=reject_path,
                reject_dir=self.path.parent,
            )
            if check_pbx_ids is not None:
                check_pbx_ids(report.pbx_ids)  # may refuse the file before anything is written
            self._apply(report, sort=not in_order)
            # Dropped before the commit: left to it, DuckDB spends seconds committing the
            # staged copy (5 s of 28 at 10M legs). ``finally`` repeats it for a failed file.
            staging.clean_up(con)
            with self._commits.committing():
                con.execute("COMMIT")
            if report.new_extensions:
                self._directory_changed()
        except BaseException:
            con.execute("ROLLBACK")
            raise
        finally:
            staging.clean_up(con)
            con.execute(f"SET memory_limit = {lit(self.memory_limit)}")
            con.execute("RESET preserve_insertion_order")
            # Staging restores it after a good read; a failed one leaves it on (never drawn).
            con.execute("SET enable_progress_bar = false")
        return report

    def _apply(self, report: IngestReport, *, sort: bool) -> None:
        con = self.con
        join = " AND ".join(f"legs.{c} = good.{c}" for c in IDENTITY)
        # The stored versions of legs about to be replaced: their credits leave the rollups.
        stored_cols = ", ".join("legs." + q(c) for c in COLUMN_NAMES)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE old AS SELECT {stored_cols} "
            f"FROM legs SEMI JOIN good ON {join}"
        )
        report.legs_replaced = con.execute(f"DELETE FROM legs USING good WHERE {join}").fetchone()[
            0
        ]
        # Clustered by start time, so a window's edges read few row groups of the table.
        order = " ORDER BY start_time" if sort else ""
        if not sort:  # keeping the exact order would hold the whole file in memory
            con.execute("SET preserve_insertion_order = false")  # reset by ingest()
        report.legs_stored = con.execute(
            f"INSERT INTO legs SELECT {staging.LEG_COLUMNS_SQL} FROM good{order}"
        ).fetchone()[0]
        self._update_rollups()
        report.new_extensions = con.execute(
            "INSERT INTO directory (pbx_id, extension) "
            "SELECT DISTINCT pbx_id, ext FROM (SELECT pbx_id, caller_ext AS ext FROM good "
            "UNION ALL SELECT pbx_id, callee_ext FROM good) WHERE ext IS NOT NULL "
            "ON CONFLICT DO NOTHING"
        ).fetchone()[0]
        con.execute("INSERT INTO pbxes SELECT DISTINCT pbx_id FROM good ON CONFLICT DO NOTHING")

    def _update_rollups(self) -> None:
        """Add the new legs' deltas to the rollups, proportional to the file, not the store.

        Rows already there are updated in place; new ones are appended in key order, so a
        window's days or months sit in few row groups and the rest are skipped by their
        zone maps (a MERGE appends in whatever order its join yields).
        """
        con = self.con
        compute_deltas(con)
        sources = delta_sources()
        for table, key in ROLLUPS:
            con.execute(f"CREATE OR REPLACE TEMP TABLE delta AS {sources[table]}")
            same = (
                f"{table}.pbx_id = d.pbx_id AND {table}.extension = d.extension "
                f"AND {table}.{key} = d.{key}"
            )
            added = ", ".join(f"{m} = {table}.{m} + d.{m}" for m in MEASURE_NAMES)
            con.execute(f"UPDATE {table} SET {added} FROM delta d WHERE {same}")
            # After the update: rows it added to would otherwise count twice.
            con.execute(
                f"INSERT INTO {table} BY NAME SELECT d.* FROM delta d "
                f"ANTI JOIN {table} ON {same} ORDER BY d.{key}, d.pbx_id, d.extension"
            )

    def upsert_directory(self, rows: pa.Table) -> int:
        cols = ", ".join(directory.COLUMNS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in directory.COLUMNS[2:])
        updates += ", imported = TRUE"
        self.con.execute("BEGIN TRANSACTION")
        try:
            self.con.register("dir_in", rows.select(list(directory.COLUMNS)))
            self.con.execute(
                f"INSERT INTO directory ({cols}, imported) SELECT {cols}, TRUE FROM dir_in "
                f"ON CONFLICT (pbx_id, extension) DO UPDATE SET {updates}"
            )
            self.con.execute(
                "INSERT INTO pbxes SELECT DISTINCT pbx_id FROM dir_in ON CONFLICT DO NOTHING"
            )
            with self._commits.committing():
                self.con.execute("COMMIT")
            self._directory_changed()
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        finally:
            self.con.unregister("dir_in")
        return rows.num_rows

    # --- reading -------------------------------------------------------------------------

    def _measures_query(self, plan: WindowPlan) -> str:
        """Summed measures per (PBX, extension) for a window plan: raw edges, whole days and
        whole months, added. The answer's slow path, when the directory index lacks a key."""
        parts = []
        if plan.raw or plan.raw_less:
            counted = _edge_legs(plan)
            parts.append(measures_sql(credits_sql(counted, carry=("weight",)), weight="weight"))
        rollups = _rollup_parts(plan)
        if rollups:
            parts.append(rollups)
        return (
            f"SELECT pbx_id, extension, {_BIGINT_TOTALS} FROM ({' UNION ALL '.join(parts)}) "
            "GROUP BY pbx_id, extension"
        )

    def _answering(self) -> FairSlots:
        return self._slots

    def _answer(self, pbx_ids: Sequence[str], window: UtcWindow, version: int) -> Answer:
        plan = plan_window(window)
        params: dict[str, object] = {"pbx": list(pbx_ids), **plan.parameters()}
        index = self._directory_index()
        seen = self._commits.stable()
        per_row = self._measures_per_row(plan, params, index)
        # Raw legs and rollups were read by two queries, so in two snapshots: if a commit
        # came between them, one statement reads it all again from one snapshot.
        if per_row is None or not self._commits.unchanged_since(seen):
            measures = self._query(self._measures_query(plan), params)
            return build_answer(measures, index, version)
        return answer_of(per_row, index, version)

    def _measures_per_row(
        self, plan: WindowPlan, params: dict[str, object], index: DirectoryIndex
    ) -> dict[str, np.ndarray] | None:
        """Measures per directory row: raw edges' credits summed in numpy, rollup rows summed
        by DuckDB, the two at once (on two cores, the rollups' query runs while the raw legs
        are read and summed). Keys travel as DuckDB's hash of (PBX, extension), not as
        strings, which cost more to hand over than everything else. None when a hash is not
        in the index, or a query gave a NULL: the caller then answers by SQL alone.

        The legs the plan adds and those it takes away are read by one query; a credit taken
        away (weight -1) is summed in a second set of groups, ``n`` further on, and
        subtracted."""
        rollups = _rollup_sql(plan)
        rolled = (
            self._pool.submit(
                self._columns,
                rollups,
                {k: v for k, v in params.items() if not k.startswith("raw_")},
            )
            if rollups
            else None
        )
        n = len(index)
        per_row = {m: np.zeros(n, dtype=np.int64) for m in MEASURE_NAMES}
        found = True
        if plan.raw or plan.raw_less:
            legs = self._columns(
                credited_legs_sql(_edge_legs(plan), _key_hash, carry=["weight"]),
                {k: v for k, v in params.items() if k == "pbx" or k.startswith("raw_")},
            )
            rows = None
            if legs is not None:
                keys, credits = credits_from_legs(legs, carry=["weight"])
                rows = index.rows_of_hashes(keys)
            found = rows is not None
            if found:
                groups = rows + n * (credits["weight"] < 0)
                for m, values in measures_per_group(credits, groups, 2 * n).items():
                    per_row[m] += values[:n] - values[n:]
        if rolled is not None:
            table = rolled.result()
            rows = None if table is None else index.rows_of_hashes(table["key_hash"])
            found = found and rows is not None
            if found:
                _add_by_row(per_row, rows, table)
        return per_row if found else None

    def _columns(self, sql: str, params: dict[str, object]) -> dict[str, np.ndarray] | None:
        """A query's columns as numpy arrays, straight from DuckDB: a third faster than
        through a relation and Arrow, which bind the query twice. None when a column has a
        null (none of the answer's queries should give one): the caller's slow path then
        decides."""
        with self.con.cursor() as cur:
            columns = cur.execute(sql, params).fetchnumpy()
        if any(isinstance(c, np.ma.MaskedArray) for c in columns.values()):
            return None
        return columns

    def _query(self, sql: str, params: dict[str, object]) -> pa.Table:
        # A cursor per query: answers run in several threads at once.
        with self.con.cursor() as cur:
            return cur.sql(sql, params=params).to_arrow_table()

    def _directory_index(self) -> DirectoryIndex:
        """The directory prepared for answers, rebuilt after a write changed the directory."""
        index = self._index
        if index is not None:
            return index
        with self._index_lock:
            if self._index is not None:
                return self._index
            with self.con.cursor() as cur:
                table = cur.sql(
                    f"SELECT {', '.join(directory.COLUMNS)}, {_key_hash('extension')} AS key_hash "
                    "FROM directory"
                ).to_arrow_table()
            # Kept even if a write committed while it was read: that write's invalidation
            # waits for this lock, so it clears this index right after.
            self._index = DirectoryIndex.build(table, table.column("key_hash").to_numpy())
            return self._index

    def _directory_changed(self) -> None:
        """Call after a commit that changed the directory."""
        with self._index_lock:
            self._index = None

    def pbx_ids(self) -> list[str]:
        with self.con.cursor() as cur:
            return [r[0] for r in cur.execute("SELECT pbx_id FROM pbxes ORDER BY 1").fetchall()]

    def ping(self) -> None:
        with self.con.cursor() as cur:
            cur.execute("SELECT 1").fetchall()

    def directory_extensions(self) -> pa.Table:
        """(pbx_id, extension) of the imported directory: what adapters take as extensions.

        Rows that ingest added for extensions seen in legs are left out, so an adapter's
        fallback for a PBX without an imported directory keeps working file after file.
        """
        return self.con.sql(
            "SELECT pbx_id, extension FROM directory WHERE imported"
        ).to_arrow_table()

    def leg_count(self) -> int:
        with self.con.cursor() as cur:
            return cur.execute("SELECT count(*) FROM legs").fetchone()[0]

    def close(self) -> None:
        self._pool.shutdown()
        self.con.close()


class CommitCounter:
    """Commits of this process's store, counted twice (odd while one is under way): whether
    two reads in separate snapshots saw the same database, as a sequence lock does."""

    def __init__(self) -> None:
        self._count = 0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def committing(self) -> Iterator[None]:
        with self._lock:
            self._count += 1
        try:
            yield
        finally:
            with self._lock:
                self._count += 1

    def stable(self) -> int | None:
        """The count now, or None while a commit is under way."""
        count = self._count
        return None if count % 2 else count

    def unchanged_since(self, seen: int | None) -> bool:
        return seen is not None and self._count == seen


#: SUM widens BIGINT to HUGEINT; answers add int64 columns.
_BIGINT_TOTALS = ", ".join(f"CAST(SUM({m}) AS BIGINT) AS {m}" for m in MEASURE_NAMES)


def _key_hash(extension: str) -> str:
    """DuckDB's hash of a (PBX, extension) key: what answers look directory rows up by."""
    return f"hash(pbx_id, {extension})"


def _param(name: str) -> str:
    return f"${name}"


def _edge_legs(plan: WindowPlan) -> str:
    """Counted legs of the requested PBXs in the plan's spans of legs, with ``weight``: 1 for
    a leg the plan adds (``raw``), -1 for one it takes away (``raw_less``)."""
    added, taken_away = plan.spans_sql("raw", _param), plan.spans_sql("raw_less", _param)
    return (
        f"(SELECT *, CASE WHEN {taken_away} THEN -1 ELSE 1 END AS weight FROM legs "
        f"WHERE list_contains($pbx, pbx_id) AND ({added} OR {taken_away}) "
        f"AND {COUNTED_LEG_PREDICATE})"
    )


def _rollup_parts(plan: WindowPlan) -> str:
    """Rollup rows of the plan's whole days and months, unsummed; empty when it has none."""
    measures = ", ".join(MEASURE_NAMES)
    parts = []
    if plan.days:
        parts.append(
            f"SELECT pbx_id, extension, {measures} FROM agg_day "
            f"WHERE list_contains($pbx, pbx_id) AND {plan.spans_sql('day', _param)}"
        )
    if plan.months is not None:
        parts.append(
            f"SELECT pbx_id, extension, {measures} FROM agg_month "
            "WHERE list_contains($pbx, pbx_id) AND month >= $month_start "
            "AND month < $month_end"
        )
    return " UNION ALL ".join(parts)


def _rollup_sql(plan: WindowPlan) -> str:
    """Rollup measures per key (``key_hash``) of the plan's whole days and months; empty when
    it has none. One day's rows are one per key already, so they are not grouped: DuckDB's
    GROUP BY of 5,000 keys is half of that query's time."""
    parts = _rollup_parts(plan)
    if not parts:
        return ""
    key = f"{_key_hash('extension')} AS key_hash"
    if plan.months is None and [end - start for start, end in plan.days] == [1]:
        return f"SELECT {key}, {', '.join(MEASURE_NAMES)} FROM ({parts})"
    return f"SELECT {key}, {_BIGINT_TOTALS} FROM ({parts}) GROUP BY pbx_id, extension"


def _add_by_row(
    per_row: dict[str, np.ndarray], rows: np.ndarray, measures: dict[str, np.ndarray]
) -> None:
    """Add rollup rows' measures to their directory rows. Rows of one key come grouped or
    one per day, so each row is usually hit once; should one be hit twice, every hit is
    added all the same."""
    once = not len(rows) or np.bincount(rows).max() == 1
    for m, values in per_row.items():
        if once:
            values[rows] += measures[m]
        else:
            np.add.at(values, rows, measures[m])
