"""Asterisk ``Master.csv`` (``--format asterisk-csv``): one small realistic file per case, each
with its extension summary worked out by hand, then layouts, options and messages.

The files under ``data/asterisk/`` are written as Asterisk 13+ writes them (cdr_csv with
``loguniqueid``, ``loguserfield`` and ``newcdrcolumns``: 21 fields) unless their name says
otherwise. Times are local to America/New_York; 2026-03-02 is a winter (EST, UTC-5) Monday.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner

from workanalytics import directory
from workanalytics.cli import main
from workanalytics.ingest.asterisk import AsteriskCsvSource, arrow_csv_block, zone_hours
from workanalytics.ingest.sources import SOURCE_FORMATS, SourceError, open_source
from workanalytics.store.base import IngestRejected
from workanalytics.store.duckdb_store import DuckDBStore

from adapterkit import NY, assert_summary
from adapterkit import stored_legs as legs
from adapterkit import summary as pbx_summary

DATA = Path(__file__).parent / "data" / "asterisk"


@pytest.fixture
def store(tmp_path: Path):
    s = DuckDBStore(tmp_path / "legs.duckdb")
    yield s
    s.close()


def ingest(store: DuckDBStore, name: str, tz: str = NY, **kw: object):
    path = name if isinstance(name, Path) else DATA / name
    source = open_source(
        path, "asterisk-csv", source_tz=tz, known_extensions=store.directory_extensions(), **kw
    )
    return store.ingest(source)


def summary(store: DuckDBStore, start: str, end: str, tz: str = NY, pbx: str = "asterisk"):
    return pbx_summary(store, start, end, pbx, tz)


def day(store: DuckDBStore, date: str = "2026-03-02"):
    return summary(store, f"{date} 00:00:00", f"{date} 23:59:59")


# --- the cases of the issue, one file each ----------------------------------------------------


def test_internal_call_answered(store):
    """1001 calls 1002: rings 5 s, talk 60 s."""
    ingest(store, "internal_answered.csv")
    assert_summary(day(store), {
        "1001": {"Internal_Outbound_Total": 1, "Internal_Outbound_Answered": 1,
                 "Outbound_Total": 1, "Outbound_Answered": 1, "Total_Answered": 1,
                 "Total_Ring_Time": 5_000, "Total_Talk_Time": 60_000, "Total_Call_Time": 65_000,
                 "Avg_Ring_Time": 5_000, "Avg_Talk_Time": 60_000, "Outbound_Talk_Time": 60_000},
        "1002": {"Internal_Inbound_Total": 1, "Internal_Inbound_Answered": 1,
                 "Inbound_Total": 1, "Inbound_Answered": 1, "Total_Answered": 1,
                 "Total_Ring_Time": 5_000, "Total_Talk_Time": 60_000, "Total_Call_Time": 65_000,
                 "Avg_Ring_Time": 5_000, "Avg_Talk_Time": 60_000, "Inbound_Talk_Time": 60_000},
    })  # fmt: skip
    (leg,) = legs(store)
    assert leg["start_time"] == 1_772_460_000_000  # 09:00 EST = 14:00Z
    assert (leg["call_id"], leg["leg_id"], leg["caller_name"]) == ("1772460000.1", 2, "Alice Smith")


def test_external_inbound_answered(store):
    """A caller from the trunk reaches 1001, who answers after 8 s and talks 3 minutes."""
    ingest(store, "external_inbound_answered.csv")
    assert_summary(day(store), {
        "1001": {"External_Inbound_Total": 1, "External_Inbound_Answered": 1,
                 "Percent_External_Inbound_Answered": 100, "Inbound_Total": 1,
                 "Inbound_Answered": 1, "Total_Answered": 1, "Total_Ring_Time": 8_000,
                 "Total_Talk_Time": 180_000, "Total_Call_Time": 188_000, "Avg_Ring_Time": 8_000,
                 "Avg_Talk_Time": 180_000, "Inbound_Talk_Time": 180_000},
    })  # fmt: skip
    (leg,) = legs(store)
    assert (leg["caller"], leg["caller_ext"]) == ("+15551230001", None)  # a trunk, not a phone


def test_caller_hangs_up_while_ringing(store):
    """1002 rings 12 s of its 20 s timeout; the caller hangs up: abandoned."""
    ingest(store, "caller_hangs_up.csv")
    assert_summary(day(store), {
        "1002": {"External_Inbound_Total": 1, "External_Inbound_Abandoned": 1,
                 "External_Inbound_Missed": 1, "Inbound_Total": 1, "Inbound_Abandoned": 1,
                 "Inbound_Missed": 1, "Total_Abandoned": 1, "Total_Missed": 1,
                 "Total_Ring_Time": 12_000, "Total_Abandoned_Time": 12_000,
                 "Total_Call_Time": 12_000, "Avg_Ring_Time": 12_000, "Avg_Abandoned_Time": 12_000},
    })  # fmt: skip


def test_no_answer_then_voicemail(store):
    """1003 rings out (20 s), then the caller leaves a 30 s message: two legs for 1003, both
    missed, one to voicemail, none answered (VoiceMail's ANSWERED is not a person)."""
    ingest(store, "no_answer_voicemail.csv")
    assert_summary(day(store), {
        "1003": {"External_Inbound_Total": 2, "External_Inbound_Missed": 2, "Inbound_Total": 2,
                 "Inbound_Missed": 2, "Total_Calls_To_VM": 1, "Total_Missed": 2,
                 "Total_Ring_Time": 50_000, "Total_Call_Time": 50_000, "Avg_Ring_Time": 25_000},
    })  # fmt: skip
    ring, mailbox = legs(store)
    assert (ring["voicemail"], ring["abandoned"], ring["cause"]) == (False, False, "NO ANSWER")
    assert (mailbox["voicemail"], mailbox["connect_time"], mailbox["callee"]) == (
        True,
        None,
        "1003",
    )


def test_busy(store):
    """1001 calls 1002, who is busy: missed for 1002 (not abandoned), unanswered for 1001."""
    ingest(store, "busy.csv")
    assert_summary(day(store), {
        "1001": {"Internal_Outbound_Total": 1, "Internal_Outbound_Abandoned": 1,
                 "Outbound_Total": 1, "Outbound_Abandoned": 1, "Total_Abandoned": 1,
                 "Total_Ring_Time": 1_000, "Total_Abandoned_Time": 1_000, "Total_Call_Time": 1_000,
                 "Avg_Ring_Time": 1_000, "Avg_Abandoned_Time": 1_000},
        "1002": {"Internal_Inbound_Total": 1, "Internal_Inbound_Missed": 1, "Inbound_Total": 1,
                 "Inbound_Missed": 1, "Total_Missed": 1, "Total_Ring_Time": 1_000,
                 "Total_Call_Time": 1_000, "Avg_Ring_Time": 1_000},
    })  # fmt: skip
    assert legs(store)[0]["cause"] == "BUSY"


def test_ring_all_group_answered_by_one_member(store):
    """Ring group 600 rings 1001, 1002, 1003; 1002 answers after 6 s. One call, three legs:
    each member is credited with the leg that rang it, nothing goes to the group, and the two
    that were cut off when 1002 answered are missed, not abandoned."""
    ingest(store, "ring_all.csv")
    missed = {"External_Inbound_Total": 1, "External_Inbound_Missed": 1, "Inbound_Total": 1,
              "Inbound_Missed": 1, "Total_Missed": 1, "Total_Ring_Time": 6_000,
              "Total_Call_Time": 6_000, "Avg_Ring_Time": 6_000}  # fmt: skip
    assert_summary(day(store), {
        "1001": missed,
        "1002": {"External_Inbound_Total": 1, "External_Inbound_Answered": 1,
                 "Percent_External_Inbound_Answered": 100, "Inbound_Total": 1,
                 "Inbound_Answered": 1, "Total_Answered": 1, "Total_Ring_Time": 6_000,
                 "Total_Talk_Time": 120_000, "Total_Call_Time": 126_000, "Avg_Ring_Time": 6_000,
                 "Avg_Talk_Time": 120_000, "Inbound_Talk_Time": 120_000},
        "1003": missed,
    })  # fmt: skip
    rows = legs(store)
    assert {r["call_id"] for r in rows} == {"1772478000.11"}
    assert [r["leg_id"] for r in rows] == [13, 14, 15]
    assert {r["dnis"] for r in rows} == {"600"}


def test_queue_then_transfer(store):
    """The queue rings 1001 and 1002; 1001 answers, then blind-transfers to 1003.

    Asterisk's answer time is the caller's channel's: the queue answered the caller at once
    (so 1001's leg shows 1 s of ring) and a transferred caller is already up (so 1003's leg
    shows none). Nothing is credited to the queue (700)."""
    ingest(store, "queue_transfer.csv")
    assert_summary(day(store), {
        "1001": {"External_Inbound_Total": 1, "External_Inbound_Answered": 1,
                 "Percent_External_Inbound_Answered": 100, "Inbound_Total": 1,
                 "Inbound_Answered": 1, "Total_Answered": 1, "Total_Ring_Time": 1_000,
                 "Total_Talk_Time": 74_000, "Total_Call_Time": 75_000, "Avg_Ring_Time": 1_000,
                 "Avg_Talk_Time": 74_000, "Inbound_Talk_Time": 74_000},
        "1002": {"External_Inbound_Total": 1, "External_Inbound_Missed": 1, "Inbound_Total": 1,
                 "Inbound_Missed": 1, "Total_Missed": 1, "Total_Ring_Time": 10_000,
                 "Total_Call_Time": 10_000, "Avg_Ring_Time": 10_000},
        "1003": {"External_Inbound_Total": 1, "External_Inbound_Answered": 1,
                 "Percent_External_Inbound_Answered": 100, "Inbound_Total": 1,
                 "Inbound_Answered": 1, "Total_Answered": 1, "Total_Talk_Time": 94_000,
                 "Total_Call_Time": 94_000, "Avg_Talk_Time": 94_000, "Inbound_Talk_Time": 94_000},
    })  # fmt: skip


def test_outbound_to_pstn_unanswered(store):
    """1004 dials out through the trunk; nobody answers in 30 s."""
    ingest(store, "outbound_unanswered.csv")
    assert_summary(day(store), {
        "1004": {"External_Outbound_Total": 1, "External_Outbound_Abandoned": 1,
                 "Outbound_Total": 1, "Outbound_Abandoned": 1, "Total_Abandoned": 1,
                 "Total_Ring_Time": 30_000, "Total_Abandoned_Time": 30_000,
                 "Total_Call_Time": 30_000, "Avg_Ring_Time": 30_000, "Avg_Abandoned_Time": 30_000},
    })  # fmt: skip
    (leg,) = legs(store)
    assert (leg["callee"], leg["callee_ext"]) == ("918005550199", None)


#: dst_fall_back.csv: New York's fall-back night (2026-11-01, 02:00 EDT -> 01:00 EST).
#: 1: Oct 31 23:30 EDT 1001 -> 1002 (= 03:30Z Nov 1); 2: 01:30 (twice that night; read as the
#: first, EDT = 05:30Z) +1555... -> 1001 answered; 3: 01:59:50 EDT +1555... -> 1002, caller hangs
#: up after 20 s (end written as 01:00:10, EST); 4: 09:00 EST 1002 -> outside, answered.
FALL_1001 = {"External_Inbound_Total": 1, "External_Inbound_Answered": 1,
             "Percent_External_Inbound_Answered": 100, "Inbound_Total": 1, "Inbound_Answered": 1,
             "Total_Answered": 1, "Total_Ring_Time": 10_000, "Total_Talk_Time": 120_000,
             "Total_Call_Time": 130_000, "Avg_Ring_Time": 10_000, "Avg_Talk_Time": 120_000,
             "Inbound_Talk_Time": 120_000}  # fmt: skip


def test_a_file_across_a_change_of_offset(store):
    ingest(store, "dst_fall_back.csv")
    # The New York day of 1 November holds calls 2, 3 and 4 (call 1 is on 31 October there).
    assert_summary(summary(store, "2026-11-01 00:00:00", "2026-11-01 23:59:59"), {
        "1001": FALL_1001,
        "1002": {"External_Inbound_Total": 1, "External_Inbound_Abandoned": 1,
                 "External_Inbound_Missed": 1, "External_Outbound_Total": 1,
                 "External_Outbound_Answered": 1, "Percent_External_Outbound_Answered": 100,
                 "Inbound_Total": 1, "Inbound_Abandoned": 1, "Inbound_Missed": 1,
                 "Outbound_Total": 1, "Outbound_Answered": 1, "Total_Answered": 1,
                 "Total_Abandoned": 1, "Total_Missed": 1, "Total_Ring_Time": 32_000,
                 "Total_Talk_Time": 300_000, "Total_Abandoned_Time": 20_000,
                 "Total_Call_Time": 332_000, "Avg_Ring_Time": 16_000, "Avg_Talk_Time": 300_000,
                 "Outbound_Talk_Time": 300_000, "Avg_Abandoned_Time": 20_000},
    })  # fmt: skip
    # 05:00-05:59 UTC holds calls 2 (05:30Z) and 3 (05:59:50Z), and call 3 lasts 20 s, not an
    # hour and 20 s: its end comes from its duration, not from the repeated local time.
    assert_summary(summary(store, "2026-11-01 05:00:00", "2026-11-01 05:59:59", "UTC"), {
        "1001": FALL_1001,
        "1002": {"External_Inbound_Total": 1, "External_Inbound_Abandoned": 1,
                 "External_Inbound_Missed": 1, "Inbound_Total": 1, "Inbound_Abandoned": 1,
                 "Inbound_Missed": 1, "Total_Abandoned": 1, "Total_Missed": 1,
                 "Total_Ring_Time": 20_000, "Total_Abandoned_Time": 20_000,
                 "Total_Call_Time": 20_000, "Avg_Ring_Time": 20_000, "Avg_Abandoned_Time": 20_000},
    })  # fmt: skip
    assert summary(store, "2026-10-31 00:00:00", "2026-10-31 23:59:59", "UTC") == []


def test_source_tz_places_the_same_file_elsewhere(store):
    """Read as London time (GMT again since 25 October), call 1 is 23:30Z on 31 October."""
    ingest(store, "dst_fall_back.csv", tz="Europe/London")
    assert_summary(summary(store, "2026-10-31 00:00:00", "2026-10-31 23:59:59", "UTC"), {
        "1001": {"Internal_Outbound_Total": 1, "Internal_Outbound_Answered": 1,
                 "Outbound_Total": 1, "Outbound_Answered": 1, "Total_Answered": 1,
                 "Total_Ring_Time": 5_000, "Total_Talk_Time": 55_000, "Total_Call_Time": 60_000,
                 "Avg_Ring_Time": 5_000, "Avg_Talk_Time": 55_000, "Outbound_Talk_Time": 55_000},
        "1002": {"Internal_Inbound_Total": 1, "Internal_Inbound_Answered": 1,
                 "Inbound_Total": 1, "Inbound_Answered": 1, "Total_Answered": 1,
                 "Total_Ring_Time": 5_000, "Total_Talk_Time": 55_000, "Total_Call_Time": 60_000,
                 "Avg_Ring_Time": 5_000, "Avg_Talk_Time": 55_000, "Inbound_Talk_Time": 55_000},
    })  # fmt: skip


def test_local_times_are_read_like_the_report_window():
    """A time in the spring-forward gap takes the offset before it; a repeated time is its
    earlier reading (timewindow.wall_clock_start)."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(NY)
    hour = lambda text: int(  # noqa: E731
        (__import__("datetime").datetime.fromisoformat(text + "+00:00").timestamp()) // 3600
    )
    table = zone_hours(zone, [hour("2026-03-08T02:00:00"), hour("2026-11-01T01:00:00")])
    rows = table.to_pylist()
    # 02:xx on 8 March does not exist: read with EST (-5 h), so 02:30 is 07:30Z (03:30 EDT).
    assert rows[0] == {"hour": rows[0]["hour"], "off_before": -18_000_000,
                       "switch_ms": 3_600_000, "off_after": -18_000_000}  # fmt: skip
    # 01:xx on 1 November happens twice: read as the first (EDT, -4 h).
    assert rows[1]["off_before"] == rows[1]["off_after"] == -14_400_000


# --- Local channels: groups never credited, callers resolved -----------------------------------

LOCAL_EXPECTED = {
    "1001": {"Internal_Inbound_Total": 1, "Internal_Inbound_Missed": 1, "Inbound_Total": 1,
             "Inbound_Missed": 1, "Total_Missed": 1, "Total_Ring_Time": 8_000,
             "Total_Call_Time": 8_000, "Avg_Ring_Time": 8_000},
    "1002": {"Internal_Inbound_Total": 1, "Internal_Inbound_Answered": 1, "Inbound_Total": 1,
             "Inbound_Answered": 1, "Total_Answered": 1, "Total_Ring_Time": 8_000,
             "Total_Talk_Time": 120_000, "Total_Call_Time": 128_000, "Avg_Ring_Time": 8_000,
             "Avg_Talk_Time": 120_000, "Inbound_Talk_Time": 120_000},
    # Every leg is credited to its caller too: one answered, one not.
    "1004": {"Internal_Outbound_Total": 2, "Internal_Outbound_Answered": 1,
             "Internal_Outbound_Abandoned": 1, "Outbound_Total": 2, "Outbound_Answered": 1,
             "Outbound_Abandoned": 1, "Total_Answered": 1, "Total_Abandoned": 1,
             "Total_Ring_Time": 16_000, "Total_Talk_Time": 120_000,
             "Total_Abandoned_Time": 8_000, "Total_Call_Time": 136_000, "Avg_Ring_Time": 8_000,
             "Avg_Talk_Time": 120_000, "Outbound_Talk_Time": 120_000,
             "Avg_Abandoned_Time": 8_000},
}  # fmt: skip


def test_ring_group_through_local_channels_credits_the_phones(store):
    """FreePBX-style: 1004 calls group 600, which dials Local/1001@... and Local/1002@...; the
    rows of the Local ';2' halves are the phones' legs, their caller resolved to 1004 through
    the hop rows, which are kept but credited to no one."""
    ingest(store, "ring_group_local.csv")
    assert_summary(day(store), LOCAL_EXPECTED)
    rows = legs(store)
    assert len(rows) == 4
    hops = [r for r in rows if r["callee"] == "600"]
    assert [(r["caller_ext"], r["callee_ext"], r["connect_time"]) for r in hops] == [
        (None, None, None),
        (None, None, None),
    ]


def test_a_phone_seen_twice_after_local_optimisation_is_one_leg(store):
    """When Asterisk optimises the Local channel away it writes the caller-to-phone row again."""
    ingest(store, "ring_group_local_optimised.csv")
    assert_summary(day(store), LOCAL_EXPECTED)
    assert len(legs(store)) == 4


# --- outcomes, rule by rule --------------------------------------------------------------------


def cdr(
    *,
    src: str = "+15551239999",
    dst: str = "1001",
    channel: str = "PJSIP/voipms-00000100",
    dstchannel: str = "PJSIP/1001-00000101",
    lastapp: str = "Dial",
    lastdata: str = "PJSIP/1001,20,tr",
    start: str = "2026-03-02 09:00:00",
    answer: str = "",
    end: str = "2026-03-02 09:00:10",
    duration: int = 10,
    billsec: int = 0,
    disposition: str = "NO ANSWER",
    uniqueid: str = "1772460000.100",
    sequence: int = 100,
) -> str:
    """One 21-field Master.csv line."""
    quoted = lambda v: '"' + v.replace('"', '""') + '"'  # noqa: E731
    fields = [quoted(""), quoted(src), quoted(dst), quoted("from-internal"),
              quoted(f'"{src}" <{src}>'), quoted(channel), quoted(dstchannel), quoted(lastapp),
              quoted(lastdata), quoted(start), quoted(answer) if answer else "", quoted(end),
              str(duration), str(billsec), quoted(disposition), quoted("DOCUMENTATION"),
              quoted(uniqueid), quoted(""), quoted(""), quoted(uniqueid), str(sequence)]  # fmt: skip
    return ",".join(fields)


def write(tmp_path: Path, *lines: str, name: str = "Master.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def only_leg(store: DuckDBStore, tmp_path: Path, **fields: object) -> dict[str, object]:
    ingest(store, write(tmp_path, cdr(**fields)))
    (row,) = legs(store)
    return row


def test_ring_timeout_then_hangup_is_missed_not_abandoned(store, tmp_path):
    row = only_leg(store, tmp_path, duration=20, end="2026-03-02 09:00:20")
    assert (row["abandoned"], row["voicemail"], row["connect_time"]) == (False, False, None)


def test_a_member_cut_off_by_an_answer_is_not_abandoned_even_if_the_call_ends_then(store, tmp_path):
    """Ring-all where 1002 answers and hangs up within the second: every leg ends together,
    but 1001 stopped ringing because 1002 answered, not because the caller gave up."""
    ingest(store, write(tmp_path,
        cdr(dstchannel="PJSIP/1001-00000101", lastdata="PJSIP/1001&PJSIP/1002,20", sequence=1),
        cdr(dst="1002", dstchannel="PJSIP/1002-00000102", lastdata="PJSIP/1001&PJSIP/1002,20",
            answer="2026-03-02 09:00:10", disposition="ANSWERED", sequence=2),
    ))  # fmt: skip
    rows = legs(store)
    assert [(r["callee"], r["abandoned"], r["connect_time"] is not None) for r in rows] == [
        ("1001", False, False),
        ("1002", False, True),
    ]


def test_dial_without_a_timeout_that_ends_the_call_is_abandoned(store, tmp_path):
    row = only_leg(store, tmp_path, lastdata="PJSIP/1001", duration=40, end="2026-03-02 09:00:40")
    assert row["abandoned"] is True


@pytest.mark.parametrize("lastapp", ["VoiceMail", "Playback", "BackGround", "MusicOnHold"])
def test_answered_by_a_service_is_not_an_answer(store, tmp_path, lastapp):
    row = only_leg(store, tmp_path, lastapp=lastapp, lastdata="1001@default,u",
                   answer="2026-03-02 09:00:01", billsec=9, disposition="ANSWERED")  # fmt: skip
    assert row["connect_time"] is None
    assert row["voicemail"] is (lastapp == "VoiceMail")


def test_queue_music_without_an_agent_is_a_system_row(store, tmp_path):
    """A caller waits in the queue and hangs up: ANSWERED by the queue, no agent rang. Kept,
    credited to no one (the caller is outside and nothing rang a phone)."""
    ingest(store, write(tmp_path, cdr(dstchannel="", lastapp="Queue", lastdata="support,t",
                                      dst="700", answer="2026-03-02 09:00:01", billsec=9,
                                      disposition="ANSWERED")))  # fmt: skip
    (row,) = legs(store)
    assert (row["connect_time"], row["caller_ext"], row["callee_ext"]) == (None, None, None)
    assert day(store) == []


def test_ivr_nobody_answered_is_kept_and_credited_to_no_one(store, tmp_path):
    ingest(store, write(tmp_path, cdr(dstchannel="", lastapp="BackGround", dst="s",
                                      lastdata="custom/welcome", answer="2026-03-02 09:00:00",
                                      billsec=10, disposition="ANSWERED")))  # fmt: skip
    assert len(legs(store)) == 1
    assert day(store) == []


def test_checking_ones_own_voicemail_is_system_activity(store, tmp_path):
    ingest(store, write(tmp_path, cdr(src="1001", channel="PJSIP/1001-00000100", dstchannel="",
                                      dst="*97", lastapp="VoiceMailMain", lastdata="",
                                      answer="2026-03-02 09:00:00", billsec=10,
                                      disposition="ANSWERED")))  # fmt: skip
    (row,) = legs(store)
    assert row["caller_ext"] == row["callee_ext"] == "1001"
    assert day(store) == []


@pytest.mark.parametrize(
    ("disposition", "cause"),
    [("0", "NO ANSWER"), ("1", "NO ANSWER"), ("2", "FAILED"), ("4", "BUSY"), ("8", "ANSWERED"),
     ("16", "CONGESTION"), ("FAILED", "FAILED"), ("CONGESTION", "CONGESTION")],
)  # fmt: skip
def test_dispositions_words_and_odbc_numbers(store, tmp_path, disposition, cause):
    answered = cause == "ANSWERED"
    row = only_leg(store, tmp_path, disposition=disposition, billsec=4 if answered else 0,
                   answer="2026-03-02 09:00:06" if answered else "")  # fmt: skip
    assert row["cause"] == cause
    assert (row["connect_time"] is not None) is answered
    assert row["abandoned"] is (cause == "NO ANSWER")


def test_extensions_come_from_the_directory_when_the_pbx_has_one(store, tmp_path):
    """With a directory, '2001' (a trunk named by digits) is not an extension and 'alice' is."""
    rows = [{"pbx_id": "asterisk", "extension": e} for e in ("alice", "1001")]
    store.upsert_directory(
        pa.table({c: pa.array([r.get(c, "") for r in rows]) for c in directory.COLUMNS})
    )
    ingest(store, write(tmp_path,
        cdr(src="alice", channel="PJSIP/alice-00000001", dstchannel="PJSIP/2001-00000002",
            dst="5550100", uniqueid="1772460000.1"),
        cdr(channel="PJSIP/2001-00000003", dstchannel="PJSIP/1001-00000004",
            uniqueid="1772460100.3", start="2026-03-02 09:01:40", end="2026-03-02 09:01:50"),
    ))  # fmt: skip
    first, second = legs(store)
    assert (first["caller_ext"], first["callee_ext"]) == ("alice", None)
    assert (second["caller_ext"], second["callee_ext"]) == (None, "1001")


def test_dahdi_parties_are_extensions_only_by_the_directory(store, tmp_path):
    rows = [{"pbx_id": "asterisk", "extension": "1005"}]
    store.upsert_directory(
        pa.table({c: pa.array([r.get(c, "") for r in rows]) for c in directory.COLUMNS})
    )
    ingest(store, write(tmp_path,
        cdr(src="1005", channel="DAHDI/3-1", dstchannel="DAHDI/i1/5551234-2", dst="95551234",
            uniqueid="1772460000.1"),
    ))  # fmt: skip
    (row,) = legs(store)
    assert (row["caller_ext"], row["callee_ext"], row["callee"]) == ("1005", None, "95551234")


def test_pbx_id_can_be_chosen(store, tmp_path):
    ingest(store, DATA / "internal_answered.csv", pbx_id="hq-pbx")
    assert {r["pbx_id"] for r in legs(store)} == {"hq-pbx"}
    with pytest.raises(SourceError, match="pbx_id"):
        open_source(DATA / "internal_answered.csv", "asterisk-csv", source_tz=NY, pbx_id="a b")


def test_replaying_a_file_replaces_its_legs(store):
    first = ingest(store, "ring_all.csv")
    again = ingest(store, "ring_all.csv")
    assert (first.legs_stored, again.legs_stored, again.legs_replaced) == (3, 3, 3)
    assert len(legs(store)) == 3


# --- layouts -----------------------------------------------------------------------------------

#: internal_answered + no_answer_voicemail, as in base16.csv's first three lines.
THREE_LEGS_DAY = {
    "1001": {"Internal_Outbound_Total": 1, "Internal_Outbound_Answered": 1, "Outbound_Total": 1,
             "Outbound_Answered": 1, "Total_Answered": 1, "Total_Ring_Time": 5_000,
             "Total_Talk_Time": 60_000, "Total_Call_Time": 65_000, "Avg_Ring_Time": 5_000,
             "Avg_Talk_Time": 60_000, "Outbound_Talk_Time": 60_000},
    "1002": {"Internal_Inbound_Total": 1, "Internal_Inbound_Answered": 1, "Inbound_Total": 1,
             "Inbound_Answered": 1, "Total_Answered": 1, "Total_Ring_Time": 5_000,
             "Total_Talk_Time": 60_000, "Total_Call_Time": 65_000, "Avg_Ring_Time": 5_000,
             "Avg_Talk_Time": 60_000, "Inbound_Talk_Time": 60_000},
    "1003": {"External_Inbound_Total": 2, "External_Inbound_Missed": 2, "Inbound_Total": 2,
             "Inbound_Missed": 2, "Total_Calls_To_VM": 1, "Total_Missed": 2,
             "Total_Ring_Time": 50_000, "Total_Call_Time": 50_000, "Avg_Ring_Time": 25_000},
}  # fmt: skip


def test_base_layout_groups_calls_by_channel_and_time(store):
    """16 fields, no uniqueid: the rows of one caller channel that follow each other are one
    call; the same channel name a day later (after a restart) is another call."""
    ingest(store, "base16.csv")
    assert_summary(day(store), THREE_LEGS_DAY)
    rows = legs(store)
    assert [(r["call_id"], r["leg_id"]) for r in rows] == [
        ("PJSIP/1001-00000001@1772460000", 1),
        ("PJSIP/voipms-00000007@1772470800", 1),
        ("PJSIP/voipms-00000007@1772470800", 2),
        ("PJSIP/voipms-00000007@1772557200", 1),
    ]


def test_uniqueid_and_userfield_layout(store):
    ingest(store, "uniqueid_userfield18.csv")
    assert_summary(day(store), THREE_LEGS_DAY)
    assert [(r["call_id"], r["leg_id"]) for r in legs(store)] == [
        ("1772460000.1", 1), ("1772470800.7", 1), ("1772470800.7", 2)]  # fmt: skip


def test_uniqueid_or_userfield_alone_are_told_apart(store, tmp_path):
    line = cdr().rsplit(",", 4)[0]  # the base 16 fields and the uniqueid
    user = cdr().rsplit(",", 5)[0] + ',"sales"'
    ingest(store, write(tmp_path, line, name="uid.csv"))
    ingest(store, write(tmp_path, user, name="user.csv"))
    call_ids = sorted(r["call_id"] for r in legs(store))
    assert call_ids == ["1772460000.100", "PJSIP/voipms-00000100@1772460000"]


def test_odbc_export_with_a_header_and_numeric_dispositions(store):
    """A FreePBX ``asteriskcdrdb.cdr`` export: header row, calldate, numeric dispositions, and
    columns this adapter does not know (did, recordingfile, cnum, ...)."""
    ingest(store, "odbc_export.csv")
    assert [(r["call_id"], r["leg_id"], r["cause"], r["abandoned"]) for r in legs(store)] == [
        ("1772460000.1", 2, "ANSWERED", False),
        ("1772467200.5", 6, "NO ANSWER", True),
        ("1772474400.9", 10, "BUSY", False),
    ]


def test_cdr_custom_with_columns(store):
    names = ("clid,src,dst,dcontext,channel,dstchannel,lastapp,lastdata,start,answer,end,"
             "duration,billsec,disposition,amaflags,accountcode,uniqueid,userfield,sequence")  # fmt: skip
    ingest(store, "cdr_custom.csv", columns=names.split(","))
    assert [(r["call_id"], r["leg_id"], r["cause"]) for r in legs(store)] == [
        ("1772460000.1", 2, "ANSWERED"), ("1772467200.5", 6, "NO ANSWER")]  # fmt: skip


def test_columns_accept_the_cdr_custom_template(store):
    template = ",".join(f"${{CSV_QUOTE(${{CDR({n})}})}}" for n in (
        "clid", "src", "dst", "dcontext", "channel", "dstchannel", "lastapp", "lastdata", "start",
        "answer", "end", "duration", "billsec", "disposition", "amaflags", "accountcode",
        "uniqueid", "userfield")) + ",${CDR(sequence)}"  # fmt: skip
    ingest(store, "cdr_custom.csv", columns=template.split(","))
    assert len(legs(store)) == 2


def test_columns_must_name_what_a_leg_needs(tmp_path):
    src = open_source(DATA / "cdr_custom.csv", "asterisk-csv", source_tz=NY, columns=["src", "dst"])
    with pytest.raises(SourceError, match=r"lacks column\(s\) channel, start, disposition"):
        src.reader().read_all()


def test_a_file_that_is_no_cdr_csv_layout_is_refused_with_advice(tmp_path):
    path = write(tmp_path, '"a","b","c"', '"d","e","f"')
    src = open_source(path, "asterisk-csv", source_tz=NY)
    with pytest.raises(SourceError, match=r"line 1 has 3 fields.*--columns"):
        src.reader().read_all()


def test_cdr_custom_without_columns_is_refused(tmp_path):
    src = open_source(DATA / "cdr_custom.csv", "asterisk-csv", source_tz=NY)
    with pytest.raises(SourceError, match=r"does not look like cdr_csv.*--columns"):
        src.reader().read_all()


# --- options and messages ----------------------------------------------------------------------


def test_registered_and_needs_source_tz():
    assert SOURCE_FORMATS["asterisk-csv"] is AsteriskCsvSource
    with pytest.raises(SourceError, match="needs --source-tz"):
        open_source(DATA / "busy.csv", "asterisk-csv")
    with pytest.raises(SourceError, match="not a known time zone"):
        open_source(DATA / "busy.csv", "asterisk-csv", source_tz="Mars/Olympus")


def test_malformed_rows_are_reported_with_line_numbers(store):
    path = DATA / "malformed.csv"
    with pytest.raises(IngestRejected) as info:
        ingest(store, path)
    assert store.leg_count() == 0
    assert [(e.where, e.reason) for e in info.value.errors] == [
        (f"{path}:2", "start must be YYYY-MM-DD HH:MM:SS (local time) or epoch seconds, not "
                      "'02/03/2026 09:10'"),
        (f"{path}:4", "the line has 7 fields; expected 16 to 21 (a cdr_csv layout)"),
        (f"{path}:5", "disposition must be ANSWERED, NO ANSWER, BUSY, FAILED, CONGESTION or a "
                      "numeric code 0, 1, 2, 4, 8, 16, not 'HUNG UP'"),
        (f"{path}:6", "connect_time is before start_time"),
        (f"{path}:7", "duration must be a number of seconds, not 'sixty'"),
    ]  # fmt: skip


def test_skip_invalid_keeps_the_good_rows(store, tmp_path):
    source = open_source(DATA / "malformed.csv", "asterisk-csv", source_tz=NY)
    report = store.ingest(source, skip_invalid=True, reject_path=tmp_path / "rejects.csv")
    assert (report.rows_read, report.legs_stored, report.rejected) == (6, 1, 5)
    lines = (tmp_path / "rejects.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == ["2", "4", "5", "6", "7"]


def test_latin1_caller_names_and_a_byte_order_mark(store, tmp_path):
    line = cdr().replace('""+15551239999"" <', '""Jos\xe9"" <', 1)
    path = tmp_path / "Master.csv"
    path.write_bytes(b"\xef\xbb\xbf" + line.encode("latin-1") + b"\r\n")
    ingest(store, path)
    (row,) = legs(store)
    assert row["caller_name"] == "Jos\ufffd"


def test_cli_ingest_and_summary(tmp_path: Path):
    runner = CliRunner(env={"COLUMNS": "400"})
    data = str(tmp_path / "data")
    missing = runner.invoke(main, ["--data-dir", data, "ingest", "--format", "asterisk-csv",
                                   str(DATA / "ring_all.csv")])  # fmt: skip
    assert missing.exit_code == 1
    assert "needs --source-tz" in missing.output
    done = runner.invoke(main, ["--data-dir", data, "ingest", "--format", "asterisk-csv",
                                "--source-tz", NY, str(DATA / "ring_all.csv")])  # fmt: skip
    assert done.exit_code == 0, done.output
    report = runner.invoke(main, ["--data-dir", data, "extsum", "--pbx", "asterisk",
                                  "--start", "2026-03-02 00:00:00", "--end", "2026-03-02 23:59:59",
                                  "--tz", NY, "--format", "csv", "--now", "2026-06-01T00:00:00Z"])  # fmt: skip
    assert report.exit_code == 0, report.output
    lines = report.output.strip().splitlines()
    assert [line.split(",")[1] for line in lines[1:]] == ["1001", "1002", "1003"]


def test_cli_pbx_option_names_the_pbx(tmp_path: Path):
    runner = CliRunner(env={"COLUMNS": "400"})
    data = str(tmp_path / "data")
    done = runner.invoke(main, ["--data-dir", data, "ingest", "--format", "asterisk-csv",
                                "--source-tz", NY, "--pbx", "branch-2",
                                str(DATA / "ring_all.csv")])  # fmt: skip
    assert done.exit_code == 0, done.output
    listed = runner.invoke(main, ["--data-dir", data, "pbx", "list", "--format", "csv"])
    assert listed.output.splitlines() == ["pbx_id", "branch-2"]


def test_unquoted_words_a_reader_might_take_for_null_stay_text():
    """cdr_custom and ODBC exports leave fields unquoted: NULL or NA there is text, and only
    an empty field is absent, as the line-by-line reader has it."""
    table = arrow_csv_block(b"NULL,NA,,nan\n", ["src", "clid", "dst", "lastdata"])
    assert table.to_pylist() == [{"src": "NULL", "clid": "NA", "dst": None, "lastdata": "nan"}]
