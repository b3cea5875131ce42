"""Typed rows: built from metrics.FIELDS, API names and order back out of to_dict()."""

from __future__ import annotations

import dataclasses

import pyarrow as pa
import pytest

from workanalytics.client import ExtensionSummaryRow, Period
from workanalytics.client.rows import PERIOD_COLUMNS, column_names, rows_from_answer, to_arrow
from workanalytics.metrics import FIELDS, V1_FIELDS

from reference import SPEC_FIELDS, V2_ONLY


def api_object(version: int = 2, seed: int = 1) -> dict[str, object]:
    """An answer object with a distinct value in every field, keys in spec order."""
    obj: dict[str, object] = {}
    for i, name in enumerate(SPEC_FIELDS):
        if version == 1 and name in V2_ONLY:
            continue
        kind = next(f.kind for f in FIELDS if f.name == name)
        obj[name] = f"text{i}" if kind == "directory" else seed * 1000 + i
    return obj


def test_the_row_class_is_generated_from_the_field_definitions():
    names = [f.name for f in dataclasses.fields(ExtensionSummaryRow)]
    assert names == [f.snake_name for f in FIELDS] + ["period"]
    assert ExtensionSummaryRow.FIELDS is FIELDS
    types = {f.name: f.type for f in dataclasses.fields(ExtensionSummaryRow)}
    for f in FIELDS:
        expected = str if f.kind == "directory" else int
        assert types[f.snake_name] == (expected if f.in_v1 else expected | None), f.name


def test_spec_order_matches_the_independent_list():
    # reference.SPEC_FIELDS is written out from the spec by hand, apart from metrics.py.
    assert column_names(2) == SPEC_FIELDS
    assert column_names(1) == tuple(n for n in SPEC_FIELDS if n not in V2_ONLY)
    assert column_names(2, period=True) == PERIOD_COLUMNS + SPEC_FIELDS


@pytest.mark.parametrize("version", [2, 1])
def test_to_dict_gives_the_api_object_back(version):
    obj = api_object(version)
    row = ExtensionSummaryRow.from_api(obj)
    assert row.to_dict() == obj
    assert list(row.to_dict()) == list(obj)  # the order too
    assert row.version == version
    assert row.external_inbound_total == obj["External_Inbound_Total"]
    assert row.pbx_id == obj["PbxId"]
    if version == 1:
        assert row.inbound_talk_time is None and row.outbound_talk_time is None


def test_missing_fields_take_the_oas_defaults_and_unknown_keys_are_ignored():
    row = ExtensionSummaryRow.from_api(
        {"PbxId": "acme", "Extension": "7", "Inbound_Total": "3", "Surprise": 1}
    )
    assert row.inbound_total == 3 and isinstance(row.inbound_total, int)
    assert row.first_name == "" and row.total_talk_time == 0
    assert "Surprise" not in row.to_dict()


def test_rows_are_frozen_and_compare_by_value():
    a = ExtensionSummaryRow.from_api(api_object())
    b = ExtensionSummaryRow.from_api(api_object())
    assert a == b and a != ExtensionSummaryRow.from_api(api_object(seed=2))
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.inbound_total = 5  # type: ignore[misc]


def test_a_series_row_carries_its_period_outside_the_api_fields():
    from datetime import UTC, datetime

    period = Period(
        "2026-03-08", "day", "2026-03-08 00:00:00", "2026-03-08 23:59:59", "America/New_York",
        datetime(2026, 3, 8, 5, tzinfo=UTC), datetime(2026, 3, 9, 4, tzinfo=UTC),
    )  # fmt: skip
    (row,) = rows_from_answer([api_object()], period=period)
    assert row.period is period
    assert row.to_dict() == api_object()
    with_period = row.to_dict(period=True)
    assert list(with_period)[:3] == list(PERIOD_COLUMNS)
    assert tuple(with_period.values())[:3] == period.columns()


def test_an_answer_that_is_not_an_array_of_objects_is_refused():
    with pytest.raises(TypeError):
        rows_from_answer({"PbxId": "acme"})
    with pytest.raises(TypeError):
        rows_from_answer([1, 2])


@pytest.mark.parametrize("version", [2, 1])
def test_arrow_table_is_typed_from_the_fields(version):
    objs = [api_object(version, seed=s) for s in (1, 2)]
    table = to_arrow(rows_from_answer(objs), version)
    assert table.column_names == list(column_names(version))
    for f in V1_FIELDS if version == 1 else FIELDS:
        expected = pa.string() if f.kind == "directory" else pa.int64()
        assert table.schema.field(f.name).type == expected
    assert table.to_pylist() == objs
