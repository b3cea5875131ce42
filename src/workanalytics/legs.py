"""The canonical call leg: its columns, its rules, and the vectorised validator.

Every report is computed from canonical legs only (``shared/spec/call-legs.md``). Input
adapters turn their own rows into a relation of *raw* canonical columns (text, plus the
source line of each row); :func:`validated_select` turns that relation into typed legs and a
rejection reason per row, in one DuckDB query, so no row is ever looked at from Python. A
reader whose file already holds a column in its store type (a Parquet timestamp, integer or
boolean) may hand it over typed instead of as text: the same rules then apply to the value
itself, with the same verdicts and messages.

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


#: The most digits of an instant written as epoch ms, and of a whole number, in text; a typed
#: value is held to the same bounds, so a file says the same in every format.
INSTANT_MAX_DIGITS = 15
INT_MAX_DIGITS = 18
#: (lowest, highest) typed value each kind accepts: what its text rule lets through.
TYPED_BOUNDS: dict[ColumnKind, tuple[int, int]] = {
    "instant": (-(10**INSTANT_MAX_DIGITS - 1), 10**INSTANT_MAX_DIGITS - 1),
    "int": (0, 10**INT_MAX_DIGITS - 1),
}
#: The kinds a reader may hand over typed (in the column's store type) instead of as text.
TYPED_KINDS: frozenset[ColumnKind] = frozenset({"instant", "int", "bool"})


def _blank_to_null(expr: str) -> str:
    """The text trimmed of spaces (DuckDB's trim(): U+0020 and the other Unicode spaces),
    NULL when nothing is left.

    trim() copies every value it is given; the guard passes it only those it may change
    (blank, a space at either end, or any character beyond ASCII), the rest as they are.
    """
    return (
        f"CASE WHEN {expr} = '' OR {expr} LIKE ' %' OR {expr} LIKE '% ' "
        f"OR strlen({expr}) <> length({expr}) THEN NULLIF(trim({expr}), '') ELSE {expr} END"
    )


def _instant_ms(expr: str) -> str:
    """Epoch ms from integer text, or from ISO-8601 with an offset (floored to the ms).

    No text matches both patterns (an ISO instant has a ':'), so the order of the tests is
    free: ISO first, the common case in text files, which then skips the other regular
    expression (a fifth of what reading CSV instants costs)."""
    v = _blank_to_null(expr)
    return (
        f"CASE WHEN regexp_full_match({v}, {lit(ISO_INSTANT_PATTERN)}) "
        f"THEN CAST(floor(epoch_us(TRY_CAST({v} AS TIMESTAMPTZ)) / 1000.0) AS BIGINT) "
        f"WHEN regexp_full_match({v}, '-?[0-9]{{1,{INSTANT_MAX_DIGITS}}}') "
        f"THEN TRY_CAST({v} AS BIGINT) END"
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
        return (
            f"CASE WHEN regexp_full_match({v}, '[0-9]{{1,{INT_MAX_DIGITS}}}') "
            f"THEN CAST({v} AS BIGINT) END"
        )
    if col.kind == "bool":
        return _bool(raw)
    if col.kind == "status":
        v = _blank_to_null(raw)
        return f"CASE WHEN {v} IN ({lit(STATUS_COMPLETED)}, {lit(STATUS_IN_PROGRESS)}) THEN {v} END"
    raise AssertionError(col.kind)


def _typed_as_is(col: Column) -> str:
    """The value of a column handed over typed; NULL where the text rule would refuse it."""
    raw = q(col.name)
    if col.kind in TYPED_BOUNDS:
        low, high = TYPED_BOUNDS[col.kind]
        return f"CASE WHEN {raw} BETWEEN {low} AND {high} THEN {raw} END"
    if col.kind == "bool":
        return raw
    raise AssertionError(col.kind)


def _present(col: Column, typed: frozenset[str]) -> str:
    """Whether the raw cell holds anything: not NULL, and for text not blank either."""
    if col.name in typed:
        return f"({q(col.name)} IS NOT NULL)"
    return f"({_blank_to_null(q(col.name))} IS NOT NULL)"


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
#: Columns a validated leg always has: the required ones and those given a default.
NEVER_NULL: frozenset[str] = REQUIRED_COLUMNS | frozenset(_DEFAULTS)


def validated_select(raw_relation: str, typed: frozenset[str] = frozenset()) -> str:
    """SQL turning a raw relation into typed canonical legs plus ``_line`` and ``_reason``.

    ``raw_relation`` has every canonical column as text (absent optional ones as NULL),
    ``_line`` (the row's place in its source, for messages) and ``_source_error`` (a reason
    the adapter found, such as a line that is not JSON, else NULL). ``_reason`` is NULL for
    a valid row, else every broken rule joined with ``"; "``.

    The columns named in ``typed`` come in their store type instead of text (instants as
    epoch ms BIGINT, whole numbers as BIGINT, booleans as BOOLEAN): NULL is their only
    empty value, and one outside the bounds of the text rule is refused with its message.
    """
    by_name = {c.name: c for c in COLUMNS}
    wrong = sorted(n for n in typed if n not in by_name or by_name[n].kind not in TYPED_KINDS)
    if wrong:
        raise ValueError(f"only instants, whole numbers and booleans come typed: {wrong}")
    inner = [
        f"{_typed_as_is(c) if c.name in typed else _typed(c)} AS {_t(c.name)}" for c in COLUMNS
    ]
    inner += [f"{_present(c, typed)} AS {_p(c.name)}" for c in COLUMNS]
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
