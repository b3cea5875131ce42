"""The 8x8 ``/v2/call-legs`` adapter: layouts, the mapping rules, messages, and a summary."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pyarrow as pa
import pytest

from workanalytics import directory
from workanalytics.ingest.eightbyeight import EightByEightSource
from workanalytics.ingest.sources import SOURCE_FORMATS, SourceError, detect_format, open_source
from workanalytics.legs import COLUMN_NAMES
from workanalytics.store.base import IngestRejected
from workanalytics.store.duckdb_store import DuckDBStore
from workanalytics.timewindow import resolve_window

DATA = Path(__file__).parent / "data"
#: 8x8's OpenAPI document, beside the project (``../shared``); it is theirs, so its example is
#: read from there, never copied into the project.
OAS_DOCUMENT = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "reference"
    / ("8x8-work-analytics-historical.oas.json")
)
#: A hand-written day on PBX ``acme`` (docs/adapters/8x8-call-legs.md walks through it).
SMALL_DAY = DATA / "8x8-small-day.json"

T = 1_772_355_600_000  # 2026-03-01T09:00:00Z
NO_DATA_PAGE = {"meta": {"totalRecordCount": 0, "scrollId": "No Data"}, "data": []}


@pytest.fixture(scope="module")
def oas_page(tmp_path_factory) -> Path:
    """The two legs of the 200 example of ``/v2/call-legs`` in 8x8's OpenAPI document."""
    assert OAS_DOCUMENT.is_file(), f"8x8's OpenAPI document is expected at {OAS_DOCUMENT}"
    document = json.loads(OAS_DOCUMENT.read_text())
    examples = document["paths"]["/v2/call-legs"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["examples"]
    value = examples["Result"]["value"]
    path = tmp_path_factory.mktemp("oas") / "call-legs-page.json"
    path.write_text(value if isinstance(value, str) else json.dumps(value))
    return path


@pytest.fixture
def store(tmp_path: Path):
    s = DuckDBStore(tmp_path / "legs.duckdb")
    yield s
    s.close()


def leg(**overrides: object) -> dict[str, object]:
    """An 8x8 leg in the API's shape: an unanswered external call ringing 1001 for 10 s."""
    base: dict[str, object] = {
        "callId": "5001",
        "legId": "1",
        "startTimeUTC": T,
        "startTime": "2026-03-01T04:00:00.000-0500",
        "connectTimeUTC": 0,
        "connectTime": "0",
        "disconnectedTimeUTC": T + 10_000,
        "talkTimeMS": 0,
        "talkTime": "00:00:00",
        "caller": "+15555551211",
        "callerName": "John Smith",
        "callee": "1001",
        "calleeName": "Jane Li",
        "lra": "1001",
        "direction": "Incoming",
        "parentCallId": None,
        "transferToCallId": None,
        "dnis": "12029325720",
        "status": "Completed",
        "callerDeviceId": None,
        "calleeDeviceId": None,
        "missed": "Missed",
        "abandoned": "-",
        "answered": "-",
        "cause": "Ring No Answer",
        "callerSvcName": None,
        "callerSvcType": None,
        "calleeSvcName": None,
        "calleeSvcType": None,
        "lraType": 1,
        "calleeHoldDurationMS": 0,
        "pbxId": "acme",
        "sipCallId": "170437510_134011744@206.147.76.5",
        "departments": ["Sales"],
        "branches": ["Central"],
        "propsLastPartyDisp": "Missed",
        "callTime": 10_000,
    }
    base.update(overrides)
    return base


def page(legs: list[dict[str, object]], scroll_id: str = "c2Nyb2xs") -> dict[str, object]:
    return {"meta": {"totalRecordCount": len(legs), "scrollId": scroll_id}, "data": legs}


def write(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document, indent=4))
    return path


def directory_table(rows: list[dict[str, str]]) -> pa.Table:
    return pa.table(
        {c: pa.array([r.get(c, "") for r in rows], pa.string()) for c in directory.COLUMNS}
    )


def source(store: DuckDBStore, path: Path) -> EightByEightSource:
    return EightByEightSource(path, known_extensions=store.directory_extensions())


def ingest(store: DuckDBStore, path: Path):
    return store.ingest(source(store, path))


def stored(store: DuckDBStore) -> list[dict[str, object]]:
    cols = ", ".join(COLUMN_NAMES)
    cur = store.con.execute(f"SELECT {cols} FROM legs ORDER BY pbx_id, call_id, leg_id")
    return [dict(zip(COLUMN_NAMES, row, strict=True)) for row in cur.fetchall()]


def only_leg(store: DuckDBStore, tmp_path: Path, **overrides: object) -> dict[str, object]:
    ingest(store, write(tmp_path / "one.json", page([leg(**overrides)])))
    (row,) = stored(store)
    return row


def rejected(store: DuckDBStore, path: Path) -> str:
    with pytest.raises(IngestRejected) as info:
        ingest(store, path)
    assert store.leg_count() == 0
    return str(info.value)


# --- registration -----------------------------------------------------------------------------


def test_registered_as_8x8_json_for_json_files(tmp_path: Path, oas_page: Path):
    assert SOURCE_FORMATS["8x8-json"] is EightByEightSource
    assert detect_format(tmp_path / "legs.json") == "8x8-json"
    src = open_source(oas_page)
    assert isinstance(src, EightByEightSource)
    assert src.format_name == "8x8-json"


# --- 8x8's own example --------------------------------------------------------------------------


def test_oas_example_page_ingests(store: DuckDBStore, oas_page: Path):
    report = ingest(store, oas_page)
    assert (report.rows_read, report.legs_stored, report.rejected) == (2, 2, 0)
    assert report.pbx_ids == ["demonstrationname"]
    queue, voicemail = stored(store)  # ordered by call_id
    assert voicemail == {
        "pbx_id": "demonstrationname",
        "call_id": "1635571048351",
        "leg_id": 1,
        "start_time": 1643898447499,
        "connect_time": None,  # voicemail picked up (connectTimeUTC set) but talkTimeMS is 0
        "end_time": 1643898472253,
        "caller": "+15555551211",
        "callee": "Voicemail (120088)",
        "caller_ext": None,
        "callee_ext": "120088",  # from lra: the callee is the voicemail service of 120088
        "abandoned": False,
        "voicemail": True,
        "status": "Completed",
        "caller_name": "John Smith",
        "callee_name": "Jane Li",
        "hold_ms": 0,
        "cause": "Ring No Answer",
        "parent_call_id": None,
        "transfer_to_call_id": None,
        "dnis": "12029325720",
        "sip_call_id": "170437510_134011744@206.147.76.5",
    }
    assert queue["call_id"] == "1635571048345"
    assert (queue["callee"], queue["callee_ext"], queue["caller_ext"]) == ("110081", "110081", None)
    assert (queue["connect_time"], queue["abandoned"], queue["voicemail"]) == (None, True, False)
    assert (queue["start_time"], queue["end_time"]) == (1643897492903, 1643899189420)


def test_oas_example_summary(store: DuckDBStore, oas_page: Path):
    ingest(store, oas_page)
    window = resolve_window(
        "2022-02-03 00:00:00", "2022-02-03 10:00:00", "America/New_York", retention_years=0
    )
    rows = {
        r["Extension"]: r for r in store.extension_summary(["demonstrationname"], window).as_dicts()
    }
    assert list(rows) == ["110081", "120088"]
    vm, queue = rows["120088"], rows["110081"]
    assert (vm["External_Inbound_Total"], vm["External_Inbound_Missed"]) == (1, 1)
    assert (vm["Total_Calls_To_VM"], vm["Inbound_Abandoned"], vm["Total_Answered"]) == (1, 0, 0)
    assert (vm["Total_Ring_Time"], vm["Total_Talk_Time"]) == (24754, 0)
    assert (queue["External_Inbound_Abandoned"], queue["Total_Calls_To_VM"]) == (1, 0)
    assert (queue["Total_Abandoned_Time"], queue["Total_Talk_Time"]) == (1696517, 0)


# --- the mapping rules ---------------------------------------------------------------------------


def test_service_connect_without_talk_is_not_an_answer(store, tmp_path):
    row = only_leg(store, tmp_path, connectTimeUTC=T + 2_000, talkTimeMS=0)
    assert row["connect_time"] is None


def test_talk_time_makes_the_leg_answered_at_connect_time(store, tmp_path):
    row = only_leg(
        store, tmp_path, connectTimeUTC=T + 2_000, talkTimeMS=8_000, answered="Answered",
        missed="-", calleeHoldDurationMS=1_500,
    )  # fmt: skip
    assert (row["connect_time"], row["end_time"], row["hold_ms"]) == (T + 2_000, T + 10_000, 1_500)
    assert (row["abandoned"], row["voicemail"]) == (False, False)


def test_talk_without_a_connect_time_is_not_an_answer(store, tmp_path):
    row = only_leg(store, tmp_path, connectTimeUTC=0, talkTimeMS=8_000)
    assert row["connect_time"] is None


def test_abandoned_marker(store, tmp_path):
    assert only_leg(store, tmp_path, abandoned="Abandoned")["abandoned"] is True


def test_dash_is_not_abandoned(store, tmp_path):
    assert only_leg(store, tmp_path, abandoned="-")["abandoned"] is False


def test_voicemail_callee_service_is_voicemail(store, tmp_path):
    row = only_leg(store, tmp_path, calleeSvcName="VMadvanced", propsLastPartyDisp="Missed")
    assert (row["voicemail"], row["abandoned"]) == (True, False)


def test_voicemail_service_wins_over_an_abandoned_marker(store, tmp_path):
    row = only_leg(store, tmp_path, calleeSvcName="VMadvanced", abandoned="Abandoned")
    assert (row["voicemail"], row["abandoned"]) == (True, False)


def test_queue_service_is_not_voicemail(store, tmp_path):
    row = only_leg(store, tmp_path, calleeSvcName="ACDOperatorService", propsLastPartyDisp="Missed")
    assert row["voicemail"] is False


def test_last_party_voicemail_marks_an_unanswered_leg(store, tmp_path):
    assert only_leg(store, tmp_path, propsLastPartyDisp="Voicemail")["voicemail"] is True


def test_last_party_voicemail_never_marks_an_answered_leg(store, tmp_path):
    # The person answered, then the call went on to voicemail: this leg is an answer.
    row = only_leg(
        store, tmp_path, connectTimeUTC=T + 2_000, talkTimeMS=8_000, propsLastPartyDisp="Voicemail"
    )
    assert (row["connect_time"], row["voicemail"]) == (T + 2_000, False)


def test_answered_leg_with_voicemail_service_is_an_answer(store, tmp_path):
    row = only_leg(
        store, tmp_path, connectTimeUTC=T + 2_000, talkTimeMS=8_000, calleeSvcName="VMadvanced",
        abandoned="Abandoned",
    )  # fmt: skip
    assert (row["connect_time"], row["voicemail"], row["abandoned"]) == (T + 2_000, False, False)


def test_abandoned_marker_wins_over_last_party_voicemail(store, tmp_path):
    row = only_leg(store, tmp_path, abandoned="Abandoned", propsLastPartyDisp="Voicemail")
    assert (row["abandoned"], row["voicemail"]) == (True, False)


def test_every_combination_of_markers_gives_a_valid_leg(store, tmp_path):
    """Whatever 8x8's markers say, a leg has at most one outcome, by the documented order."""
    combos = list(
        itertools.product(
            (0, 8_000),  # talkTimeMS
            (0, T + 2_000),  # connectTimeUTC
            ("-", "Abandoned"),  # abandoned
            (None, "VMadvanced", "ACDOperatorService"),  # calleeSvcName
            ("Missed", "Voicemail", ""),  # propsLastPartyDisp
        )
    )
    legs = [
        leg(callId=str(i), talkTimeMS=talk, connectTimeUTC=conn, abandoned=ab, calleeSvcName=svc,
            propsLastPartyDisp=disp)
        for i, (talk, conn, ab, svc, disp) in enumerate(combos)
    ]  # fmt: skip
    report = ingest(store, write(tmp_path / "combos.json", page(legs)))
    assert report.legs_stored == len(combos) == 72
    rows = {r["call_id"]: r for r in stored(store)}
    for i, (talk, conn, ab, svc, disp) in enumerate(combos):
        row = rows[str(i)]
        answered = talk > 0 and conn > 0
        vm_service = svc == "VMadvanced"
        if answered:
            outcome = "answered"
        elif vm_service:
            outcome = "voicemail"
        elif ab == "Abandoned":
            outcome = "abandoned"
        elif disp == "Voicemail":
            outcome = "voicemail"
        else:
            outcome = "missed"
        got = (
            "answered" if row["connect_time"] is not None
            else "voicemail" if row["voicemail"]
            else "abandoned" if row["abandoned"]
            else "missed"
        )  # fmt: skip
        assert got == outcome, combos[i]
        assert not (row["voicemail"] and row["abandoned"]), combos[i]


def test_values_absent_dash_and_empty(store, tmp_path):
    row = only_leg(
        store, tmp_path, legId=3, status="-", cause="-", dnis="", calleeName=None,
        calleeHoldDurationMS=None, sipCallId="  abc@host  ",
    )  # fmt: skip
    assert row["leg_id"] == 3
    assert (row["status"], row["hold_ms"]) == ("Completed", 0)
    assert (row["cause"], row["dnis"], row["callee_name"]) == (None, None, None)
    assert row["sip_call_id"] == "abc@host"


def test_links_are_kept(store, tmp_path):
    row = only_leg(store, tmp_path, parentCallId="4000", transferToCallId="6000", callId=5001)
    assert (row["call_id"], row["parent_call_id"], row["transfer_to_call_id"]) == (
        "5001",
        "4000",
        "6000",
    )


def test_in_progress_leg_without_an_end_is_stored_but_not_counted(store, tmp_path):
    row = only_leg(store, tmp_path, status="In Progress", disconnectedTimeUTC=0)
    assert (row["status"], row["start_time"], row["end_time"]) == ("In Progress", T, T)
    window = resolve_window("2026-03-01 00:00:00", "2026-03-01 23:59:59", "UTC", retention_years=0)
    assert store.extension_summary(["acme"], window).as_dicts() == []


# --- extensions -----------------------------------------------------------------------------------


def test_extensions_come_from_the_directory_of_that_pbx(store, tmp_path):
    store.upsert_directory(
        directory_table(
            [
                {"pbx_id": "acme", "extension": "1001", "first_name": "Jane"},
                {"pbx_id": "acme", "extension": "sales", "service_type": "RG"},
                {"pbx_id": "other", "extension": "2002"},
            ]
        )
    )
    legs = [
        leg(callId="1", caller="+15555551211", callee="1001"),
        # 2002 is an extension of "other", not of acme; a non-digit extension counts.
        leg(callId="2", caller="2002", callee="sales"),
        # 1234 looks like an extension, but acme's directory does not have it.
        leg(callId="3", caller="1001", callee="1234"),
        leg(callId="4", pbxId="other", caller="2002", callee="1001"),
    ]
    ingest(store, write(tmp_path / "legs.json", page(legs)))
    got = {(r["pbx_id"], r["call_id"]): (r["caller_ext"], r["callee_ext"]) for r in stored(store)}
    assert got == {
        ("acme", "1"): (None, "1001"),
        ("acme", "2"): (None, "sales"),
        ("acme", "3"): ("1001", None),
        ("other", "4"): ("2002", None),
    }


def test_digits_fallback_when_the_pbx_has_no_directory(store, tmp_path):
    store.upsert_directory(directory_table([{"pbx_id": "other", "extension": "x1"}]))
    parties = ["1001", "12", "12345678", "7", "123456789", "+15551234567", "15551234567", "ext1"]
    legs = [leg(callId=str(i), caller=p, callee=p, lra="") for i, p in enumerate(parties)]
    ingest(store, write(tmp_path / "legs.json", page(legs)))
    got = {r["caller"]: (r["caller_ext"], r["callee_ext"]) for r in stored(store)}
    assert got == {
        "1001": ("1001", "1001"),
        "12": ("12", "12"),
        "12345678": ("12345678", "12345678"),
        "7": (None, None),
        "123456789": (None, None),
        "+15551234567": (None, None),
        "15551234567": (None, None),
        "ext1": (None, None),
    }


def test_without_known_extensions_the_fallback_applies(tmp_path):
    src = EightByEightSource(write(tmp_path / "legs.json", page([leg(caller="1002")])))
    table = src.reader().read_all()
    assert table.column("caller_ext").to_pylist() == ["1002"]
    assert table.column("callee_ext").to_pylist() == ["1001"]


def test_voicemail_service_credits_the_lra_extension(store, tmp_path):
    store.upsert_directory(directory_table([{"pbx_id": "acme", "extension": "120088"}]))
    row = only_leg(
        store, tmp_path, callee="Voicemail (120088)", lra="120088", calleeSvcName="VMadvanced"
    )
    assert (row["callee"], row["callee_ext"], row["voicemail"]) == (
        "Voicemail (120088)",
        "120088",
        True,
    )


def test_service_label_naming_the_lra_credits_it_without_a_service_name(store, tmp_path):
    row = only_leg(store, tmp_path, callee="Voicemail (1001)", lra="1001", calleeSvcName=None)
    assert row["callee_ext"] == "1001"


def test_lra_that_is_not_an_extension_is_not_credited(store, tmp_path):
    store.upsert_directory(directory_table([{"pbx_id": "acme", "extension": "1001"}]))
    row = only_leg(
        store, tmp_path, callee="Voicemail (120088)", lra="120088", calleeSvcName="VMadvanced"
    )
    assert row["callee_ext"] is None


def test_lra_is_not_used_for_an_external_callee(store, tmp_path):
    # An outside number with no service on the callee side: the lra is not this leg's callee.
    row = only_leg(store, tmp_path, caller="1002", callee="+15559990000", lra="1001")
    assert (row["caller_ext"], row["callee_ext"]) == ("1002", None)


def test_own_voicemail_is_system_activity(store, tmp_path):
    ingest(store, SMALL_DAY)
    (row,) = [r for r in stored(store) if r["call_id"] == "9007"]
    assert row["caller_ext"] == row["callee_ext"] == "1001"


# --- layouts --------------------------------------------------------------------------------------


def _three_legs() -> list[dict[str, object]]:
    return [
        leg(callId="1", legId="1"),
        leg(callId="1", legId="2", callee="1002", lra="1002", abandoned="Abandoned"),
        leg(callId="2", legId=1, connectTimeUTC=T + 1_000, talkTimeMS=9_000),
    ]


def test_envelope_bare_array_pages_and_lines_store_the_same_legs(tmp_path: Path):
    legs = _three_legs()
    documents = {
        "envelope.json": json.dumps(page(legs), indent=4),
        "bare.json": json.dumps(legs),
        "pages.json": json.dumps([page(legs[:2]), page(legs[2:]), NO_DATA_PAGE], indent=2),
        "pages.jsonl": "\n".join(json.dumps(p) for p in [page(legs[:1]), page(legs[1:])]) + "\n",
    }
    results = {}
    for name, text in documents.items():
        path = tmp_path / name
        path.write_text(text)
        with DuckDBStore(tmp_path / f"{name}.duckdb") as s:
            report = ingest(s, path)
            assert report.legs_stored == 3, name
            results[name] = stored(s)
    expected = results["envelope.json"]
    assert [(r["call_id"], r["leg_id"]) for r in expected] == [("1", 1), ("1", 2), ("2", 1)]
    assert [r["abandoned"] for r in expected] == [False, True, False]
    assert [r["connect_time"] for r in expected] == [None, None, T + 1_000]
    for name, rows in results.items():
        assert rows == expected, name


@pytest.mark.parametrize(
    "document",
    [NO_DATA_PAGE, [NO_DATA_PAGE], [], {"meta": {}, "data": []}],
    ids=["no-data-page", "array-of-no-data-page", "empty-array", "empty-data"],
)
def test_empty_pages_ingest_zero_legs(store, tmp_path, document):
    report = ingest(store, write(tmp_path / "empty.json", document))
    assert (report.rows_read, report.legs_stored) == (0, 0)
    assert store.leg_count() == 0


def test_byte_order_mark_is_skipped(store, tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(page([leg()])).encode())
    assert ingest(store, path).legs_stored == 1


# --- messages -------------------------------------------------------------------------------------


def test_missing_start_time_names_the_leg(store, tmp_path):
    bad = leg(callId="2")
    del bad["startTimeUTC"]
    path = write(tmp_path / "legs.json", page([leg(callId="1"), bad, leg(callId="3")]))
    message = rejected(store, path)
    assert f"{path}: data[1]: start_time is required" in message
    assert "data[0]" not in message and "data[2]" not in message


def test_unset_start_time_is_missing(store, tmp_path):
    message = rejected(store, write(tmp_path / "legs.json", page([leg(startTimeUTC=0)])))
    assert "data[0]: start_time is required" in message


def test_missing_fields_are_reported_by_canonical_name(store, tmp_path):
    bad = leg()
    for key in ("pbxId", "callId", "caller", "disconnectedTimeUTC"):
        del bad[key]
    message = rejected(store, write(tmp_path / "legs.json", [bad]))
    for column in ("pbx_id", "call_id", "caller", "end_time"):
        assert f"{column} is required" in message
    assert f"{tmp_path / 'legs.json'}: [0]:" in message


def test_wrong_json_type_names_the_field(store, tmp_path):
    path = write(
        tmp_path / "legs.json",
        page([leg(), leg(callId="2", startTimeUTC=str(T), talkTimeMS=1.5, abandoned=True)]),
    )
    message = rejected(store, path)
    assert (
        f"{path}: data[1]: startTimeUTC must be an integer (epoch ms), not a string; "
        "talkTimeMS must be an integer (ms), not a number with a fraction or exponent; "
        "abandoned must be a string, not a boolean"
    ) in message


def test_bad_leg_in_a_later_page_names_the_page(store, tmp_path):
    path = write(
        tmp_path / "pages.json",
        [page([leg(callId="1")]), page([leg(callId="2"), leg(callId="3", legId="0")])],
    )
    message = rejected(store, path)
    assert f"{path}: page 2 data[1]: leg_id must be >= 1" in message


def test_bad_leg_in_json_lines_names_the_line(store, tmp_path):
    path = tmp_path / "pages.jsonl"
    lines = [page([leg(callId="1")]), page([]), page([leg(callId="2", pbxId="a b")])]
    path.write_text("\n".join(json.dumps(p) for p in lines) + "\n")
    message = rejected(store, path)
    assert f"{path}: line 3 data[0]: pbx_id must be" in message


def test_leg_that_is_not_an_object(store, tmp_path):
    message = rejected(store, write(tmp_path / "legs.json", page([leg(), 42])))
    assert "data[1]: expected a call-leg object" in message


def test_page_among_legs_is_named(store, tmp_path):
    message = rejected(store, write(tmp_path / "legs.json", [leg(), page([leg()])]))
    assert "[1]: expected a leg object, not a page envelope" in message


def test_skip_invalid_keeps_the_good_legs(store, tmp_path):
    path = write(tmp_path / "legs.json", page([leg(callId="1"), leg(callId="2", legId="x")]))
    report = store.ingest(
        source(store, path), skip_invalid=True, reject_path=tmp_path / "rejects.csv"
    )
    assert (report.legs_stored, report.rejected) == (1, 1)
    assert "leg_id must be a whole number" in (tmp_path / "rejects.csv").read_text()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"meta": {}, "data": [}', "not valid JSON"),
        ("callId,legId\n1,1\n", "does not start with { or ["),
        ("", "the file is empty"),
        ('{"meta": {"totalRecordCount": 0}}', 'found an object without "data"'),
        ('{"meta": {}, "data": {"callId": "1"}}', 'found "data" holding an object'),
        ('[{"meta": {}, "data": []}, {"callId": "1"}]', 'page 2: found an object without "data"'),
        ('{"meta": {}, "data": []}\nnot json\n', "line 2: not valid JSON"),
        ('[{"callId": "1"}', "not valid JSON"),
    ],
    ids=[
        "malformed",
        "csv",
        "empty",
        "no-data",
        "data-not-array",
        "leg-among-pages",
        "bad-json-line",
        "unterminated-array",
    ],
)
def test_unreadable_files_are_a_source_error_naming_the_file(store, tmp_path, text, expected):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(SourceError) as info:
        ingest(store, path)
    assert info.value.path == path
    assert str(info.value).startswith(f"{path}: ")
    assert expected in str(info.value)
    assert "expected 8x8 /v2/call-legs JSON" in str(info.value)
    assert store.leg_count() == 0


def test_malformed_json_gives_line_and_column(store, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{\n  "meta": {},\n  "data": [1 2]\n}\n')
    with pytest.raises(SourceError, match=r"not valid JSON: .* at line 3 column 14"):
        ingest(store, path)


def test_not_utf8_is_a_source_error(store, tmp_path):
    path = tmp_path / "bad.json"
    path.write_bytes(b'{"data": ["\xff"]}')
    with pytest.raises(SourceError, match="not UTF-8"):
        ingest(store, path)


# --- the extension summary of a small day ---------------------------------------------------------


DAY_DIRECTORY = [
    {"pbx_id": "acme", "extension": "1001", "first_name": "Alice", "last_name": "Smith",
     "email": "alice@acme.example", "username": "asmith"},
    {"pbx_id": "acme", "extension": "1002", "first_name": "Bob", "last_name": "Jones"},
    {"pbx_id": "acme", "extension": "1003", "first_name": "Carol", "last_name": "White"},
]  # fmt: skip

#: Worked out by hand from tests/ingest/data/8x8-small-day.json (see the adapter's doc page).
DAY_EXPECTED = {
    "1001": {
        "FirstName": "Alice", "External_Inbound_Total": 2, "External_Inbound_Answered": 1,
        "External_Inbound_Abandoned": 0, "Percent_External_Inbound_Answered": 50,
        "External_Inbound_Missed": 1, "External_Outbound_Total": 0,
        "Internal_Inbound_Total": 1, "Internal_Inbound_Answered": 0,
        "Internal_Inbound_Abandoned": 1, "Internal_Inbound_Missed": 1,
        "Internal_Outbound_Total": 0, "Inbound_Total": 3, "Inbound_Answered": 1,
        "Inbound_Abandoned": 1, "Inbound_Missed": 2, "Total_Calls_To_VM": 1,
        "Outbound_Total": 0, "Total_Answered": 1, "Total_Abandoned": 1, "Total_Missed": 2,
        "Total_Ring_Time": 65_000, "Total_Talk_Time": 60_000, "Total_Abandoned_Time": 10_000,
        "Total_Call_Time": 125_000, "Avg_Ring_Time": 21_666, "Avg_Talk_Time": 60_000,
        "Inbound_Talk_Time": 60_000, "Outbound_Talk_Time": 0, "Avg_Abandoned_Time": 10_000,
        "Email": "alice@acme.example", "UserName": "asmith",
    },
    "1002": {
        "FirstName": "Bob", "Inbound_Total": 0, "External_Outbound_Total": 1,
        "External_Outbound_Answered": 1, "Percent_External_Outbound_Answered": 100,
        "External_Outbound_Abandoned": 0, "Internal_Outbound_Total": 1,
        "Internal_Outbound_Answered": 0, "Internal_Outbound_Abandoned": 1,
        "Outbound_Total": 2, "Outbound_Answered": 1, "Outbound_Abandoned": 1,
        "Total_Answered": 1, "Total_Abandoned": 1, "Total_Missed": 0,
        "Total_Ring_Time": 18_000, "Total_Talk_Time": 30_000, "Total_Abandoned_Time": 10_000,
        "Total_Call_Time": 48_000, "Avg_Ring_Time": 9_000, "Avg_Talk_Time": 30_000,
        "Inbound_Talk_Time": 0, "Outbound_Talk_Time": 30_000, "Avg_Abandoned_Time": 10_000,
        "Email": "N/A",
    },
    "1003": {
        "FirstName": "Carol", "External_Inbound_Total": 1, "External_Inbound_Answered": 0,
        "External_Inbound_Missed": 1, "Inbound_Abandoned": 0, "Total_Calls_To_VM": 0,
        "Outbound_Total": 0, "Total_Missed": 1, "Total_Ring_Time": 20_000,
        "Total_Talk_Time": 0, "Total_Call_Time": 20_000, "Avg_Ring_Time": 20_000,
    },
}  # fmt: skip


def _day_summary(store: DuckDBStore) -> dict[str, dict[str, object]]:
    window = resolve_window("2026-03-01 00:00:00", "2026-03-01 23:59:59", "UTC", retention_years=0)
    return {r["Extension"]: r for r in store.extension_summary(["acme"], window).as_dicts()}


def test_small_day_summary_matches_hand_computed_numbers(store: DuckDBStore):
    store.upsert_directory(directory_table(DAY_DIRECTORY))
    report = ingest(store, SMALL_DAY)
    assert (report.rows_read, report.legs_stored, report.new_extensions) == (8, 8, 0)
    rows = _day_summary(store)
    assert list(rows) == ["1001", "1002", "1003"]
    for ext, expected in DAY_EXPECTED.items():
        got = {k: rows[ext][k] for k in expected}
        assert got == expected, ext


def test_small_day_summary_is_the_same_with_the_digits_fallback(store: DuckDBStore):
    report = ingest(store, SMALL_DAY)
    assert report.new_extensions == 3
    rows = _day_summary(store)
    for ext, expected in DAY_EXPECTED.items():
        numbers = {k: v for k, v in expected.items() if k not in ("FirstName", "Email", "UserName")}
        assert {k: rows[ext][k] for k in numbers} == numbers, ext


# --- size -----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_hundred_thousand_legs_in_one_page(tmp_path: Path):
    text = json.dumps(leg(callId="@ID@"), separators=(",", ":"))
    body = ",".join(text.replace("@ID@", str(i)) for i in range(100_000))
    path = tmp_path / "big.json"
    path.write_text('{"meta":{"totalRecordCount":100000,"scrollId":"x"},"data":[' + body + "]}")
    src = EightByEightSource(path)
    table = src.reader().read_all()
    assert table.num_rows == 100_000
    assert table.column("_source_error").null_count == 100_000
    assert src.locate(100_000) == f"{path}: data[99999]"


def test_digits_fallback_keeps_working_file_after_file(store: DuckDBStore, tmp_path: Path):
    """Extensions that ingest adds to the directory are not an imported directory."""
    first = write(tmp_path / "one.json", page([leg(callId="1", callee="1001")]))
    second = write(tmp_path / "two.json", page([leg(callId="2", callee="1050")]))
    for path in (first, second):
        ingest(store, path)
    credited = store.con.execute("SELECT callee_ext FROM legs ORDER BY call_id").fetchall()
    assert credited == [("1001",), ("1050",)]
