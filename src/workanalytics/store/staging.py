"""A file's legs on their way in: read, validated and deduplicated in DuckDB.

Every engine stages the same way, so a file is accepted or refused, and its bad rows named,
identically whatever will hold its legs. Staging leaves on the connection the temp table
``staged`` (every row, typed, with ``_line`` and ``_reason``) and the temp view ``good`` (the
valid rows, the last of each identity).
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb

from workanalytics.ingest.sources import ROW_GROUP_ROWS, LegSource, ProgressCallback, SourceError
from workanalytics.legs import (
    COLUMN_NAMES,
    IDENTITY,
    LINE_COLUMN,
    REASON_COLUMN,
    lit,
    q,
    validated_select,
)
from workanalytics.store.base import MAX_REPORTED_ERRORS, IngestRejected, IngestReport, RowError
from workanalytics.timewindow import DAY_MS

LEG_COLUMNS_SQL = ", ".join(q(c) for c in COLUMN_NAMES)
TEMP_TABLES = ("staged", "deduped", "old", "delta_day", "delta")
TEMP_VIEWS = ("good",)
_VIEWS = ("raw_source", "raw_again")


def stage(
    con: duckdb.DuckDBPyConnection,
    source: LegSource,
    report: IngestReport,
    *,
    skip_invalid: bool,
    reject_path: Path | None,
    reject_dir: Path,
) -> bool:
    """Read and check ``source`` into ``staged`` and ``good``; refuse it whole on a bad row
    unless ``skip_invalid``, which writes the bad rows to a reject file instead.

    Returns whether ``good`` keeps the file's order and that order already clusters legs by
    start time (see :func:`_clustered`): then they can be stored as they come, unsorted.
    """
    typed = source.typed_columns
    scan = source.native_scan()
    if scan is None:
        con.register("raw_source", source.reader())
    try:
        with _reporting_progress(con, source.on_progress if scan is not None else None):
            con.execute(
                "CREATE OR REPLACE TEMP TABLE staged AS "
                + validated_select("raw_source" if scan is None else f"({scan})", typed=typed)
            )
    except duckdb.Error as exc:
        if source.failure is not None:
            raise source.failure from None
        # The first line: the rest would quote the generated SQL.
        raise SourceError(source.path, f"cannot be read: {str(exc).splitlines()[0]}") from None
    valid = f"{q(REASON_COLUMN)} IS NULL"
    # A hash collision only makes the check below say "maybe", never miss a repeat.
    report.rows_read, bad, valid_ids = con.execute(
        f"SELECT count(*), count({q(REASON_COLUMN)}), "
        f"count(DISTINCT hash({', '.join(IDENTITY)})) FILTER (WHERE {valid}) FROM staged"
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
        report.reject_file = reject_path or _default_reject_path(reject_dir, source)
        _write_rejects(con, source, report.reject_file)
    good = f"SELECT {LEG_COLUMNS_SQL} FROM staged" + (f" WHERE {valid}" if bad else "")
    deduplicated = valid_ids < report.rows_read - bad
    if deduplicated:
        # Within one file the last row of an identity wins, as a replay of it would.
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE deduped AS {good} "
            f"QUALIFY row_number() OVER (PARTITION BY {', '.join(IDENTITY)} "
            f"ORDER BY {q(LINE_COLUMN)} DESC) = 1"
        )
        good = "SELECT * FROM deduped"
    # A view, not a copy: each identity is already once in ``staged``, or in ``deduped``.
    con.execute(f"CREATE OR REPLACE TEMP VIEW good AS {good}")
    report.pbx_ids = [
        r[0] for r in con.execute("SELECT DISTINCT pbx_id FROM good ORDER BY 1").fetchall()
    ]
    return not deduplicated and _clustered(con, valid)


#: How often DuckDB's progress through a file it reads itself is passed on, in seconds.
PROGRESS_EVERY_S = 0.1


@contextlib.contextmanager
def _reporting_progress(
    con: duckdb.DuckDBPyConnection, report: ProgressCallback | None
) -> Iterator[None]:
    """Pass DuckDB's progress through the statement run inside to ``report``, in per mille:
    a file DuckDB reads itself goes by without its reader's own progress calls."""
    if report is None:
        yield
        return
    settings = ("enable_progress_bar", "enable_progress_bar_print")
    current = ", ".join(f"current_setting({lit(s)})" for s in settings)
    before = con.execute(f"SELECT {current}").fetchone()
    # Tracked, so query_progress() answers, and never drawn on stdout.
    con.execute("SET enable_progress_bar_print = false")
    con.execute("SET enable_progress_bar = true")
    finished = threading.Event()

    def poll() -> None:
        while not finished.wait(PROGRESS_EVERY_S):
            percent = con.query_progress()
            if percent >= 0:
                report(round(percent * 10), 1000)

    poller = threading.Thread(target=poll, name="ingest-progress", daemon=True)
    poller.start()
    try:
        yield
    finally:
        finished.set()
        poller.join()
    # Not after a failure: the aborted transaction refuses any SET (printing stays off).
    for name, value in zip(settings, before, strict=True):
        con.execute(f"SET {name} = {'true' if value else 'false'}")
    report(1000, 1000)


def _clustered(con: duckdb.DuckDBPyConnection, valid: str) -> bool:
    """Whether the file, in its own order, already clusters legs by start time: each run of
    a row group's rows spans at most twice what it would once sorted (or a day). CDR files
    come in time order (by start, or by end, which is start plus at most hours), and so
    stored as they come their row groups still let zone maps skip all but a window's own;
    sorting ten million legs would cost more than reading, checking and writing them."""
    ((widest, whole, groups),) = con.execute(
        f"SELECT max(hi - lo), max(hi) - min(lo), count(*) FROM (SELECT min(start_time) AS lo, "
        f"max(start_time) AS hi FROM staged WHERE {valid} "
        f"GROUP BY {q(LINE_COLUMN)} // {ROW_GROUP_ROWS})"
    ).fetchall()
    if not groups:
        return True
    return widest <= max(DAY_MS, 2 * whole / groups)


def clean_up(con: duckdb.DuckDBPyConnection) -> None:
    """Drop what staging left. After a rollback, call it only once the rollback is done:
    inside an aborted transaction DuckDB refuses even an unregister, which would hide the
    error that aborted it. Calling it twice is harmless."""
    for view in _VIEWS:
        con.unregister(view)
    for temp in TEMP_VIEWS:
        con.execute(f"DROP VIEW IF EXISTS {temp}")
    for temp in TEMP_TABLES:
        con.execute(f"DROP TABLE IF EXISTS {temp}")


def _write_rejects(con: duckdb.DuckDBPyConnection, source: LegSource, target: Path) -> None:
    """The bad rows as the file had them, with their line and reason."""
    target.parent.mkdir(parents=True, exist_ok=True)
    con.register("raw_again", source.reader())  # unregistered by clean_up()
    con.execute(
        f"COPY (SELECT r.{q(LINE_COLUMN)} AS line, s.{q(REASON_COLUMN)} AS reason, "
        f"{', '.join('r.' + q(c) for c in COLUMN_NAMES)} "
        f"FROM raw_again r JOIN staged s USING ({q(LINE_COLUMN)}) "
        f"WHERE s.{q(REASON_COLUMN)} IS NOT NULL ORDER BY 1) "
        f"TO {quote_path(target)} (HEADER)"
    )


def quote_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _default_reject_path(data_dir: Path, source: LegSource) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%S")
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", source.path.name)
    return data_dir / "rejects" / f"{safe}.{stamp}.rejects.csv"
