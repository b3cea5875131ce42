"""Typed Extension Summary rows, generated from :data:`workanalytics.metrics.FIELDS`.

:class:`ExtensionSummaryRow` is a frozen dataclass built once from the 45 field
definitions: one attribute per field, in spec order, named ``field.snake_name``
(``External_Inbound_Total`` is ``row.external_inbound_total``), typed ``str`` for directory
fields and ``int`` for numbers. The two v2-only fields are None in a v1 row.
``to_dict()`` gives the API's object back, names and order as the server sent them.

A row of a series also carries its :class:`~workanalytics.client.periods.Period`; that is
not an API field, so ``to_dict()`` leaves it out unless asked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from workanalytics.client.periods import Period
from workanalytics.metrics import FIELDS, Field, fields_for

#: Names of the columns a series adds in front of the API's fields.
PERIOD_COLUMNS: tuple[str, ...] = ("Period", "StartTime", "EndTime")


def _type(f: Field) -> type:
    return str if f.kind == "directory" else int


def _to_dict(self, *, period: bool = False) -> dict[str, Any]:
    """The API's object: its names, spec order; v2-only fields only when set.

    With ``period=True`` a series row starts with ``Period``, ``StartTime``, ``EndTime``.
    """
    out: dict[str, Any] = {}
    if period:
        p = self.period
        out.update(zip(PERIOD_COLUMNS, p.columns() if p else (None, None, None), strict=True))
    for f in FIELDS:
        value = getattr(self, f.snake_name)
        if value is not None or f.in_v1:
            out[f.name] = value
    return out


@classmethod  # type: ignore[misc]
def _from_api(cls, obj: Mapping[str, Any], *, period: Period | None = None):
    """A row from one object of the API's answer. Fields the answer lacks take the OAS
    default (0, or "" for text), except the v2-only ones, which stay None; keys the
    client does not know are ignored."""
    values: dict[str, Any] = {}
    for f in FIELDS:
        raw = obj.get(f.name)
        if raw is None:
            values[f.snake_name] = None if not f.in_v1 else ("" if f.kind == "directory" else 0)
        elif f.kind == "directory":
            values[f.snake_name] = str(raw)
        else:
            values[f.snake_name] = int(raw)
    return cls(**values, period=period)


def _version(self) -> int:
    """2 when the row carries the v2-only fields, else 1."""
    return 2 if all(getattr(self, f.snake_name) is not None for f in FIELDS) else 1


def _values(self, names: Sequence[str]) -> tuple[Any, ...]:
    """Values by API name (or a period column), for tables and files."""
    d = self.to_dict(period=self.period is not None)
    return tuple(d.get(n) for n in names)


def _build_row_class() -> type:
    specs: list[tuple[str, Any, Any]] = []
    for f in FIELDS:
        t = _type(f)
        if f.in_v1:
            specs.append((f.snake_name, t, dataclasses.field()))
        else:
            specs.append((f.snake_name, t | None, dataclasses.field(default=None)))
    specs.append(("period", Period | None, dataclasses.field(default=None)))
    doc = (
        "One Extension Summary row: the 45 fields of metrics.FIELDS in spec order, as "
        "snake_case attributes (v2-only fields None in a v1 row), and the period of a "
        "series row."
    )
    return dataclasses.make_dataclass(
        "ExtensionSummaryRow",
        specs,
        namespace={
            "__doc__": doc,
            "__module__": __name__,
            "FIELDS": FIELDS,
            "to_dict": _to_dict,
            "from_api": _from_api,
            "version": property(_version),
            "values": _values,
        },
        frozen=True,
        kw_only=True,
        slots=True,
    )


ExtensionSummaryRow = _build_row_class()


def rows_from_answer(body: Any, *, period: Period | None = None) -> list[ExtensionSummaryRow]:  # type: ignore[valid-type]
    """Rows from the decoded JSON array the API answered."""
    if not isinstance(body, list) or not all(isinstance(o, Mapping) for o in body):
        raise TypeError("the Extension Summary answer is not a JSON array of objects")
    return [ExtensionSummaryRow.from_api(o, period=period) for o in body]


def column_names(version: int, *, period: bool = False) -> tuple[str, ...]:
    """The API's field names of ``version``, with the period columns first for a series."""
    names = tuple(f.name for f in fields_for(version))
    return (PERIOD_COLUMNS + names) if period else names


def to_arrow(rows: Iterable[Any], version: int, *, period: bool = False):
    """A ``pyarrow.Table`` of rows: strings for directory fields, int64 for numbers."""
    import pyarrow as pa

    rows = list(rows)
    columns: list[tuple[str, Any]] = []
    if period:
        columns += [(name, pa.string()) for name in PERIOD_COLUMNS]
    columns += [
        (f.name, pa.string() if f.kind == "directory" else pa.int64()) for f in fields_for(version)
    ]
    dicts = [r.to_dict(period=period) for r in rows]
    schema = pa.schema(columns)
    return pa.table({name: [d[name] for d in dicts] for name, _ in columns}, schema=schema)
