"""Each rule of extension-summary.md §2-§4 and §6, on legs built by hand."""

from __future__ import annotations

import orjson
import pytest

from workanalytics.metrics import (
    ADDITIVE_FIELDS,
    FIELDS,
    V1_FIELDS,
    extension_sort_key,
    fields_for,
)

from conftest import Leg, StoreHelper
from reference import SPEC_FIELDS, V2_ONLY

T0 = 1_772_370_000_000  # 2026-03-01T13:00:00Z


def at(seconds: float) -> int:
    return T0 + int(seconds * 1000)


# --- the field list itself ------------------------------------------------------------------


def test_fields_are_the_spec_list_in_order():
    assert tuple(f.name for f in FIELDS) == SPEC_FIELDS
    assert [f.position for f in FIELDS] == list(range(1, 46))


def test_v1_omits_exactly_fields_41_and_42():
    assert tuple(f.name for f in V1_FIELDS) == tuple(n for n in SPEC_FIELDS if n not in V2_ONLY)
    assert {f.position for f in FIELDS if not f.in_v1} == {41, 42}


def test_unknown_version_is_refused():
    with pytest.raises(ValueError, match="version"):
        fields_for(3)


def test_additive_fields_are_counts_and_durations():
    names = {f.name for f in ADDITIVE_FIELDS}
    assert "Inbound_Total" in names and "Total_Call_Time" in names
    assert not names & {"Avg_Ring_Time", "Percent_External_Inbound_Answered", "Email"}


# --- §2: crediting ---------------------------------------------------------------------------


def test_external_inbound_answered(any_store_helper):
    any_store_helper.add([Leg(connect_time=at(5), end_time=at(65))])
    r = any_store_helper.row("1001")
    assert r["External_Inbound_Total"] == 1
    assert r["External_Inbound_Answered"] == 1
    assert r["Percent_External_Inbound_Answered"] == 100
    assert r["External_Inbound_Missed"] == 0
    assert r["Total_Ring_Time"] == 5000
    assert r["Total_Talk_Time"] == 60000
    assert r["Inbound_Talk_Time"] == 60000
    assert r["Outbound_Talk_Time"] == 0
    assert r["Total_Call_Time"] == 65000
    assert r["Avg_Talk_Time"] == 60000


def test_internal_call_credits_both_extensions(any_store_helper):
    any_store_helper.add(
        [Leg(caller="1002", caller_ext="1002", connect_time=at(3), end_time=at(33))]
    )
    callee, caller = any_store_helper.row("1001"), any_store_helper.row("1002")
    assert callee["Internal_Inbound_Total"] == 1 and callee["Internal_Inbound_Answered"] == 1
    assert callee["External_Inbound_Total"] == 0 and callee["Outbound_Total"] == 0
    assert caller["Internal_Outbound_Total"] == 1 and caller["Internal_Outbound_Answered"] == 1
    assert caller["Inbound_Total"] == 0
    assert caller["Outbound_Talk_Time"] == 30000 and callee["Inbound_Talk_Time"] == 30000


def test_external_outbound_unanswered_is_abandoned(any_store_helper):
    any_store_helper.add(
        [
            Leg(
                caller="1001",
                caller_ext="1001",
                callee="+15550001111",
                callee_ext=None,
                end_time=at(12),
            )
        ]
    )
    r = any_store_helper.row("1001")
    assert r["External_Outbound_Total"] == 1
    assert r["External_Outbound_Answered"] == 0
    assert r["External_Outbound_Abandoned"] == 1
    assert r["Percent_External_Outbound_Answered"] == 0
    assert r["Outbound_Abandoned"] == 1 and r["Total_Abandoned"] == 1
    assert r["Total_Abandoned_Time"] == 12000 and r["Avg_Abandoned_Time"] == 12000
    assert r["Total_Missed"] == 0  # outbound calls are never missed


def test_abandoned_inbound_is_missed_and_abandoned(any_store_helper):
    any_store_helper.add([Leg(abandoned=True, end_time=at(7))])
    r = any_store_helper.row("1001")
    assert r["External_Inbound_Abandoned"] == 1 and r["External_Inbound_Missed"] == 1
    assert r["Inbound_Abandoned"] == 1 and r["Inbound_Missed"] == 1
    assert r["Total_Abandoned_Time"] == 7000
    assert r["Total_Calls_To_VM"] == 0


def test_voicemail_is_missed_not_abandoned(any_store_helper):
    any_store_helper.add([Leg(voicemail=True, end_time=at(20))])
    r = any_store_helper.row("1001")
    assert r["Total_Calls_To_VM"] == 1
    assert r["Inbound_Missed"] == 1 and r["Inbound_Abandoned"] == 0
    assert r["Total_Abandoned"] == 0 and r["Total_Abandoned_Time"] == 0


def test_ring_all_group_gives_each_member_one_leg(any_store_helper):
    members = ["1001", "1002", "1003", "1004", "1005"]
    legs = [
        Leg(
            call_id="ring",
            leg_id=i + 1,
            callee=m,
            callee_ext=m,
            connect_time=at(4) if m == "1003" else None,
            end_time=at(64) if m == "1003" else at(4),
        )
        for i, m in enumerate(members)
    ]
    any_store_helper.add(legs)
    rows = {r["Extension"]: r for r in any_store_helper.summary()}
    assert set(rows) == set(members)
    assert sum(r["Inbound_Answered"] for r in rows.values()) == 1
    assert sum(r["Inbound_Missed"] for r in rows.values()) == 4
    assert rows["1003"]["Inbound_Answered"] == 1


def test_self_call_is_ignored(any_store_helper):
    any_store_helper.add(
        [
            Leg(call_id="self", caller="1001", caller_ext="1001", callee_ext="1001"),
            Leg(call_id="other", callee="1002", callee_ext="1002"),
        ]
    )
    assert [r["Extension"] for r in any_store_helper.summary()] == ["1002"]


def test_in_progress_legs_are_stored_but_not_counted(any_store_helper):
    report = any_store_helper.add(
        [
            Leg(call_id="live", status="In Progress"),
            Leg(call_id="done", callee_ext="1002", callee="1002"),
        ]
    )
    assert report.legs_stored == 2
    assert [r["Extension"] for r in any_store_helper.summary()] == ["1002"]


def test_leg_with_no_extension_credits_nobody(any_store_helper):
    any_store_helper.add([Leg(callee="+15550000000", callee_ext=None)])
    assert any_store_helper.summary() == []


def test_no_counted_leg_answers_empty(any_store_helper):
    any_store_helper.add([Leg()])
    assert any_store_helper.summary(pbx_ids=["other"]) == []


def test_avg_ring_time_divides_by_legs_that_rang(any_store_helper):
    any_store_helper.add(
        [
            Leg(call_id="a", end_time=at(10)),
            Leg(call_id="b", end_time=at(0), voicemail=True),  # zero ring: not in the divisor
            Leg(call_id="c", end_time=at(5)),
        ]
    )
    r = any_store_helper.row("1001")
    assert r["Total_Ring_Time"] == 15000
    assert r["Avg_Ring_Time"] == 7500


def test_percentages_and_averages_floor(any_store_helper):
    legs = [Leg(call_id="a", connect_time=at(1), end_time=at(1) + 1001)]
    legs += [Leg(call_id="b", connect_time=at(1), end_time=at(1) + 1000)]
    legs += [Leg(call_id="c", end_time=at(3))]
    any_store_helper.add(legs)
    r = any_store_helper.row("1001")
    assert r["Percent_External_Inbound_Answered"] == 66  # 200/3 = 66.67
    assert r["Avg_Talk_Time"] == 1000  # 2001/2 = 1000.5


def test_all_numbers_are_json_integers(any_store_helper):
    any_store_helper.add([Leg(connect_time=at(1), end_time=at(2))])
    result = any_store_helper.store.extension_summary(["acme"], _everything())
    (row,) = orjson.loads(result.to_json())
    for f in FIELDS:
        assert isinstance(row[f.name], str if f.kind == "directory" else int), f.name
    assert list(row) == list(SPEC_FIELDS)


def _everything():
    from workanalytics.timewindow import UtcWindow

    return UtcWindow(0, 2**62)


# --- directory fields and N/A ----------------------------------------------------------------


def test_directory_fields_and_defaults(any_store_helper):
    any_store_helper.add_directory(
        [
            dict(pbx_id="acme", extension="1001", service_type="UE", first_name="Jane",
                 last_name="Li", branch="West", department="Sales", email="j@x.test",
                 username="jane"),
            dict(pbx_id="acme", extension="1002", service_type="UE", first_name="No",
                 last_name="Mail"),
            dict(pbx_id="acme", extension="500", service_type="RG", first_name="Sales Group",
                 email="rg@x.test", username="rg"),
        ]
    )  # fmt: skip
    any_store_helper.add(
        [
            Leg(call_id="a"),
            Leg(call_id="b", callee="1002", callee_ext="1002"),
            Leg(call_id="c", callee="500", callee_ext="500"),
            Leg(call_id="d", callee="1003", callee_ext="1003"),  # added by ingest, no names
        ]
    )
    rows = {r["Extension"]: r for r in any_store_helper.summary()}
    assert (rows["1001"]["FirstName"], rows["1001"]["Branch"]) == ("Jane", "West")
    assert (rows["1001"]["Email"], rows["1001"]["UserName"]) == ("j@x.test", "jane")
    assert (rows["1002"]["Email"], rows["1002"]["UserName"]) == ("N/A", "N/A")  # empty
    assert rows["500"]["ServiceType"] == "RG"
    assert (rows["500"]["Email"], rows["500"]["UserName"]) == ("N/A", "N/A")  # not a user
    assert rows["1003"]["ServiceType"] == "UE"
    assert rows["1003"]["FirstName"] == ""
    assert (rows["1003"]["Email"], rows["1003"]["UserName"]) == ("N/A", "N/A")


def test_extension_missing_from_directory_is_na(tmp_path):
    # DuckDB only: no engine's ingest leaves a seen extension out of the directory.
    store_helper = StoreHelper(tmp_path)
    store_helper.add([Leg()])
    store_helper.store.con.execute("DELETE FROM directory")
    r = store_helper.row("1001")
    assert (r["ServiceType"], r["FirstName"], r["Email"], r["UserName"]) == ("UE", "", "N/A", "N/A")


# --- §4: rows ----------------------------------------------------------------------------


def test_rows_sorted_by_pbx_then_numeric_extension(any_store_helper):
    exts = ["100", "99", "1000", "9", "0100", "abc", "10a"]
    legs = [
        Leg(pbx_id=p, call_id=f"{p}-{e}", callee=e, callee_ext=e)
        for p in ("zeta", "acme")
        for e in exts
    ]
    any_store_helper.add(legs)
    rows = any_store_helper.summary(pbx_ids=["zeta", "acme"])
    got = [(r["PbxId"], r["Extension"]) for r in rows]
    expected_exts = ["9", "99", "0100", "100", "1000", "10a", "abc"]
    assert got == [("acme", e) for e in expected_exts] + [("zeta", e) for e in expected_exts]
    assert sorted(exts, key=extension_sort_key) == expected_exts


def test_v1_rows_have_no_v2_fields(any_store_helper):
    any_store_helper.add([Leg(connect_time=at(1), end_time=at(9))])
    (v1,) = any_store_helper.summary(version=1)
    (v2,) = any_store_helper.summary(version=2)
    assert list(v1) == [n for n in SPEC_FIELDS if n not in V2_ONLY]
    assert {k: v for k, v in v2.items() if k not in V2_ONLY} == v1


# --- §6: 8x8's published rows, reproduced from legs ------------------------------------------

JANE_LI = {
    "PbxId": "demonstrationname", "Extension": "100017", "ServiceType": "UE",
    "FirstName": "Jane", "LastName": "Li", "Branch": "West", "Department": "West Office",
    "External_Inbound_Total": 1, "External_Inbound_Answered": 0, "External_Inbound_Abandoned": 0,
    "Percent_External_Inbound_Answered": 0, "External_Inbound_Missed": 1,
    "External_Outbound_Total": 0, "External_Outbound_Answered": 0,
    "Percent_External_Outbound_Answered": 0, "External_Outbound_Abandoned": 0,
    "Internal_Inbound_Total": 0, "Internal_Inbound_Answered": 0, "Internal_Inbound_Abandoned": 0,
    "Internal_Inbound_Missed": 0, "Internal_Outbound_Total": 0, "Internal_Outbound_Answered": 0,
    "Internal_Outbound_Abandoned": 0, "Inbound_Total": 1, "Inbound_Answered": 0,
    "Inbound_Abandoned": 0, "Inbound_Missed": 1, "Total_Calls_To_VM": 1, "Outbound_Total": 0,
    "Outbound_Answered": 0, "Outbound_Abandoned": 0, "Total_Answered": 0, "Total_Abandoned": 0,
    "Total_Missed": 1, "Total_Ring_Time": 0, "Total_Talk_Time": 0, "Total_Abandoned_Time": 0,
    "Total_Call_Time": 0, "Avg_Ring_Time": 0, "Avg_Talk_Time": 0, "Inbound_Talk_Time": 0,
    "Outbound_Talk_Time": 0, "Avg_Abandoned_Time": 0, "Email": "Jane.Li@nosuchdomain.com",
    "UserName": "janeli@nosuchdomain.com",
}  # fmt: skip
JOHN_SMITH = {
    "PbxId": "demonstrationname", "Extension": "100031", "ServiceType": "UE",
    "FirstName": "John", "LastName": "Smith", "Branch": "West", "Department": "West Office",
    "External_Inbound_Total": 0, "External_Inbound_Answered": 0, "External_Inbound_Abandoned": 0,
    "Percent_External_Inbound_Answered": 0, "External_Inbound_Missed": 0,
    "External_Outbound_Total": 0, "External_Outbound_Answered": 0,
    "Percent_External_Outbound_Answered": 0, "External_Outbound_Abandoned": 0,
    "Internal_Inbound_Total": 0, "Internal_Inbound_Answered": 0, "Internal_Inbound_Abandoned": 0,
    "Internal_Inbound_Missed": 0, "Internal_Outbound_Total": 1, "Internal_Outbound_Answered": 0,
    "Internal_Outbound_Abandoned": 1, "Inbound_Total": 0, "Inbound_Answered": 0,
    "Inbound_Abandoned": 0, "Inbound_Missed": 0, "Total_Calls_To_VM": 0, "Outbound_Total": 1,
    "Outbound_Answered": 0, "Outbound_Abandoned": 1, "Total_Answered": 0, "Total_Abandoned": 1,
    "Total_Missed": 0, "Total_Ring_Time": 29935, "Total_Talk_Time": 0,
    "Total_Abandoned_Time": 29935, "Total_Call_Time": 29935, "Avg_Ring_Time": 29935,
    "Avg_Talk_Time": 0, "Inbound_Talk_Time": 0, "Outbound_Talk_Time": 0,
    "Avg_Abandoned_Time": 29935, "Email": "john.smith@nosuchdomain.com",
    "UserName": "john.smith@nosuchdomain.com",
}  # fmt: skip
LI_CHAN_V1 = {
    "PbxId": "acmecorp2", "Extension": "441001", "ServiceType": "UE", "FirstName": "Li",
    "LastName": "Chan", "Branch": "Remote", "Department": "HR",
    "External_Inbound_Total": 1, "External_Inbound_Answered": 1, "External_Inbound_Abandoned": 0,
    "Percent_External_Inbound_Answered": 100, "External_Inbound_Missed": 0,
    "External_Outbound_Total": 0, "External_Outbound_Answered": 0,
    "Percent_External_Outbound_Answered": 0, "External_Outbound_Abandoned": 0,
    "Internal_Inbound_Total": 0, "Internal_Inbound_Answered": 0, "Internal_Inbound_Abandoned": 0,
    "Internal_Inbound_Missed": 0, "Internal_Outbound_Total": 0, "Internal_Outbound_Answered": 0,
    "Internal_Outbound_Abandoned": 0, "Inbound_Total": 1, "Inbound_Answered": 1,
    "Inbound_Abandoned": 0, "Inbound_Missed": 0, "Total_Calls_To_VM": 0, "Outbound_Total": 0,
    "Outbound_Answered": 0, "Outbound_Abandoned": 0, "Total_Answered": 1, "Total_Abandoned": 0,
    "Total_Missed": 0, "Total_Ring_Time": 5160, "Total_Talk_Time": 2248,
    "Total_Abandoned_Time": 0, "Total_Call_Time": 7408, "Avg_Ring_Time": 5160,
    "Avg_Talk_Time": 2248, "Avg_Abandoned_Time": 0, "Email": "user@example.com",
    "UserName": "li.chan",
}  # fmt: skip


def _person(pbx, ext, first, last, branch, dept, email, username):
    return dict(pbx_id=pbx, extension=ext, service_type="UE", first_name=first, last_name=last,
                branch=branch, department=dept, email=email, username=username)  # fmt: skip


def test_reference_rows_jane_li_and_john_smith(any_store_helper):
    pbx = "demonstrationname"
    any_store_helper.add_directory(
        [
            _person(pbx, "100017", "Jane", "Li", "West", "West Office",
                    "Jane.Li@nosuchdomain.com", "janeli@nosuchdomain.com"),
            _person(pbx, "100031", "John", "Smith", "West", "West Office",
                    "john.smith@nosuchdomain.com", "john.smith@nosuchdomain.com"),
        ]
    )  # fmt: skip
    any_store_helper.add(
        [
            # Jane: one external call sent straight to voicemail (no ring, no talk).
            Leg(pbx_id=pbx, call_id="vm", callee="100017", callee_ext="100017",
                start_time=at(0), end_time=at(0), voicemail=True),
            # John: one internal call he placed, unanswered after 29,935 ms of ringing.
            Leg(pbx_id=pbx, call_id="int", caller="100031", caller_ext="100031",
                callee="100099", callee_ext="100099", start_time=at(100),
                end_time=at(100) + 29935),
        ]
    )  # fmt: skip
    rows = {r["Extension"]: r for r in any_store_helper.summary(pbx_ids=[pbx])}
    assert rows["100017"] == JANE_LI
    assert rows["100031"] == JOHN_SMITH
    assert list(rows["100017"]) == list(JANE_LI)


def test_reference_row_li_chan_as_v1(any_store_helper):
    pbx = "acmecorp2"
    any_store_helper.add_directory(
        [_person(pbx, "441001", "Li", "Chan", "Remote", "HR", "user@example.com", "li.chan")]
    )
    any_store_helper.add(
        [Leg(pbx_id=pbx, callee="441001", callee_ext="441001", start_time=at(0),
             connect_time=at(0) + 5160, end_time=at(0) + 7408)]
    )  # fmt: skip
    (row,) = any_store_helper.summary(pbx_ids=[pbx], version=1)
    assert row == LI_CHAN_V1
    assert list(row) == list(LI_CHAN_V1)


def test_field_reference_page_is_generated_from_the_definitions():
    from workanalytics.fielddoc import DOC_PATH, render

    assert DOC_PATH.read_text() == render(), "run: python -m workanalytics.fielddoc"


def test_snake_names_are_snake_case_and_unique():
    names = {f.name: f.snake_name for f in FIELDS}
    assert names["PbxId"] == "pbx_id"
    assert names["FirstName"] == "first_name"
    assert names["UserName"] == "user_name"
    assert names["Total_Calls_To_VM"] == "total_calls_to_vm"
    assert names["Percent_External_Inbound_Answered"] == "percent_external_inbound_answered"
    assert len(set(names.values())) == len(FIELDS)


def test_the_stores_own_json_is_the_api_body_byte_for_byte(any_store_helper):
    any_store_helper.add_directory(
        [dict(pbx_id="acme", extension="1001", first_name='Zoë "Z" \\ 日本', last_name="a\tb\nc",
              email="z@x.test", username="zoe")]
    )  # fmt: skip
    any_store_helper.add(
        [
            Leg(call_id="a", connect_time=at(1), end_time=at(9)),
            Leg(call_id="b", callee="99", callee_ext="99", caller="100", caller_ext="100"),
        ]
    )
    from workanalytics.timewindow import UtcWindow

    for version in (1, 2):
        for window in (UtcWindow(0, 2**62), UtcWindow(at(0), at(0) + 1), UtcWindow(5, 5)):
            result = any_store_helper.store.extension_summary(["acme"], window, version=version)
            body = any_store_helper.store.extension_summary_json(["acme"], window, version=version)
            assert body == result.to_json()
    assert any_store_helper.store.extension_summary_json([], UtcWindow(0, 2**62)) == b"[]"
