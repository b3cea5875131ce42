"""The Extension Summary: which legs count, for whom, and the 45 fields, defined once.

``extension-summary.md`` §2 and §3 live here. The engine, the API, the client and the docs
all read :data:`FIELDS`; nothing else lists the fields.

The computation has two layers, so that every field can be derived from additive numbers
(which is what lets a window be split, or rolled up per day, and still give exact answers):

1. :data:`MEASURES`: additive counts and millisecond sums per (PBX, extension), each an
   aggregate over *credits*: one row per (counted leg, extension it is credited to).
2. :data:`FIELDS`: each field is a measure, a sum or difference of other fields, or a
   floored ratio of them (percentages and averages, 0 when the divisor is 0).

The SQL emitted is plain: ``CASE``, ``SUM``, ``COUNT``, ``coalesce``. Anything an engine
spells its own way (integer division) is passed in by that engine's module.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from workanalytics.legs import STATUS_COMPLETED, lit, q

# --- §2: which legs count, and for whom --------------------------------------------------

#: A leg counts when it is completed and not a phone calling itself (system activity).
#: The window predicate is added by the caller, since engines store windows their own way.
COUNTED_LEG_PREDICATE = (
    f"status = {lit(STATUS_COMPLETED)} "
    "AND (caller_ext IS NULL OR callee_ext IS NULL OR caller_ext <> callee_ext)"
)

#: Columns of a credits relation, derived from a counted leg for the extension credited.
CREDIT_COLUMNS = (
    "pbx_id",
    "extension",
    "inbound",
    "internal",
    "answered",
    "abandoned",
    "voicemail",
    "leg_ring_ms",
    "leg_talk_ms",
)

#: Boolean literals every engine reads (ClickHouse 18.16 has no TRUE or FALSE).
SQL_TRUE = "(1 = 1)"
SQL_FALSE = "(1 = 0)"

#: Derived leg quantities (call-legs.md, "Derived, never stored twice").
ANSWERED_SQL = "(connect_time IS NOT NULL)"
RING_MS_SQL = "(coalesce(connect_time, end_time) - start_time)"
TALK_MS_SQL = "(CASE WHEN connect_time IS NULL THEN 0 ELSE end_time - connect_time END)"


#: Per counted leg, what its credits carry besides who and which way.
LEG_QUANTITIES: tuple[tuple[str, str], ...] = (
    ("answered", ANSWERED_SQL),
    ("abandoned", "abandoned"),
    ("voicemail", "voicemail"),
    ("leg_ring_ms", RING_MS_SQL),
    ("leg_talk_ms", TALK_MS_SQL),
)


@dataclass(frozen=True)
class CreditSide:
    """One side a counted leg is credited to, when that side is an extension."""

    #: The leg column naming the extension credited.
    extension: str
    #: The other side; the credit is internal when it is an extension too.
    other: str
    inbound: bool


#: A leg is credited to its callee (inbound) and to its caller (outbound).
CREDIT_SIDES = (
    CreditSide("callee_ext", "caller_ext", inbound=True),
    CreditSide("caller_ext", "callee_ext", inbound=False),
)


def credits_sql(counted_legs: str, carry: Sequence[str] = ()) -> str:
    """Credit each counted leg to its callee (inbound) and its caller (outbound).

    ``counted_legs`` is a relation of canonical legs already restricted to the window and
    :data:`COUNTED_LEG_PREDICATE`. A leg is internal when both sides are extensions.
    ``carry`` names columns of ``counted_legs`` passed through (a rollup key, a sign).
    """
    common = ", ".join(f"{sql} AS {name}" if sql != name else name for name, sql in LEG_QUANTITIES)
    if carry:
        common += ", " + ", ".join(carry)
    return "\nUNION ALL\n".join(
        f"SELECT pbx_id, {side.extension} AS extension, "
        f"{SQL_TRUE if side.inbound else SQL_FALSE} AS inbound, "
        f"{side.other} IS NOT NULL AS internal, {common} "
        f"FROM {counted_legs} WHERE {side.extension} IS NOT NULL"
        for side in CREDIT_SIDES
    )


def credited_legs_sql(
    counted_legs: str, key_sql: Callable[[str], str], carry: Sequence[str] = ()
) -> str:
    """One row per counted leg with what :func:`credits_from_legs` needs: per side whether
    it is an extension and its key (``key_sql(column)``, e.g. a hash of PBX and extension),
    the leg's quantities, and the columns of ``carry``. A leg read once, instead of once per
    side."""
    sides = ", ".join(
        f"{side.extension} IS NOT NULL AS has_{side.extension}, "
        f"{key_sql(side.extension)} AS key_{side.extension}"
        for side in CREDIT_SIDES
    )
    quantities = ", ".join([f"{sql} AS {name}" for name, sql in LEG_QUANTITIES] + list(carry))
    return f"SELECT {sides}, {quantities} FROM {counted_legs}"


def credits_from_legs(
    legs: Mapping[str, np.ndarray], carry: Sequence[str] = ()
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The twin of :func:`credits_sql` over columns of :func:`credited_legs_sql`: each
    credit's key and its credit columns (those of :data:`CREDIT_COLUMNS` after the key, and
    those of ``carry``)."""
    keys, columns = [], {c: [] for c in (*CREDIT_COLUMNS[2:], *carry)}
    for side in CREDIT_SIDES:
        credited = legs[f"has_{side.extension}"]
        keys.append(legs[f"key_{side.extension}"][credited])
        columns["inbound"].append(np.full(int(credited.sum()), side.inbound))
        columns["internal"].append(legs[f"has_{side.other}"][credited])
        for name in (*(name for name, _sql in LEG_QUANTITIES), *carry):
            columns[name].append(legs[name][credited])
    return np.concatenate(keys), {c: np.concatenate(parts) for c, parts in columns.items()}


# --- layer 1: additive measures over credits -----------------------------------------------


@dataclass(frozen=True)
class Condition:
    """A condition on a credit row, written once and read two ways: as SQL for the engines,
    and evaluated on whole numpy columns of credits (the raw edges of a window)."""

    sql: str
    evaluate: Callable[[Mapping[str, np.ndarray]], np.ndarray]
    atomic: bool = True

    def __and__(self, other: Condition) -> Condition:
        return Condition(
            f"{self._operand()} AND {other._operand()}",
            lambda c: self.evaluate(c) & other.evaluate(c),
            atomic=False,
        )

    def __or__(self, other: Condition) -> Condition:
        return Condition(
            f"({self.sql}) OR ({other.sql})",
            lambda c: self.evaluate(c) | other.evaluate(c),
            atomic=False,
        )

    def __invert__(self) -> Condition:
        return Condition(f"NOT {self._operand()}", lambda c: ~self.evaluate(c))

    def _operand(self) -> str:
        return self.sql if self.atomic or " OR " not in self.sql else f"({self.sql})"


def _column(name: str) -> Condition:
    return Condition(name, lambda c: c[name])


INBOUND, INTERNAL, ANSWERED, ABANDONED, VOICEMAIL = map(
    _column, ("inbound", "internal", "answered", "abandoned", "voicemail")
)
RINGING = Condition("leg_ring_ms > 0", lambda c: c["leg_ring_ms"] > 0)
EVERY_CREDIT = Condition(SQL_TRUE, lambda c: np.ones(len(c["inbound"]), dtype=bool))


@dataclass(frozen=True)
class Measure:
    """An additive number per (PBX, extension): a count of credits, or a sum over them."""

    name: str
    #: Which credit rows are counted or summed.
    condition: Condition
    #: ``None`` counts credits; else the credit column summed.
    sum_of: str | None = None

    @property
    def where(self) -> str:
        """The condition as SQL."""
        return self.condition.sql

    def sql(self, weight: str | None = None) -> str:
        value = "1" if self.sum_of is None else self.sum_of
        if weight is not None:
            value = f"{value} * {weight}"
        return f"SUM(CASE WHEN {self.where} THEN {value} ELSE 0 END)"


_IX = INBOUND & ~INTERNAL
_IN = INBOUND & INTERNAL
_OX = ~INBOUND & ~INTERNAL
_ON = ~INBOUND & INTERNAL

MEASURES: tuple[Measure, ...] = (
    Measure("ext_in_total", _IX),
    Measure("ext_in_answered", _IX & ANSWERED),
    Measure("ext_in_abandoned", _IX & ABANDONED),
    Measure("int_in_total", _IN),
    Measure("int_in_answered", _IN & ANSWERED),
    Measure("int_in_abandoned", _IN & ABANDONED),
    Measure("ext_out_total", _OX),
    Measure("ext_out_answered", _OX & ANSWERED),
    Measure("int_out_total", _ON),
    Measure("int_out_answered", _ON & ANSWERED),
    Measure("to_voicemail", INBOUND & VOICEMAIL),
    Measure("ring_ms", EVERY_CREDIT, sum_of="leg_ring_ms"),
    Measure("ringing_legs", RINGING),
    Measure("in_talk_ms", INBOUND, sum_of="leg_talk_ms"),
    Measure("out_talk_ms", ~INBOUND, sum_of="leg_talk_ms"),
    # Abandoned time is ring time over exactly the legs Total_Abandoned counts.
    Measure(
        "abandoned_ring_ms", (INBOUND & ABANDONED) | (~INBOUND & ~ANSWERED), sum_of="leg_ring_ms"
    ),
)
MEASURE_NAMES = tuple(m.name for m in MEASURES)


def measures_per_group(
    credits: Mapping[str, np.ndarray], groups: np.ndarray, n: int
) -> dict[str, np.ndarray]:
    """Every measure per group over whole columns of credits (the raw edges of a window),
    ``groups`` giving each credit's group in ``range(n)``: the numpy twin of
    :func:`measures_sql`.

    One ``bincount`` per measure, over the credits meeting its condition: each touches
    only the credits and an output of ``n``, which stays in cache. (Counting credits per
    group and condition pattern first touched ``n`` times the patterns, several MB per
    answer, and was ten times slower.) Sums stay exact integers (see :func:`_tally`).
    """
    per_group: dict[str, np.ndarray] = {}
    for m in MEASURES:
        met = m.condition.evaluate(credits)
        weights = None if m.sum_of is None else credits[m.sum_of][met]
        per_group[m.name] = _tally(groups[met], weights, n)
    return per_group


#: Below this, float64 adds integers exactly (a margin under 2**53 for rounding the bound).
_EXACT_IN_FLOAT = 2.0**52


def _tally(groups: np.ndarray, weights: np.ndarray | None, n: int) -> np.ndarray:
    """Per group, the count of credits or the int64 sum of ``weights``: by ``bincount`` (in
    float64) where every sum is sure to be exact, else by ``np.add.at`` in int64. Durations
    are validated up to 15 digits, so a partial day's sum can pass 2**53."""
    if weights is None:
        return np.bincount(groups, minlength=n)
    if np.abs(weights).sum(dtype=np.float64) < _EXACT_IN_FLOAT:
        return np.bincount(groups, weights=weights, minlength=n).astype(np.int64)
    sums = np.zeros(n, dtype=np.int64)
    np.add.at(sums, groups, weights.astype(np.int64))
    return sums


def measures_sql(
    credits: str,
    group_by: Sequence[str] = ("pbx_id", "extension"),
    *,
    weight: str | None = None,
) -> str:
    """Aggregate a credits relation into one row of measures per group.

    ``weight`` (a credit column of +1 / -1) turns the sums into deltas: how a rollup changes
    when legs are added and the legs they replace are taken away.
    """
    keys = ", ".join(group_by)
    aggs = ",\n  ".join(f"{m.sql(weight)} AS {m.name}" for m in MEASURES)
    return f"SELECT {keys},\n  {aggs}\nFROM ({credits}) AS credits\nGROUP BY {keys}"


#: Measures whose sum is the number of credited legs: a row exists only where it is > 0.
CREDIT_COUNT_MEASURES = ("ext_in_total", "int_in_total", "ext_out_total", "int_out_total")


# --- layer 2: the 45 fields -----------------------------------------------------------------

FieldKind = Literal["directory", "count", "duration", "percent", "average"]
FloorDiv = Callable[[str, str], str]


@dataclass(frozen=True)
class Field:
    """One report field. ``position`` is its place in the v2 answer (1-based)."""

    position: int
    name: str
    kind: FieldKind
    #: How it is computed, in the spec's words; the docs print this.
    definition: str
    #: ``("m", measure)``, ``("sum", f1, f2...)``, ``("diff", f1, f2)``, ``("ratio", n, d, k)``
    #: with ``k`` the multiplier, or ``("dir", column)``; names refer to measures or fields.
    formula: tuple[str, ...]
    in_v1: bool = True

    @property
    def additive(self) -> bool:
        """Adding this field over consecutive windows gives the whole window's value."""
        return self.kind in ("count", "duration")

    @property
    def snake_name(self) -> str:
        """``PbxId`` -> ``pbx_id``, ``Total_Calls_To_VM`` -> ``total_calls_to_vm``."""
        spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", self.name)
        return spaced.lower()


def _f(pos, name, kind, definition, *formula, v1=True) -> Field:
    return Field(pos, name, kind, definition, tuple(formula), v1)


FIELDS: tuple[Field, ...] = (
    _f(1, "PbxId", "directory", "PBX name", "key", "pbx_id"),
    _f(2, "Extension", "directory", "extension", "key", "extension"),
    _f(3, "ServiceType", "directory", "directory service type; UE when unknown", "dir", "service_type"),
    _f(4, "FirstName", "directory", "directory first name", "dir", "first_name"),
    _f(5, "LastName", "directory", "directory last name", "dir", "last_name"),
    _f(6, "Branch", "directory", "directory branch", "dir", "branch"),
    _f(7, "Department", "directory", "directory department", "dir", "department"),
    _f(8, "External_Inbound_Total", "count", "count of IX", "m", "ext_in_total"),
    _f(9, "External_Inbound_Answered", "count", "answered in IX", "m", "ext_in_answered"),
    _f(10, "External_Inbound_Abandoned", "count", "abandoned in IX", "m", "ext_in_abandoned"),
    _f(11, "Percent_External_Inbound_Answered", "percent", "floor(100 * #9 / #8), 0 when #8 = 0",
       "ratio", "External_Inbound_Answered", "External_Inbound_Total", "100"),
    _f(12, "External_Inbound_Missed", "count", "not answered in IX",
       "diff", "ext_in_total", "ext_in_answered"),
    _f(13, "External_Outbound_Total", "count", "count of OX", "m", "ext_out_total"),
    _f(14, "External_Outbound_Answered", "count", "answered in OX", "m", "ext_out_answered"),
    _f(15, "Percent_External_Outbound_Answered", "percent", "floor(100 * #14 / #13), 0 when #13 = 0",
       "ratio", "External_Outbound_Answered", "External_Outbound_Total", "100"),
    _f(16, "External_Outbound_Abandoned", "count", "not answered in OX",
       "diff", "ext_out_total", "ext_out_answered"),
    _f(17, "Internal_Inbound_Total", "count", "count of IN", "m", "int_in_total"),
    _f(18, "Internal_Inbound_Answered", "count", "answered in IN", "m", "int_in_answered"),
    _f(19, "Internal_Inbound_Abandoned", "count", "abandoned in IN", "m", "int_in_abandoned"),
    _f(20, "Internal_Inbound_Missed", "count", "not answered in IN",
       "diff", "int_in_total", "int_in_answered"),
    _f(21, "Internal_Outbound_Total", "count", "count of ON", "m", "int_out_total"),
    _f(22, "Internal_Outbound_Answered", "count", "answered in ON", "m", "int_out_answered"),
    _f(23, "Internal_Outbound_Abandoned", "count", "not answered in ON",
       "diff", "int_out_total", "int_out_answered"),
    _f(24, "Inbound_Total", "count", "#8 + #17", "sum", "External_Inbound_Total", "Internal_Inbound_Total"),
    _f(25, "Inbound_Answered", "count", "#9 + #18",
       "sum", "External_Inbound_Answered", "Internal_Inbound_Answered"),
    _f(26, "Inbound_Abandoned", "count", "#10 + #19",
       "sum", "External_Inbound_Abandoned", "Internal_Inbound_Abandoned"),
    _f(27, "Inbound_Missed", "count", "#12 + #20", "sum", "External_Inbound_Missed", "Internal_Inbound_Missed"),
    _f(28, "Total_Calls_To_VM", "count", "voicemail in I", "m", "to_voicemail"),
    _f(29, "Outbound_Total", "count", "#13 + #21", "sum", "External_Outbound_Total", "Internal_Outbound_Total"),
    _f(30, "Outbound_Answered", "count", "#14 + #22",
       "sum", "External_Outbound_Answered", "Internal_Outbound_Answered"),
    _f(31, "Outbound_Abandoned", "count", "#16 + #23",
       "sum", "External_Outbound_Abandoned", "Internal_Outbound_Abandoned"),
    _f(32, "Total_Answered", "count", "Inbound_Answered + Outbound_Answered",
       "sum", "Inbound_Answered", "Outbound_Answered"),
    _f(33, "Total_Abandoned", "count", "Inbound_Abandoned + Outbound_Abandoned",
       "sum", "Inbound_Abandoned", "Outbound_Abandoned"),
    _f(34, "Total_Missed", "count", "Inbound_Missed", "sum", "Inbound_Missed"),
    _f(35, "Total_Ring_Time", "duration", "sum of ring_ms over C", "m", "ring_ms"),
    _f(36, "Total_Talk_Time", "duration", "sum of talk_ms over C", "sum", "in_talk_ms", "out_talk_ms"),
    _f(37, "Total_Abandoned_Time", "duration", "sum of ring_ms over the legs counted in #33",
       "m", "abandoned_ring_ms"),
    _f(38, "Total_Call_Time", "duration", "sum of call_ms over C (= #35 + #36)",
       "sum", "Total_Ring_Time", "Total_Talk_Time"),
    _f(39, "Avg_Ring_Time", "average", "floor(#35 / legs in C with ring_ms > 0), 0 when none",
       "ratio", "Total_Ring_Time", "ringing_legs", "1"),
    _f(40, "Avg_Talk_Time", "average", "floor(#36 / #32), 0 when #32 = 0",
       "ratio", "Total_Talk_Time", "Total_Answered", "1"),
    _f(41, "Inbound_Talk_Time", "duration", "sum of talk_ms over I (v2 only)", "m", "in_talk_ms", v1=False),
    _f(42, "Outbound_Talk_Time", "duration", "sum of talk_ms over O (v2 only)", "m", "out_talk_ms", v1=False),
    _f(43, "Avg_Abandoned_Time", "average", "floor(#37 / #33), 0 when #33 = 0",
       "ratio", "Total_Abandoned_Time", "Total_Abandoned", "1"),
    _f(44, "Email", "directory", "directory email; N/A when empty, not a user (UE), or unknown",
       "user", "email"),
    _f(45, "UserName", "directory", "directory username; N/A likewise", "user", "username"),
)  # fmt: skip

FIELD_BY_NAME: Mapping[str, Field] = {f.name: f for f in FIELDS}
V2_FIELDS: tuple[Field, ...] = FIELDS
V1_FIELDS: tuple[Field, ...] = tuple(f for f in FIELDS if f.in_v1)
ADDITIVE_FIELDS: tuple[Field, ...] = tuple(f for f in FIELDS if f.additive)
SERVICE_TYPE_USER = "UE"
NOT_AVAILABLE = "N/A"


def fields_for(version: int) -> tuple[Field, ...]:
    if version == 1:
        return V1_FIELDS
    if version == 2:
        return V2_FIELDS
    raise ValueError(f"unknown Extension Summary version {version!r}; expected 1 or 2")


def _ansi_floor_div(numerator: str, denominator: str) -> str:
    return f"CAST(floor(({numerator}) / ({denominator})) AS BIGINT)"


def field_sql(
    field: Field,
    *,
    measures: str = "m",
    directory: str = "d",
    floor_div: FloorDiv = _ansi_floor_div,
    by_alias: bool = False,
) -> str:
    """The SQL expression of one field over a measures row ``m`` joined to a directory row ``d``.

    Every operand is non-negative, so integer floor division is exact whatever the engine.
    With ``by_alias`` a field used by another is named by its alias (every formula uses only
    earlier fields, so a select list in spec order can refer back) instead of spelled out
    again, which keeps the expressions small.
    """

    def operand(name: str) -> str:
        if name in FIELD_BY_NAME:
            if by_alias:
                return q(name)
            inner = field_sql(
                FIELD_BY_NAME[name], measures=measures, directory=directory, floor_div=floor_div
            )
            return f"({inner})"
        if name in MEASURE_NAMES:
            return f"{measures}.{name}"
        raise KeyError(name)

    op, *args = field.formula
    if op == "key":
        return f"{measures}.{args[0]}"
    if op == "dir":
        col = f"{directory}.{args[0]}"
        if args[0] == "service_type":
            return f"coalesce(NULLIF({col}, ''), {lit(SERVICE_TYPE_USER)})"
        return f"coalesce({col}, '')"
    if op == "user":
        col = f"{directory}.{args[0]}"
        service = f"coalesce(NULLIF({directory}.service_type, ''), {lit(SERVICE_TYPE_USER)})"
        return (
            f"CASE WHEN {service} = {lit(SERVICE_TYPE_USER)} AND coalesce({col}, '') <> '' "
            f"THEN {col} ELSE {lit(NOT_AVAILABLE)} END"
        )
    if op == "m":
        return operand(args[0])
    if op == "sum":
        return " + ".join(operand(a) for a in args)
    if op == "diff":
        return f"{operand(args[0])} - {operand(args[1])}"
    if op == "ratio":
        num, den, scale = args
        scaled = operand(num) if scale == "1" else f"{scale} * {operand(num)}"
        return f"CASE WHEN {operand(den)} = 0 THEN 0 ELSE {floor_div(scaled, operand(den))} END"
    raise AssertionError(op)


def measure_field_arrays(measures: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every count, duration, percent and average field over columns of measures: the array
    twin of :func:`field_sql`, compiled from the same formulas.

    An answer is a few thousand rows; whole columns at a time, the 38 numeric fields cost
    less than planning them as SQL.
    """
    out: dict[str, np.ndarray] = {}

    def operand(name: str) -> np.ndarray:
        return out[name] if name in FIELD_BY_NAME else measures[name]

    for f in FIELDS:
        op, *args = f.formula
        if op == "m":
            out[f.name] = operand(args[0])
        elif op == "sum":
            out[f.name] = functools.reduce(np.add, map(operand, args))
        elif op == "diff":
            out[f.name] = operand(args[0]) - operand(args[1])
        elif op == "ratio":
            num, den, scale = args
            numerator, denominator = operand(num) * int(scale), operand(den)
            ratio = np.zeros(len(denominator), dtype=np.int64)
            np.floor_divide(numerator, denominator, out=ratio, where=denominator != 0)
            out[f.name] = ratio
    return out


def directory_field_arrays(columns: Mapping[str, pa.Array]) -> dict[str, pa.Array]:
    """The directory fields (``key``, ``dir`` and ``user`` formulas) over directory columns,
    where a null is a value the directory does not have: the array twin of :func:`field_sql`."""
    service = pc.coalesce(
        pc.if_else(pc.equal(columns["service_type"], ""), None, columns["service_type"]),
        SERVICE_TYPE_USER,
    )
    is_user = pc.fill_null(pc.equal(service, SERVICE_TYPE_USER), False)
    out: dict[str, pa.Array] = {}
    for f in FIELDS:
        op, *args = f.formula
        if op == "key":
            out[f.name] = columns[args[0]]
        elif op == "dir":
            out[f.name] = (
                service if args[0] == "service_type" else pc.coalesce(columns[args[0]], "")
            )
        elif op == "user":
            value = pc.coalesce(columns[args[0]], "")
            usable = pc.and_(is_user, pc.not_equal(value, ""))
            out[f.name] = pc.if_else(usable, value, NOT_AVAILABLE)
    return out


def select_fields_sql(
    version: int, *, floor_div: FloorDiv = _ansi_floor_div, lateral_aliases: bool = True
) -> str:
    """The select list of an answer, in spec order, each aliased by its field name.

    Later fields refer to earlier ones by alias (a lateral column alias, which DuckDB and
    ClickHouse both read), so all 45 fields of v2 are computed, v1 included: v1 only shows
    fewer of them. An engine without lateral aliases (PostgreSQL) passes
    ``lateral_aliases=False`` and gets every field spelled out from the measures.
    """
    items = []
    for f in FIELDS:
        sql_type = "VARCHAR" if f.kind == "directory" else "BIGINT"
        expr = field_sql(f, floor_div=floor_div, by_alias=lateral_aliases)
        items.append(f"CAST({expr} AS {sql_type}) AS {q(f.name)}")
    return ",\n  ".join(items)


# --- §4: rows --------------------------------------------------------------------------------


def extension_sort_key(extension: str) -> tuple[int, int, str, str]:
    """Digit-only extensions first, in numeric order (``99`` before ``100``), then the rest
    in plain string order.

    The spec compares two extensions numerically when both are digit strings and as strings
    otherwise; applied pairwise that is not a total order (9 < 10 < 1a < 9), so all-digit
    extensions are placed first. The store's ORDER BY mirrors this key.
    """
    if extension.isascii() and extension.isdigit():
        stripped = extension.lstrip("0")
        return (0, len(stripped), stripped, extension)
    return (1, 0, extension, extension)


@dataclass(frozen=True)
class SummaryResult:
    """An Extension Summary answer: the fields of its version and one tuple per row."""

    fields: tuple[Field, ...]
    rows: list[tuple]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def as_dicts(self) -> list[dict[str, object]]:
        names = self.names
        return [dict(zip(names, row, strict=True)) for row in self.rows]

    def to_json(self) -> bytes:
        """The API's body: a JSON array of objects, keys in spec order."""
        return orjson.dumps(self.as_dicts())

    def __len__(self) -> int:
        return len(self.rows)


def empty_result(version: int) -> SummaryResult:
    return SummaryResult(fields_for(version), [])


#: What a person sees first where all 45 do not fit (CLI table, dashboard).
DEFAULT_TABLE_FIELDS: tuple[str, ...] = (
    "PbxId",
    "Extension",
    "FirstName",
    "LastName",
    "Inbound_Total",
    "Inbound_Answered",
    "Inbound_Missed",
    "Total_Calls_To_VM",
    "Outbound_Total",
    "Outbound_Answered",
    "Total_Abandoned",
    "Total_Talk_Time",
    "Avg_Talk_Time",
    "Avg_Ring_Time",
)
