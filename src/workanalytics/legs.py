"""The canonical call leg: its columns, its rules, and the vectorised validator.

Every report is computed from canonical legs only (``shared/spec/call-legs.md``). Input
adapters turn their own rows into a relation of *raw* canonical columns (all text, plus the
source line of each row); :func:`validated_select` turns that relation into typed legs and a
rejection reason per row, in one DuckDB query, so no row is ever looked at from Python.

Instants are stored as UTC epoch milliseconds (BIGINT): exact, portable across engines, and
free of any session time-zone setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ColumnKind = Literal["text", "instant", "int", "bool", "status"]

STATUS_COMPLETED = "Completed"
STATUS_IN_PROGRESS = "In Progress"

#: A PBX name: 1-64 characters of ``A-Z a-z 0-9 . _ -``.
PBX_ID_PATTERN = r"[A-Za-z0-9._-]{1,64}"

#: ISO-8601 with an explicit offset. A time without one is an error, never guessed.
ISO_INSTANT_PATTERN = (
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|z|[+-]\d{2}(:?\d{2})?)"
)


@dataclass(frozen=True)
class Column:
    name: str
    kind: ColumnKind
    required: bool = False
    #: SQL type in the store.
    sql_type: str = "VARCHAR"


#: The canonical columns, in store order. One definition, used by every adapter and engine.
COLUMNS: tuple[Column, ...] = (
    Column("pbx_id", "text", required=True),
    Column("call_id", "text", required=True),
    Column("leg_id", "int", required=True, sql_type="BIGINT"),
    Column("start_time", "instant", required=True, sql_type="BIGINT"),
    Column("connect_time", "instant", sql_type="BIGINT"),
    Column("end_time", "instant", required=True, sql_type="BIGINT"),
    Column("caller", "text", required=True),
    Column("callee", "text", required=True),
    Column("caller_ext", "text"),
    Column("callee_ext", "text"),
    Column("abandoned", "bool", sql_type="BOOLEAN"),
    Column("voicemail", "bool", sql_type="BOOLEAN"),
    Column("status", "status"),
    Column("caller_name", "text"),
    Column("callee_name", "text"),
    Column("hold_ms", "int", sql_type="BIGINT"),
    Column("cause", "text"),
    Column("parent_call_id", "text"),
    Column("transfer_to_call_id", "text"),
    Column("dnis", "text"),
    Column("sip_call_id", "text"),
)

COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
REQUIRED_COLUMNS: frozenset[str] = frozenset(c.name for c in COLUMNS if c.required)
IDENTITY: tuple[str, ...] = ("pbx_id", "call_id", "leg_id")

#: Words accepted for booleans in text formats.
TRUE_WORDS = ("true", "1", "yes")
FALSE_WORDS = ("false", "0", "no")

#: The synthetic columns every raw relation carries besides the canonical ones.
LINE_COLUMN = "_line"
REASON_COLUMN = "_reason"
SOURCE_ERROR_COLUMN = "_source_error"


def q(name: str) -> str:
    """Quote an identifier for SQL."""
    return '"' + name.replace('"', '""') + '"'


def lit(text: str) -> str:
    """Quote a string literal for SQL."""
    return "'" + text.replace("'", "''") + "'"


def _blank_to_null(expr: str) -> str:
    return f"NULLIF(trim({expr}), '')"


def _instant_ms(expr: str) -> str:
    """Epoch ms from integer text, or from ISO-8601 with an offset (floored to the ms)."""
    v = _blank_to_null(expr)
    return (
        f"CASE WHEN regexp_full_match({v}, '-?[0-9]{{1,15}}') THEN TRY_CAST({v} AS BIGINT) "
        f"WHEN regexp_full_match({v}, {lit(ISO_INSTANT_PATTERN)}) "
        f"THEN CAST(floor(epoch_us(TRY_CAST({v} AS TIMESTAMPTZ)) / 1000.0) AS BIGINT) END"
    )


def _bool(expr: str) -> str:
    v = f"lower({_blank_to_null(expr)})"
    trues = ", ".join(lit(w) for w in TRUE_WORDS)
    falses = ", ".join(lit(w) for w in FALSE_WORDS)
    return f"CASE WHEN {v} IN ({trues}) THEN TRUE WHEN {v} IN ({falses}) THEN FALSE END"


def _typed(col: Column) -> str:
    """The typed value of a raw text column; NULL where it is empty or does not parse."""
    raw = q(col.name)
    if col.kind == "text":
        return _blank_to_null(raw)
    if col.kind == "instant":
        return _instant_ms(raw)
    if col.kind == "int":
        v = _blank_to_null(raw)
        return f"CASE WHEN regexp_full_match({v}, '[0-9]{{1,18}}') THEN CAST({v} AS BIGINT) END"
    if col.kind == "bool":
        return _bool(raw)
    if col.kind == "status":
        v = _blank_to_null(raw)
        return f"CASE WHEN {v} IN ({lit(STATUS_COMPLETED)}, {lit(STATUS_IN_PROGRESS)}) THEN {v} END"
    raise AssertionError(col.kind)


def _t(name: str) -> str:
    """Inner alias of a column's typed value."""
    return q("t_" + name)


def _p(name: str) -> str:
    """Inner alias of "the raw cell is not blank"."""
    return q("p_" + name)


_PARSE_HINT: dict[ColumnKind, str] = {
    "instant": "must be epoch milliseconds or ISO-8601 with an offset",
    "int": "must be a whole number >= 0",
    "bool": "must be true/false/1/0/yes/no",
    "status": f"must be {STATUS_COMPLETED!r} or {STATUS_IN_PROGRESS!r}",
}


def _reasons() -> list[tuple[str, str]]:
    """(condition, reason) over the inner typed columns; a row is bad when any holds."""
    checks: list[tuple[str, str]] = []
    for col in COLUMNS:
        if col.required:
            checks.append((f"NOT {_p(col.name)}", f"{col.name} is required"))
        if col.kind in _PARSE_HINT:
            checks.append(
                (
                    f"{_p(col.name)} AND {_t(col.name)} IS NULL",
                    f"{col.name} {_PARSE_HINT[col.kind]}",
                )
            )
    checks.append(
        (
            f"{_p('pbx_id')} AND NOT regexp_full_match({_t('pbx_id')}, {lit(PBX_ID_PATTERN)})",
            "pbx_id must be 1-64 characters of A-Z a-z 0-9 . _ -",
        )
    )
    checks.append((f"{_t('leg_id')} = 0", "leg_id must be >= 1"))
    start, connect, end = _t("start_time"), _t("connect_time"), _t("end_time")
    checks.append((f"{start} > {end}", "start_time is after end_time"))
    checks.append((f"{connect} < {start}", "connect_time is before start_time"))
    checks.append((f"{connect} > {end}", "connect_time is after end_time"))
    answered = f"{connect} IS NOT NULL"
    abandoned = f"coalesce({_t('abandoned')}, FALSE)"
    voicemail = f"coalesce({_t('voicemail')}, FALSE)"
    checks.append((f"{answered} AND {abandoned}", "an answered leg cannot be abandoned"))
    checks.append((f"{answered} AND {voicemail}", "an answered leg cannot go to voicemail"))
    checks.append((f"{abandoned} AND {voicemail}", "abandoned and voicemail exclude each other"))
    return checks


_DEFAULTS = {
    "abandoned": "FALSE",
    "voicemail": "FALSE",
    "status": lit(STATUS_COMPLETED),
    "hold_ms": "0",
}


def validated_select(raw_relation: str) -> str:
    """SQL turning a raw relation into typed canonical legs plus ``_line`` and ``_reason``.

    ``raw_relation`` has every canonical column as text (absent optional ones as NULL),
    ``_line`` (the row's place in its source, for messages) and ``_source_error`` (a reason
    the adapter found, such as a line that is not JSON, else NULL). ``_reason`` is NULL for
    a valid row, else every broken rule joined with ``"; "``.
    """
    inner = [f"{_typed(c)} AS {_t(c.name)}" for c in COLUMNS]
    inner += [f"({_blank_to_null(q(c.name))} IS NOT NULL) AS {_p(c.name)}" for c in COLUMNS]
    inner += [q(LINE_COLUMN), q(SOURCE_ERROR_COLUMN)]
    outer = []
    for col in COLUMNS:
        expr = _t(col.name)
        if col.name in _DEFAULTS:
            expr = f"coalesce({expr}, {_DEFAULTS[col.name]})"
        outer.append(f"CAST({expr} AS {col.sql_type}) AS {q(col.name)}")
    outer.append(q(LINE_COLUMN))
    # A row the adapter could not read has no columns worth checking.
    rules = ", ".join(f"CASE WHEN {cond} THEN {lit(text)} END" for cond, text in _reasons())
    outer.append(
        f"coalesce({q(SOURCE_ERROR_COLUMN)}, NULLIF(concat_ws('; ', {rules}), '')) "
        f"AS {q(REASON_COLUMN)}"
    )
    return (
        "SELECT "
        + ",\n  ".join(outer)
        + "\nFROM (SELECT "
        + ",\n  ".join(inner)
        + f"\n  FROM {raw_relation}) AS typed"
    )


def store_table_ddl(table: str) -> str:
    """DDL of a table holding canonical legs."""
    cols = ",\n  ".join(
        f"{q(c.name)} {c.sql_type}{' NOT NULL' if c.required else ''}" for c in COLUMNS
    )
    return f"CREATE TABLE IF NOT EXISTS {table} (\n  {cols}\n)"
