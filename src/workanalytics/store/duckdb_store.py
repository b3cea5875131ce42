"""The embedded store: one DuckDB file in the data directory.

Atomicity comes from DuckDB's transactions: a file's legs, the directory rows they add and
the PBXs they name are written in one transaction, committed only when the whole file has
been read and checked. A process killed before the commit leaves the file as it was; the
write-ahead log makes a commit either whole or absent after a crash.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import duckdb
import pyarrow as pa

from workanalytics import directory
from workanalytics.ingest.sources import LegSource, SourceError
from workanalytics.legs import (
    COLUMN_NAMES,
    IDENTITY,
    LINE_COLUMN,
    REASON_COLUMN,
    q,
    store_table_ddl,
    validated_select,
)
from workanalytics.metrics import (
    COUNTED_LEG_PREDICATE,
    SummaryResult,
    credits_sql,
    empty_result,
    fields_for,
    measures_sql,
    select_fields_sql,
)
from workanalytics.store.base import (
    MAX_REPORTED_ERRORS,
    IngestRejected,
    IngestReport,
    RowError,
    StoreBusyError,
    StoreError,
)
from workanalytics.timewindow import UtcWindow

SCHEMA_VERSION = 1
_LEG_COLS = ", ".join(q(c) for c in COLUMN_NAMES)
_DIGITS = "regexp_full_match(m.extension, '[0-9]+')"
#: Mirrors :func:`workanalytics.metrics.extension_sort_key`.
_ROW_ORDER = (
    f"m.pbx_id, CASE WHEN {_DIGITS} THEN 0 ELSE 1 END, "
    f"CASE WHEN {_DIGITS} THEN length(ltrim(m.extension, '0')) ELSE 0 END, "
    f"CASE WHEN {_DIGITS} THEN ltrim(m.extension, '0') ELSE m.extension END, m.extension"
)


def _floor_div(numerator: str, denominator: str) -> str:
    return f"({numerator}) // ({denominator})"


class DuckDBStore:
    """Legs, directory and PBX list in one DuckDB file, owned by one process at a time."""

    def __init__(self, path: Path, *, memory_limit: str = "2GB", read_only: bool = False):
        self.path = Path(path)
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
            self.con.execute(f"SET temp_directory = {_quote_path(self.path.parent / 'tmp')}")
            self._create_schema()
        self._summary_sql: dict[int, str] = {}

    def _create_schema(self) -> None:
        self.con.execute(store_table_ddl("legs"))
        self.con.execute(directory.ddl("directory"))
        self.con.execute("CREATE TABLE IF NOT EXISTS pbxes (pbx_id VARCHAR PRIMARY KEY)")
        self.con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
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
        con.execute("BEGIN TRANSACTION")
        try:
            self._stage(source)
            report.rows_read, bad = con.execute(
                f"SELECT count(*), count({q(REASON_COLUMN)}) FROM staged"
            ).fetchone()
            if bad:
                errors = [
                    RowError(source.locate(line), reason)
                    for line, reason in con.execute(
                        f"SELECT {q(LINE_COLUMN)}, {q(REASON_COLUMN)} FROM staged "
                        f"WHERE {q(REASON_COLUMN)} IS NOT NULL ORDER BY 1 LIMIT {MAX_REPORTED_ERRORS}"
                    ).fetchall()
                ]
                if not skip_invalid:
                    raise IngestRejected(source.path, errors, bad)
                report.rejected = bad
                report.errors = errors
                report.reject_file = reject_path or _default_reject_path(self.path.parent, source)
                self._write_rejects(source, report.reject_file)
            self._apply(report, check_pbx_ids)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        finally:
            # Only now: inside an aborted transaction DuckDB refuses even an unregister,
            # which would hide the error that aborted it.
            con.unregister("raw_source")
            con.unregister("raw_again")
            con.execute("DROP TABLE IF EXISTS staged")
            con.execute("DROP TABLE IF EXISTS good")
        return report

    def _stage(self, source: LegSource) -> None:
        self.con.register("raw_source", source.reader())
        try:
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE staged AS {validated_select('raw_source')}"
            )
        except duckdb.Error as exc:
            if source.failure is not None:
                raise source.failure from None
            raise SourceError(source.path, f"cannot be read: {exc}") from None
        # "raw_source" is unregistered by ingest(), after the commit or rollback.

    def _write_rejects(self, source: LegSource, target: Path) -> None:
        """The bad rows as the file had them, with their line and reason."""
        target.parent.mkdir(parents=True, exist_ok=True)
        self.con.register("raw_again", source.reader())  # unregistered by ingest()
        self.con.execute(
            f"COPY (SELECT r.{q(LINE_COLUMN)} AS line, s.{q(REASON_COLUMN)} AS reason, "
            f"{', '.join('r.' + q(c) for c in COLUMN_NAMES)} "
            f"FROM raw_again r JOIN staged s USING ({q(LINE_COLUMN)}) "
            f"WHERE s.{q(REASON_COLUMN)} IS NOT NULL ORDER BY 1) "
            f"TO {_quote_path(target)} (HEADER)"
        )

    def _apply(
        self, report: IngestReport, check_pbx_ids: Callable[[list[str]], None] | None
    ) -> None:
        con = self.con
        ident = ", ".join(IDENTITY)
        # Within one file the last row of an identity wins, as a replay of it would.
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE good AS SELECT {_LEG_COLS} FROM staged "
            f"WHERE {q(REASON_COLUMN)} IS NULL "
            f"QUALIFY row_number() OVER (PARTITION BY {ident} ORDER BY {q(LINE_COLUMN)} DESC) = 1"
        )
        report.pbx_ids = [
            r[0] for r in con.execute("SELECT DISTINCT pbx_id FROM good ORDER BY 1").fetchall()
        ]
        if check_pbx_ids is not None:
            check_pbx_ids(report.pbx_ids)  # may refuse the file before anything is written
        join = " AND ".join(f"legs.{c} = good.{c}" for c in IDENTITY)
        report.legs_replaced = con.execute(f"DELETE FROM legs USING good WHERE {join}").fetchone()[
            0
        ]
        report.legs_stored = con.execute(
            f"INSERT INTO legs SELECT {_LEG_COLS} FROM good"
        ).fetchone()[0]
        report.new_extensions = con.execute(
            "INSERT INTO directory (pbx_id, extension) "
            "SELECT DISTINCT pbx_id, ext FROM (SELECT pbx_id, caller_ext AS ext FROM good "
            "UNION ALL SELECT pbx_id, callee_ext FROM good) WHERE ext IS NOT NULL "
            "ON CONFLICT DO NOTHING"
        ).fetchone()[0]
        con.execute("INSERT INTO pbxes SELECT DISTINCT pbx_id FROM good ON CONFLICT DO NOTHING")

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
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        finally:
            self.con.unregister("dir_in")
        return rows.num_rows

    # --- reading -------------------------------------------------------------------------

    def _summary_query(self, version: int) -> str:
        if version not in self._summary_sql:
            credits = credits_sql("counted")
            self._summary_sql[version] = (
                f"WITH counted AS (SELECT * FROM legs WHERE pbx_id IN (SELECT unnest($pbx)) "
                f"AND start_time >= $start AND start_time < $end AND {COUNTED_LEG_PREDICATE}),\n"
                f"m AS ({measures_sql(credits)})\n"
                f"SELECT {select_fields_sql(version, floor_div=_floor_div)}\n"
                f"FROM m LEFT JOIN directory d "
                f"ON d.pbx_id = m.pbx_id AND d.extension = m.extension\n"
                f"ORDER BY {_ROW_ORDER}"
            )
        return self._summary_sql[version]

    def extension_summary(
        self, pbx_ids: Sequence[str], window: UtcWindow, *, version: int = 2
    ) -> SummaryResult:
        fields = fields_for(version)
        if window.is_empty or not pbx_ids:
            return empty_result(version)
        # A cursor per query: the server answers from several threads at once.
        with self.con.cursor() as cur:
            rows = cur.execute(
                self._summary_query(version),
                {"pbx": list(pbx_ids), "start": window.start_ms, "end": window.end_ms},
            ).fetchall()
        return SummaryResult(fields, rows)

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
        return self.con.execute("SELECT count(*) FROM legs").fetchone()[0]

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> DuckDBStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _quote_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _default_reject_path(data_dir: Path, source: LegSource) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%S")
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", source.path.name)
    return data_dir / "rejects" / f"{safe}.{stamp}.rejects.csv"
