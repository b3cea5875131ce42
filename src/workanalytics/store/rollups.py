"""The additive rollups: measures per (PBX, extension, UTC day) and per calendar month.

A rollup changes by deltas: the credits of new legs are added, those of the legs they
replace taken away. The deltas are computed here, in DuckDB, from the staged file, whatever
engine then adds them up (DuckDB by MERGE, ClickHouse by SummingMergeTree): exact, because
every measure is a sum.
"""

from __future__ import annotations

import duckdb

from workanalytics.legs import COLUMN_NAMES, q
from workanalytics.metrics import (
    COUNTED_LEG_PREDICATE,
    MEASURE_NAMES,
    credits_sql,
    measures_sql,
)
from workanalytics.timewindow import DAY_MS

#: (table, key column) of each rollup.
ROLLUPS = (("agg_day", "day"), ("agg_month", "month"))
#: The UTC day number of a leg's start (floored, so instants before 1970 land right too).
DAY_SQL = f"CAST(floor(start_time / {DAY_MS}.0) AS BIGINT)"
#: Months since January 1970 of a UTC day number; mirrors timewindow.month_of_day.
MONTH_OF_DAY_SQL = (
    "((year(DATE '1970-01-01' + CAST(day AS INTEGER)) - 1970) * 12 "
    "+ month(DATE '1970-01-01' + CAST(day AS INTEGER)) - 1)"
)


def compute_deltas(con: duckdb.DuckDBPyConnection, new: str = "good", old: str = "old") -> None:
    """Fill temp table ``delta_day``: per (PBX, extension, day), the change the legs of
    ``new`` replacing those of ``old`` make."""
    cols = ", ".join(q(c) for c in COLUMN_NAMES)
    signed = (
        f"SELECT {cols}, 1 AS sign, {DAY_SQL} AS day FROM {new} WHERE {COUNTED_LEG_PREDICATE} "
        f"UNION ALL SELECT {cols}, -1 AS sign, {DAY_SQL} AS day FROM {old} "
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


def delta_sources() -> dict[str, str]:
    """Per rollup table, the query of its deltas over ``delta_day``."""
    month_totals = ", ".join(f"SUM({m}) AS {m}" for m in MEASURE_NAMES)
    return {
        "agg_day": "SELECT * FROM delta_day",
        "agg_month": (
            f"SELECT pbx_id, extension, {MONTH_OF_DAY_SQL} AS month, {month_totals} "
            "FROM delta_day GROUP BY ALL"
        ),
    }
