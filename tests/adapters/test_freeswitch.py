"""FreeSWITCH CDRs: ``freeswitch-json`` (mod_json_cdr, a folder per case with the A leg and
its B legs, as ``log-b-leg=true`` writes them) and ``freeswitch-csv`` (mod_cdr_csv, the
``example`` template), each case with its extension summary worked out by hand.

Times are local to America/New_York; 2026-03-02 is a winter (EST, UTC-5) Monday. The JSON
documents carry epochs (no time zone needed); their values are URL-encoded, as mod_json_cdr
writes them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from workanalytics.cli import main
from workanalytics.ingest.freeswitch import FreeSwitchCsvSource, FreeSwitchJsonSource
from workanalytics.ingest.sources import SOURCE_FORMATS, SourceError, open_source
from workanalytics.store.base import IngestRejected
from workanalytics.store.duckdb_store import DuckDBStore

from adapterkit import NY, assert_summary
from adapterkit import stored_legs as legs
from adapterkit import summary as pbx_summary

DATA = Path(__file__).parent / "data" / "freeswitch"
CSV_DATA = Path(__file__).parent / "data" / "freeswitch-csv"
LAST_APP_COLUMNS = ["caller_id_number", "destination_number", "start_stamp", "answer_stamp",
                    "end_stamp", "duration", "billsec", "hangup_cause", "uuid", "bleg_uuid",
                    "last_app", "last_arg"]  # fmt: skip


@pytest.fixture
def store(tmp_path: Path):
    s = DuckDBStore(tmp_path / "legs.duckdb")
    yield s
    s.close()


def ingest(store: DuckDBStore, path: Path, fmt: str = "freeswitch-json", **kw: object):
    source = open_source(path, fmt, known_extensions=store.directory_extensions(), **kw)
    return store.ingest(source)


def summary(store: DuckDBStore, start: str, end: str, tz: str = NY):
    return pbx_summary(store, start, end, "freeswitch", tz)


def day(store: DuckDBStore, date: str = "2026-03-02"):
    return summary(store, f"{date} 00:00:00", f"{date} 23:59:59")


# Summaries shared by both formats (the same calls, written by mod_json_cdr or mod_cdr_csv).
INTERNAL = {
    "1001": {"Internal_Outbound_Total": 1, "Internal_Outbound_Answered": 1, "Outbound_Total": 1,
             "Outbound_Answered": 1, "Total_Answered": 1, "Total_Ring_Time": 5_000,
             "Total_Talk_Time": 60_000, "Total_Call_Time": 65_000, "Avg_Ring_Time": 5_000,
             "Avg_Talk_Time": 60_000, "Outbound_Talk_Time": 60_000},
    "1002": {"Internal_Inbound_Total": 1, "Internal_Inbound_Answered": 1, "Inbound_Total": 1,
             "Inbound_Answered": 1, "Total_Answered": 1, "Total_Ring_Time": 5_000,
             "Total_Talk_Time": 60_000, "Total_Call_Time": 65_000, "Avg_Ring_Time": 5_000,
             "Avg_Talk_Time": 60_000, "Inbound_Talk_Time": 60_000},
}  # fmt: skip
MISSED_6S = {"External_Inbound_Total": 1, "External_Inbound_Missed": 1, "Inbound_Total": 1,
             "Inbound_Missed": 1, "Total_Missed": 1, "Total_Ring_Time": 6_000,
             "Total_Call_Time": 6_000, "Avg_Ring_Time": 6_000}  # fmt: skip


def answered_inbound(ring: int, talk: int) -> dict[str, int]:
    return {"External_Inbound_Total": 1, "External_Inbound_Answered": 1,
            "Percent_External_Inbound_Answered": 100, "Inbound_Total": 1, "Inbound_Answered": 1,
            "Total_Answered": 1, "Total_Ring_Time": ring, "Total_Talk_Time": talk,
            "Total_Call_Time": ring + talk, "Avg_Ring_Time": ring, "Avg_Talk_Time": talk,
            "Inbound_Talk_Time": talk}  # fmt: skip


# --- mod_json_cdr, one folder per case --------------------------------------------------------


def test_internal_call_answered(store):
    """1001 calls user/1002: the B leg rings 5 s, then 60 s of talk. The A leg is the routing
    record of the call, credited to no one: the B leg is the leg."""
    report = ingest(store, DATA / "internal_answered")
    assert report.legs_stored == 2
    assert_summary(day(store), INTERNAL)
    route, leg = legs(store)
    assert (route["caller_ext"], route["callee_ext"]) == (None, None)
    assert (leg["caller_ext"], leg["callee_ext"], leg["sip_call_id"]) == (
        "1001", "1002", "b1000001@192.0.2.10")  # fmt: skip
    assert leg["caller_name"] == "Alice Smith"  # URL-decoded from Alice%20Smith


def test_external_inbound_answered(store):
    ingest(store, DATA / "external_inbound_answered")
    assert_summary(day(store), {"1001": answered_inbound(8_000, 180_000)})


def test_caller_hangs_up_while_ringing(store):
    """ORIGINATOR_CANCEL on the ringing B leg: the caller gave up."""
    ingest(store, DATA / "caller_hangs_up")
    assert_summary(day(store), {
        "1002": {"External_Inbound_Total": 1, "External_Inbound_Abandoned": 1,
                 "External_Inbound_Missed": 1, "Inbound_Total": 1, "Inbound_Abandoned": 1,
                 "Inbound_Missed": 1, "Total_Abandoned": 1, "Total_Missed": 1,
                 "Total_Ring_Time": 12_000, "Total_Abandoned_Time": 12_000,
                 "Total_Call_Time": 12_000, "Avg_Ring_Time": 12_000, "Avg_Abandoned_Time": 12_000},
    })  # fmt: skip


NO_ANSWER_VOICEMAIL = {
    "1003": {"External_Inbound_Total": 2, "External_Inbound_Missed": 2, "Inbound_Total": 2,
             "Inbound_Missed": 2, "Total_Calls_To_VM": 1, "Total_Missed": 2,
             "Total_Ring_Time": 50_000, "Total_Call_Time": 50_000, "Avg_Ring_Time": 25_000},
}  # fmt: skip


def test_no_answer_then_voicemail(store):
    """The B leg to 1003 times out (NO_ANSWER, 20 s); the A leg then runs ``voicemail`` (the
    caller leaves a 30 s message): a missed leg and a voicemail leg, never an answer, though
    voicemail answered the A leg."""
    ingest(store, DATA / "no_answer_voicemail")
    assert_summary(day(store), NO_ANSWER_VOICEMAIL)
    ring, message = legs(store)
    assert (ring["cause"], ring["abandoned"], ring["voicemail"]) == ("NO_ANSWER", False, False)
    assert (message["voicemail"], message["connect_time"], message["callee"]) == (
        True,
        None,
        "1003",
    )
    assert message["start_time"] == ring["end_time"]  # the message starts when the ringing ends


def test_voicemail_through_a_loopback_leg(store, tmp_path):
    """FreeSWITCH's default dialplan sends the caller to voicemail by bridging to
    ``loopback/app=voicemail:default $${domain} 1003``: the loopback B leg is the voicemail
    leg, its ``-b`` half (running the app) is a hop."""
    folder = tmp_path / "cdrs"
    shutil.copytree(DATA / "no_answer_voicemail", folder)
    a_path = next(folder.glob("a*.json"))
    a_doc = json.loads(a_path.read_text())
    a_uuid = a_doc["variables"]["uuid"]
    a_doc["variables"]["last_app"] = "bridge"
    a_doc["variables"]["last_arg"] = "loopback%2Fapp%3Dvoicemail%3Adefault%20pbx.example.com%201003"
    a_path.write_text(json.dumps(a_doc))
    for half, uuid in (("a", "e1000004-0000-4000-8000-00000000000a"),
                       ("b", "e1000004-0000-4000-8000-00000000000b")):  # fmt: skip
        variables = {
            "uuid": uuid,
            "channel_name": f"loopback%2Fapp%3Dvoicemail%3Adefault%20pbx.example.com%201003-{half}",
            "destination_number": "app%3Dvoicemail%3Adefault%20pbx.example.com%201003",
            "caller_id_number": "%2B15551230003",
            "start_uepoch": "1772470820400000", "end_uepoch": "1772470850400000",
            "answer_uepoch": "1772470820400000", "hangup_cause": "NORMAL_CLEARING",
        }  # fmt: skip
        if half == "a":
            variables["originating_leg_uuid"] = a_uuid
        else:
            variables["last_app"] = "voicemail"
        (folder / f"{uuid}.cdr.json").write_text(json.dumps({"variables": variables}))
    ingest(store, folder)
    assert_summary(day(store), NO_ANSWER_VOICEMAIL)


def test_busy(store):
    ingest(store, DATA / "busy")
    assert_summary(day(store), {
        "1001": {"Internal_Outbound_Total": 1, "Internal_Outbound_Abandoned": 1,
                 "Outbound_Total": 1, "Outbound_Abandoned": 1, "Total_Abandoned": 1,
                 "Total_Ring_Time": 1_000, "Total_Abandoned_Time": 1_000, "Total_Call_Time": 1_000,
                 "Avg_Ring_Time": 1_000, "Avg_Abandoned_Time": 1_000},
        "1002": {"Internal_Inbound_Total": 1, "Internal_Inbound_Missed": 1, "Inbound_Total": 1,
                 "Inbound_Missed": 1, "Total_Missed": 1, "Total_Ring_Time": 1_000,
                 "Total_Call_Time": 1_000, "Avg_Ring_Time": 1_000},
    })  # fmt: skip
    assert [leg["cause"] for leg in legs(store)] == ["USER_BUSY", "USER_BUSY"]


def test_ring_all_group_answered_by_one_member(store):
    """``bridge user/1001,user/1002,user/1003``: 1002 answers after 6 s; the others end with
    LOSE_RACE (missed, not abandoned). Nothing is credited to the group number (600)."""
    ingest(store, DATA / "ring_all")
    assert_summary(day(store), {
        "1001": MISSED_6S, "1002": answered_inbound(6_000, 120_000), "1003": MISSED_6S,
    })  # fmt: skip
    rows = legs(store)
    assert [r["leg_id"] for r in rows] == [1, 2, 3, 4]
    assert {r["call_id"] for r in rows} == {"a1000006-0000-4000-8000-000000000006"}


def test_members_cancelled_by_an_answer_are_not_abandoned(store, tmp_path):
    """Some setups end the losing members of a ring-all with ORIGINATOR_CANCEL rather than
    LOSE_RACE: a member that stopped ringing because another answered is still not abandoned."""
    folder = tmp_path / "cdrs"
    shutil.copytree(DATA / "ring_all", folder)
    for path in folder.glob("b*.json"):
        path.write_text(path.read_text().replace("LOSE_RACE", "ORIGINATOR_CANCEL"))
    ingest(store, folder)
    assert_summary(day(store), {
        "1001": MISSED_6S, "1002": answered_inbound(6_000, 120_000), "1003": MISSED_6S,
    })  # fmt: skip


def test_outbound_to_pstn_unanswered(store):
    """1004 dials out through gateway voipms; gives up after 30 s of ringing."""
    ingest(store, DATA / "outbound_unanswered")
    assert_summary(day(store), {
        "1004": {"External_Outbound_Total": 1, "External_Outbound_Abandoned": 1,
                 "Outbound_Total": 1, "Outbound_Abandoned": 1, "Total_Abandoned": 1,
                 "Total_Ring_Time": 30_000, "Total_Abandoned_Time": 30_000,
                 "Total_Call_Time": 30_000, "Avg_Ring_Time": 30_000, "Avg_Abandoned_Time": 30_000},
    })  # fmt: skip
    assert legs(store)[1]["callee"] == "18005550199"  # not an extension: a gateway leg


def test_transfer(store):
    """1001 answers, talks 60 s and transfers the caller to 1003, who answers after 5 s."""
    ingest(store, DATA / "transfer")
    assert_summary(day(store), {
        "1001": answered_inbound(5_000, 60_000), "1003": answered_inbound(5_000, 90_000),
    })  # fmt: skip


def test_checking_ones_own_voicemail_is_system_activity(store, tmp_path):
    doc = {"variables": {"uuid": "u1", "user_name": "1001", "caller_id_number": "1001",
                         "destination_number": "%2A98", "last_app": "voicemail",
                         "last_arg": "check%20default%20pbx.example.com%201001",
                         "start_uepoch": "1772460000000000", "answer_uepoch": "1772460000500000",
                         "end_uepoch": "1772460030000000"}}  # fmt: skip
    (tmp_path / "vm.cdr.json").write_text(json.dumps(doc))
    ingest(store, tmp_path / "vm.cdr.json")
    (leg,) = legs(store)
    assert leg["caller_ext"] == leg["callee_ext"] == "1001"
    assert day(store) == []


def test_the_same_calls_in_one_file_as_json_lines_or_an_array(store, tmp_path):
    docs = [json.loads(p.read_text()) for p in sorted((DATA / "ring_all").glob("*.json"))]
    lines = tmp_path / "cdrs.json"
    lines.write_text("\n".join(json.dumps(d) for d in docs) + "\n")
    ingest(store, lines)
    first = legs(store)
    array = tmp_path / "array.json"
    array.write_text(json.dumps(docs))
    again = ingest(store, array)
    assert again.legs_replaced == 4  # the same identities
    assert legs(store) == first


def test_replaying_a_folder_replaces_its_legs(store):
    ingest(store, DATA / "ring_all")
    again = ingest(store, DATA / "ring_all")
    assert (again.legs_stored, again.legs_replaced) == (4, 4)


def test_bad_documents_are_named_by_file(store, tmp_path):
    folder = tmp_path / "cdrs"
    shutil.copytree(DATA / "busy", folder)
    (folder / "broken.cdr.json").write_text('{"variables": {"uuid": "x"')
    (folder / "nouuid.cdr.json").write_text(json.dumps({"variables": {"start_uepoch": "1"}}))
    (folder / "other.cdr.json").write_text(json.dumps({"hello": "world"}))
    with pytest.raises(IngestRejected) as info:
        ingest(store, folder)
    assert [(e.where, e.reason) for e in info.value.errors] == [
        (str(folder / "broken.cdr.json"), "not valid JSON"),
        (str(folder / "nouuid.cdr.json"),
         "uuid is missing; end_uepoch, end_epoch, end_stamp and duration are all missing"),
        (str(folder / "other.cdr.json"),
         'no "variables"; expected a FreeSWITCH JSON CDR (an object with "variables")'),
    ]  # fmt: skip
    assert store.leg_count() == 0


def test_local_stamps_need_a_zone(store, tmp_path):
    doc = {"variables": {"uuid": "u1", "start_stamp": "2026-03-02%2009%3A00%3A00",
                         "end_stamp": "2026-03-02%2009%3A00%3A10", "duration": "10",
                         "caller_id_number": "1001", "destination_number": "1002"}}  # fmt: skip
    path = tmp_path / "old.cdr.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(IngestRejected, match="give --source-tz"):
        ingest(store, path)
    ingest(store, path, source_tz=NY)
    assert legs(store)[0]["start_time"] == 1_772_460_000_000


def test_formats_are_registered_and_a_folder_needs_the_json_format(tmp_path):
    assert SOURCE_FORMATS["freeswitch-json"] is FreeSwitchJsonSource
    assert SOURCE_FORMATS["freeswitch-csv"] is FreeSwitchCsvSource
    with pytest.raises(SourceError, match="is a folder; only --format freeswitch-json"):
        open_source(DATA / "busy", "csv")
    with pytest.raises(SourceError, match=r"no \*\.json files"):
        open_source(tmp_path, "freeswitch-json").reader().read_all()


def test_cli_ingests_a_folder(tmp_path: Path):
    runner = CliRunner(env={"COLUMNS": "400"})
    data = str(tmp_path / "data")
    done = runner.invoke(main, ["--data-dir", data, "ingest", "--format", "freeswitch-json",
                                str(DATA / "ring_all"), "--output-format", "json"])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)[0]["stored"] == 4


# --- mod_cdr_csv ------------------------------------------------------------------------------


def test_csv_example_template_day(store):
    """A-leg records only (mod_cdr_csv's default): 09:00 1001 -> 1002 answered; 10:00 outside ->
    1001 answered; 11:00 outside -> 1002, caller gives up after 12 s; 13:00 1001 -> 1002 busy;
    16:00 1004 -> outside, unanswered after 30 s."""
    ingest(store, CSV_DATA / "Master.csv", "freeswitch-csv", source_tz=NY)
    assert_summary(day(store), {
        "1001": {"External_Inbound_Total": 1, "External_Inbound_Answered": 1,
                 "Percent_External_Inbound_Answered": 100, "Internal_Outbound_Total": 2,
                 "Internal_Outbound_Answered": 1, "Internal_Outbound_Abandoned": 1,
                 "Inbound_Total": 1, "Inbound_Answered": 1, "Outbound_Total": 2,
                 "Outbound_Answered": 1, "Outbound_Abandoned": 1, "Total_Answered": 2,
                 "Total_Abandoned": 1, "Total_Ring_Time": 14_000, "Total_Talk_Time": 240_000,
                 "Total_Abandoned_Time": 1_000, "Total_Call_Time": 254_000, "Avg_Ring_Time": 4_666,
                 "Avg_Talk_Time": 120_000, "Inbound_Talk_Time": 180_000,
                 "Outbound_Talk_Time": 60_000, "Avg_Abandoned_Time": 1_000},
        "1002": {"External_Inbound_Total": 1, "External_Inbound_Abandoned": 1,
                 "External_Inbound_Missed": 1, "Internal_Inbound_Total": 2,
                 "Internal_Inbound_Answered": 1, "Internal_Inbound_Missed": 1, "Inbound_Total": 3,
                 "Inbound_Answered": 1, "Inbound_Abandoned": 1, "Inbound_Missed": 2,
                 "Total_Answered": 1, "Total_Abandoned": 1, "Total_Missed": 2,
                 "Total_Ring_Time": 18_000, "Total_Talk_Time": 60_000,
                 "Total_Abandoned_Time": 12_000, "Total_Call_Time": 78_000, "Avg_Ring_Time": 6_000,
                 "Avg_Talk_Time": 60_000, "Inbound_Talk_Time": 60_000,
                 "Avg_Abandoned_Time": 12_000},
        "1004": {"External_Outbound_Total": 1, "External_Outbound_Abandoned": 1,
                 "Outbound_Total": 1, "Outbound_Abandoned": 1, "Total_Abandoned": 1,
                 "Total_Ring_Time": 30_000, "Total_Abandoned_Time": 30_000,
                 "Total_Call_Time": 30_000, "Avg_Ring_Time": 30_000, "Avg_Abandoned_Time": 30_000},
    })  # fmt: skip


def test_csv_across_a_change_of_offset(store):
    """The fall-back night in New York: 01:30 (twice that night) is read as its first, EDT,
    reading; the call at 01:59:50 EDT lasts 20 s though its end is written as 01:00:10 EST."""
    ingest(store, CSV_DATA / "dst_fall_back.csv", "freeswitch-csv", source_tz=NY)
    assert_summary(summary(store, "2026-11-01 05:00:00", "2026-11-01 05:59:59", "UTC"), {
        "1001": answered_inbound(10_000, 120_000),
        "1002": {"External_Inbound_Total": 1, "External_Inbound_Abandoned": 1,
                 "External_Inbound_Missed": 1, "Inbound_Total": 1, "Inbound_Abandoned": 1,
                 "Inbound_Missed": 1, "Total_Abandoned": 1, "Total_Missed": 1,
                 "Total_Ring_Time": 20_000, "Total_Abandoned_Time": 20_000,
                 "Total_Call_Time": 20_000, "Avg_Ring_Time": 20_000, "Avg_Abandoned_Time": 20_000},
    })  # fmt: skip
    # Read as London time instead, the first call is on 31 October in UTC.
    ingest(store, CSV_DATA / "dst_fall_back.csv", "freeswitch-csv", source_tz="Europe/London")
    assert [r["Extension"] for r in
            summary(store, "2026-10-31 23:00:00", "2026-10-31 23:59:59", "UTC")] == ["1001", "1002"]  # fmt: skip


def test_csv_template_with_last_app_tells_voicemail_from_an_answer(store):
    """One A-leg record cannot split the ringing from the message: the whole record is one
    voicemail leg (50 s), not an answer, although ``answer_stamp`` is set."""
    ingest(store, CSV_DATA / "with_last_app.csv", "freeswitch-csv", source_tz=NY,
           columns=[f"${{{c}}}" for c in LAST_APP_COLUMNS])  # fmt: skip
    rows = {r["Extension"]: r for r in day(store)}
    assert (rows["1003"]["Total_Calls_To_VM"], rows["1003"]["Inbound_Answered"],
            rows["1003"]["Total_Ring_Time"]) == (1, 0, 50_000)  # fmt: skip
    assert (rows["1002"]["Internal_Inbound_Answered"], rows["1002"]["Total_Talk_Time"]) == (
        1,
        60_000,
    )


def test_csv_needs_a_zone_and_names_bad_lines(store, tmp_path):
    with pytest.raises(SourceError, match="needs --source-tz"):
        open_source(CSV_DATA / "Master.csv", "freeswitch-csv")
    path = tmp_path / "Master.csv"
    good = (CSV_DATA / "Master.csv").read_text().splitlines()[0]
    path.write_text(good + '\n"only","three","fields"\n'
                    + good.replace("2026-03-02 09:00:00", "yesterday") + "\n")  # fmt: skip
    with pytest.raises(IngestRejected) as info:
        ingest(store, path, "freeswitch-csv", source_tz=NY)
    assert [(e.where, e.reason) for e in info.value.errors] == [
        (f"{path}:2", "the line has 3 fields; expected 15 (the example template)"),
        (f"{path}:3", "start_stamp must be YYYY-MM-DD HH:MM:SS, not 'yesterday'"),
    ]


def test_csv_columns_must_name_uuid_and_times(tmp_path):
    with pytest.raises(SourceError, match="lacks uuid, start_stamp"):
        open_source(CSV_DATA / "Master.csv", "freeswitch-csv", source_tz=NY, columns=["a", "b"])
