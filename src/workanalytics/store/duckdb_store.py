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
    MEASURE_NAMES,
    SummaryResult,
    answer_columns_sql,
    credit_count_sql,
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
from workanalytics.timewindow import DAY_MS, UtcWindow, WindowPlan, plan_window

SCHEMA_VERSION = 1
_LEG_COLS = ", ".join(q(c) for c in COLUMN_NAMES)
_DIGITS = "regexp_full_match(m.extension, '[0-9]+')"
#: Sort keys of a row; mirrors :func:`workanalytics.metrics.extension_sort_key`.
_ROW_ORDER_KEYS = (
    f"CASE WHEN {_DIGITS} THEN 0 ELSE 1 END AS _o1, "
    f"CASE WHEN {_DIGITS} THEN length(ltrim(m.extension, '0')) ELSE 0 END AS _o2, "
    f"CASE WHEN {_DIGITS} THEN ltrim(m.extension, '0') ELSE m.extension END AS _o3"
)
_ROW_ORDER = '"PbxId", _o1, _o2, _o3, "Extension"'


#: Additive rollups of the measures: per (PBX, extension, UTC day) and per calendar month.
ROLLUPS = (("agg_day", "day"), ("agg_month", "month"))
#: The UTC day number of a leg's start (floored, so instants before 1970 land right too).
_DAY_SQL = f"CAST(floor(start_time / {DAY_MS}.0) AS BIGINT)"
#: Months since January 1970 of a UTC day number; mirrors timewindow.month_of_day.
_MONTH_OF_DAY_SQL = (
    "((year(DATE '1970-01-01' + CAST(day AS INTEGER)) - 1970) * 12 "
    "+ month(DATE '1970-01-01' + CAST(day AS INTEGER)) - 1)"
)


def _json_members(version: int) -> str:
    """``struct_pack`` members of an answer object, in spec order."""
    return ", ".join(f"{q(f.name)} := {q(f.name)}" for f in fields_for(version))


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
            for temp in ("staged", "good", "old", "delta_day"):
                con.execute(f"DROP TABLE IF EXISTS {temp}")
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
        # The stored versions of legs about to be replaced: their credits leave the rollups.
        stored_cols = ", ".join("legs." + q(c) for c in COLUMN_NAMES)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE old AS SELECT {stored_cols} "
            f"FROM legs SEMI JOIN good ON {join}"
        )
        report.legs_replaced = con.execute(f"DELETE FROM legs USING good WHERE {join}").fetchone()[
            0
        ]
        # In start-time order, so a window's edges read few row groups of the table.
        report.legs_stored = con.execute(
            f"INSERT INTO legs SELECT {_LEG_COLS} FROM good ORDER BY start_time"
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
        """Add the credits of the new legs to the rollups and take away the replaced ones'.

        Deltas keep the work proportional to the file, not to the store: exact, because
        every measure is a sum.
        """
        con = self.con
        cols = ", ".join(q(c) for c in COLUMN_NAMES)
        signed = (
            f"SELECT {cols}, 1 AS sign, {_DAY_SQL} AS day FROM good WHERE {COUNTED_LEG_PREDICATE} "
            f"UNION ALL SELECT {cols}, -1 AS sign, {_DAY_SQL} AS day FROM old "
            f"WHERE {COUNTED_LEG_PREDICATE}"
        )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE delta_day AS "
            + measures_sql(
                credits_sql(f"({signed})", carry=("sign", "day")),
                ("pbx_id", "extension", "day"),
                weight="sign",
            )
        )
        month_totals = ", ".join(f"SUM({m}) AS {m}" for m in MEASURE_NAMES)
        sources = {
            "agg_day": "SELECT * FROM delta_day",
            "agg_month": (
                f"SELECT pbx_id, extension, {_MONTH_OF_DAY_SQL} AS month, {month_totals} "
                "FROM delta_day GROUP BY ALL"
            ),
        }
        for table, key in ROLLUPS:
            added = ", ".join(f"{m} = {table}.{m} + d.{m}" for m in MEASURE_NAMES)
            con.execute(
                f"MERGE INTO {table} USING ({sources[table]}) AS d "
                f"ON {table}.pbx_id = d.pbx_id AND {table}.extension = d.extension "
                f"AND {table}.{key} = d.{key} "
                f"WHEN MATCHED THEN UPDATE SET {added} "
                f"WHEN NOT MATCHED THEN INSERT BY NAME"
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
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        finally:
            self.con.unregister("dir_in")
        return rows.num_rows

    # --- reading -------------------------------------------------------------------------

    def _summary_query(self, version: int, plan: WindowPlan, *, as_json: bool = False) -> str:
        """The report for a window plan: raw edges, whole days and whole months, added.

        ``as_json`` makes DuckDB write the API's body itself: one string, objects in row
        order, keys in spec order (DuckDB's to_json writes what orjson writes; the API tests
        compare the two byte for byte).
        """
        shape = (version, len(plan.raw), len(plan.days), plan.months is not None, as_json)
        if shape in self._summary_sql:
            return self._summary_sql[shape]
        parts = []
        if plan.raw:
            spans = " OR ".join(
                f"(start_time >= $raw_start_{i} AND start_time < $raw_end_{i})"
                for i in range(len(plan.raw))
            )
            counted = (
                f"(SELECT * FROM legs WHERE pbx_id IN (SELECT unnest($pbx)) AND ({spans}) "
                f"AND {COUNTED_LEG_PREDICATE})"
            )
            parts.append(measures_sql(credits_sql(counted)))
        measures = ", ".join(MEASURE_NAMES)
        if plan.days:
            spans = " OR ".join(
                f"(day >= $day_start_{i} AND day < $day_end_{i})" for i in range(len(plan.days))
            )
            parts.append(
                f"SELECT pbx_id, extension, {measures} FROM agg_day "
                f"WHERE pbx_id IN (SELECT unnest($pbx)) AND ({spans})"
            )
        if plan.months is not None:
            parts.append(
                f"SELECT pbx_id, extension, {measures} FROM agg_month "
                f"WHERE pbx_id IN (SELECT unnest($pbx)) AND month >= $month_start "
                f"AND month < $month_end"
            )
        totals = ", ".join(f"SUM({m}) AS {m}" for m in MEASURE_NAMES)
        sql = (
            f"WITH parts AS ({' UNION ALL '.join(parts)}),\n"
            f"m AS (SELECT pbx_id, extension, {totals} FROM parts GROUP BY pbx_id, extension),\n"
            f"answer AS (SELECT {select_fields_sql(2, floor_div=_floor_div)}, {_ROW_ORDER_KEYS}\n"
            f"FROM m LEFT JOIN directory d "
            f"ON d.pbx_id = m.pbx_id AND d.extension = m.extension\n"
            # An extension whose legs all moved out of the window keeps a row of zeros.
            f"WHERE {credit_count_sql('m')} > 0)\n"
            + (
                f"SELECT '[' || coalesce(string_agg(to_json(struct_pack({_json_members(version)})), "
                f"',' ORDER BY {_ROW_ORDER}), '') || ']' FROM answer"
                if as_json
                else f"SELECT {answer_columns_sql(version)} FROM answer ORDER BY {_ROW_ORDER}"
            )
        )
        self._summary_sql[shape] = sql
        return sql

    def extension_summary(
        self, pbx_ids: Sequence[str], window: UtcWindow, *, version: int = 2
    ) -> SummaryResult:
        fields = fields_for(version)
        if window.is_empty or not pbx_ids:
            return empty_result(version)
        sql, params = self._planned(pbx_ids, window, version, as_json=False)
        # A cursor per query: the server answers from several threads at once.
        with self.con.cursor() as cur:
            rows = cur.execute(sql, params).fetchall()
        return SummaryResult(fields, rows)

    def extension_summary_json(
        self, pbx_ids: Sequence[str], window: UtcWindow, *, version: int = 2
    ) -> bytes:
        fields_for(version)
        if window.is_empty or not pbx_ids:
            return b"[]"
        sql, params = self._planned(pbx_ids, window, version, as_json=True)
        with self.con.cursor() as cur:
            (body,) = cur.execute(sql, params).fetchone()
        return body.encode()

    def _planned(
        self, pbx_ids: Sequence[str], window: UtcWindow, version: int, *, as_json: bool
    ) -> tuple[str, dict[str, object]]:
        plan = plan_window(window)
        params: dict[str, object] = {"pbx": list(pbx_ids)}
        for i, w in enumerate(plan.raw):
            params[f"raw_start_{i}"], params[f"raw_end_{i}"] = w.start_ms, w.end_ms
        for i, (first, end) in enumerate(plan.days):
            params[f"day_start_{i}"], params[f"day_end_{i}"] = first, end
        if plan.months is not None:
            params["month_start"], params["month_end"] = plan.months
        return self._summary_query(version, plan, as_json=as_json), params

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
