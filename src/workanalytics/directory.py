"""The extension directory: who each (PBX, extension) is.

Imported from CSV and kept up to date by ingest (an extension seen in a leg but absent from
the directory is added with empty names), so no leg is ever dropped for want of a row.
"""

from __future__ import annotations

import functools
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from workanalytics.legs import PBX_ID_PATTERN, lit, q

COLUMNS: tuple[str, ...] = (
    "pbx_id",
    "extension",
    "service_type",
    "first_name",
    "last_name",
    "branch",
    "department",
    "email",
    "username",
)
#: UE user extension, RG ring group, CQ call queue, AA auto attendant, VM voicemail.
SERVICE_TYPES: tuple[str, ...] = ("UE", "RG", "CQ", "AA", "VM")
DEFAULT_SERVICE_TYPE = "UE"
MAX_REPORTED_ERRORS = 100


class DirectoryError(ValueError):
    """A directory file that cannot be imported; nothing of it is stored."""

    def __init__(self, path: Path, problems: list[str], total: int | None = None):
        self.path = path
        self.problems = problems
        self.total = len(problems) if total is None else total
        more = f"\n... and {self.total - len(problems)} more" if self.total > len(problems) else ""
        super().__init__(f"{path}: directory rejected:\n" + "\n".join(problems) + more)


def ddl(table: str = "directory") -> str:
    text_cols = ",\n  ".join(f"{c} VARCHAR NOT NULL DEFAULT ''" for c in COLUMNS[3:])
    return (
        f"CREATE TABLE IF NOT EXISTS {table} (\n"
        f"  pbx_id VARCHAR NOT NULL,\n  extension VARCHAR NOT NULL,\n"
        f"  service_type VARCHAR NOT NULL DEFAULT {lit(DEFAULT_SERVICE_TYPE)},\n"
        f"  {text_cols},\n"
        # FALSE for rows ingest added for extensions it saw in legs.
        f"  imported BOOLEAN NOT NULL DEFAULT FALSE,\n  PRIMARY KEY (pbx_id, extension)\n)"
    )


def read_directory_csv(path: Path) -> pa.Table:
    """Read and check a directory CSV; every bad row is reported with its line."""
    path = Path(path)
    try:
        table = pacsv.read_csv(
            path,
            # Blank lines are read as empty rows (dropped below) so line numbers stay true.
            parse_options=pacsv.ParseOptions(ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in COLUMNS},
                strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, OSError) as exc:
        raise DirectoryError(path, [f"not a readable CSV file: {exc}"]) from None
    missing = [c for c in COLUMNS if c not in table.column_names]
    unknown = [c for c in table.column_names if c not in COLUMNS]
    dupes = sorted({c for c in table.column_names if table.column_names.count(c) > 1})
    if missing or unknown or dupes:
        problems = []
        if missing:
            problems.append(f"{path}:1: missing column(s): {', '.join(missing)}")
        if unknown:
            problems.append(f"{path}:1: unknown column(s): {', '.join(unknown)}")
        if dupes:
            problems.append(f"{path}:1: column(s) named twice: {', '.join(dupes)}")
        problems.append(f"expected the header {','.join(COLUMNS)}")
        raise DirectoryError(path, problems)
    # One record per line after the header; numbered here, where the order is certain.
    table = table.select(list(COLUMNS)).append_column(
        "line", pa.array(np.arange(2, table.num_rows + 2, dtype=np.int64))
    )
    if table.num_rows:
        filled = functools.reduce(pc.or_, (pc.not_equal(table[c], "") for c in COLUMNS))
        table = table.filter(filled)
    types = ", ".join(lit(t) for t in SERVICE_TYPES)
    checks = [
        (f"NOT regexp_full_match(pbx_id, {lit(PBX_ID_PATTERN)})",
         "pbx_id must be 1-64 characters of A-Z a-z 0-9 . _ -"),
        ("trim(extension) = ''", "extension is required"),
        (f"trim(service_type) NOT IN ('', {types})",
         f"service_type must be one of {', '.join(SERVICE_TYPES)} (empty means UE)"),
    ]  # fmt: skip
    reasons = ", ".join(f"CASE WHEN {c} THEN {lit(r)} END" for c, r in checks)
    con = duckdb.connect()
    con.register("dir_rows", table)
    cols = ", ".join(
        f"trim({q(c)}) AS {q(c)}" if c != "service_type"
        else f"coalesce(NULLIF(trim(service_type), ''), {lit(DEFAULT_SERVICE_TYPE)}) AS service_type"
        for c in COLUMNS
    )  # fmt: skip
    checked = con.sql(
        f"SELECT {cols}, line, NULLIF(concat_ws('; ', {reasons}), '') AS reason FROM dir_rows"
    ).to_arrow_table()
    bad = con.sql(
        "SELECT line, reason FROM checked WHERE reason IS NOT NULL ORDER BY line"
    ).fetchall()
    dupes = con.sql(
        "SELECT pbx_id, extension, list(line ORDER BY line) FROM checked "
        "GROUP BY ALL HAVING count(*) > 1 ORDER BY 3"
    ).fetchall()
    problems = [f"{path}:{line}: {reason}" for line, reason in bad]
    problems += [
        f"{path}:{lines[1]}: ({pbx}, {ext}) is also on line {lines[0]}" for pbx, ext, lines in dupes
    ]
    if problems:
        raise DirectoryError(path, problems[:MAX_REPORTED_ERRORS], len(problems))
    return checked.select(list(COLUMNS))
