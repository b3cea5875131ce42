"""Online ingest: POST /analytics/work/admin/v1/legs with an admin API key, against a real server."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from workanalytics.legs import COLUMN_NAMES
from workanalytics.timewindow import resolve_window

from apiserver import (
    ADMIN_LEGS,
    NY_DAY,
    SHA001,
    T0,
    Api,
    KeySpec,
    UserSpec,
    compact,
    sample_legs,
    start_api,
)
from conftest import Leg, write_legs_csv

NOT_ADMIN = b'{"status":403,"error":"Forbidden","message":"this API key is not an admin key"}'
FORMATS_HELP = (
    "send Content-Type one of application/json, application/jsonl, application/vnd.apache.parquet, "
    "application/x-ndjson, application/x-parquet, text/csv or ?format= one of 8x8-json, csv, "
    "jsonl, parquet"
)
NY = ("2026-03-01 00:00:00", "2026-03-01 23:59:59", "America/New_York")


@pytest.fixture(scope="module")
def api(tmp_path_factory, deployment):
    a = start_api(
        tmp_path_factory.mktemp("admin"),
        deployment=deployment,
        legs=sample_legs(["acme"], n=30),
        users=(
            UserSpec("alice", "alice-pw", all_pbxes=True),
            UserSpec("bob", "bob-pw", pbxes=("acme",)),
        ),
        keys=(
            KeySpec("default"),
            KeySpec("admin", admin=True),
            KeySpec("other-admin", customer="other", admin=True),
        ),
        customers={"other": ("otherpbx",)},
    )
    yield a
    a.stop()


@pytest.fixture(scope="module")
def tok(api: Api) -> dict[str, str]:
    return {"alice": api.token("alice"), "bob": api.token("bob")}


def post(api: Api, body: bytes, content_type: str | None, *, key: str | None = "admin", query=""):
    headers = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if key is not None:
        headers["8x8-apikey"] = api.keys.get(key, key)
    return api.client.post(ADMIN_LEGS + query, content=body, headers=headers)


def csv_body(api: Api, legs: list[Leg]) -> bytes:
    return write_legs_csv(api.tmp / "upload.csv", legs).read_bytes()


def jsonl_body(legs: list[Leg]) -> bytes:
    return b"".join(json.dumps(leg.row()).encode() + b"\n" for leg in legs)


def engine(api: Api, pbxes, window=NY, version=2) -> bytes:
    w = resolve_window(*window, retention_years=api.svc.settings.retention_years, clock=api.svc.now)
    return api.svc.store.extension_summary(list(pbxes), w, version=version).to_json()


def leg_count(api: Api) -> int:
    return api.svc.store.leg_count()


def rows_for(api: Api, token: str, extension: str, pbx: str = "acme") -> list[dict]:
    r = api.extsum(f"pbxId={pbx}&{NY_DAY}", token=token)
    assert r.status_code == 200, r.text
    return [row for row in r.json() if row["Extension"] == extension]


def calls(prefix: str, extension: str, pbx: str = "acme") -> list[Leg]:
    """Two answered inbound calls and one unanswered outbound call for ``extension``."""
    start = T0 + 10 * 3_600_000
    return [
        Leg(pbx_id=pbx, call_id=f"{prefix}-1", start_time=start, connect_time=start + 2_000,
            end_time=start + 62_000, callee=extension, callee_ext=extension),
        Leg(pbx_id=pbx, call_id=f"{prefix}-2", start_time=start + 100_000,
            connect_time=start + 104_000, end_time=start + 134_000, callee=extension,
            callee_ext=extension),
        Leg(pbx_id=pbx, call_id=f"{prefix}-3", start_time=start + 200_000,
            end_time=start + 215_000, caller=extension, caller_ext=extension,
            callee="+15559990000", callee_ext=None),
    ]  # fmt: skip


def report(rows: int, stored: int, pbxes: list[str], added: list[str], replaced: int = 0) -> bytes:
    return compact(
        {"rows": rows, "stored": stored, "replaced": replaced, "rejected": 0, "rejectedRows": [],
         "pbxIds": pbxes, "pbxesAdded": added}
    )  # fmt: skip


def check_row(row: dict) -> None:
    assert row["Inbound_Total"] == 2
    assert row["Inbound_Answered"] == 2
    assert row["Outbound_Total"] == 1
    assert row["Outbound_Abandoned"] == 1
    assert row["Total_Talk_Time"] == 60_000 + 30_000
    assert row["Total_Ring_Time"] == 2_000 + 4_000 + 15_000


# --- bodies that ingest --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type,make,extension",
    [
        ("text/csv", "csv", "5001"),
        ("text/csv; charset=utf-8", "csv", "5002"),
        ("application/x-ndjson", "jsonl", "5003"),
        ("application/jsonl", "jsonl", "5004"),
    ],
    ids=["csv", "csv-charset", "ndjson", "jsonl"],
)
def test_body_ingests_and_shows_in_extsum_right_after(api: Api, tok, content_type, make, extension):
    legs = calls(f"{make}-{extension}", extension)
    body = csv_body(api, legs) if make == "csv" else jsonl_body(legs)
    assert rows_for(api, tok["alice"], extension) == []
    r = post(api, body, content_type)
    assert r.status_code == 200, r.text
    assert r.content == report(3, 3, ["acme"], [])
    rows = rows_for(api, tok["alice"], extension)
    assert len(rows) == 1
    check_row(rows[0])
    assert api.extsum(f"pbxId=acme&{NY_DAY}", token=tok["alice"]).content == engine(api, ["acme"])


def test_the_same_body_twice_replaces(api: Api, tok):
    legs = calls("twice", "6001")
    body = csv_body(api, legs)
    assert post(api, body, "text/csv").content == report(3, 3, ["acme"], [])
    before = api.extsum(f"pbxId=acme&{NY_DAY}", token=tok["alice"]).content
    count = leg_count(api)
    assert post(api, body, "text/csv").content == report(3, 3, ["acme"], [], replaced=3)
    assert leg_count(api) == count
    assert api.extsum(f"pbxId=acme&{NY_DAY}", token=tok["alice"]).content == before


def test_format_parameter_overrides_the_content_type(api: Api, tok):
    legs = calls("fmt", "6002")
    r = post(api, jsonl_body(legs), "application/octet-stream", query="?format=jsonl")
    assert r.status_code == 200, r.text
    check_row(rows_for(api, tok["alice"], "6002")[0])


# --- refusals ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key,status,body",
    [("default", 403, NOT_ADMIN), (None, 400, SHA001), ("wak_unknown", 400, SHA001)],
    ids=["non-admin", "missing", "unknown"],
)
def test_only_an_admin_key_ingests(api: Api, tok, key, status, body):
    count = leg_count(api)
    r = post(api, csv_body(api, calls("noadmin", "6003")), "text/csv", key=key)
    assert (r.status_code, r.content) == (status, body)
    assert leg_count(api) == count
    assert rows_for(api, tok["alice"], "6003") == []


def test_a_revoked_admin_key_stops_at_once(api: Api):
    key, secret = api.svc.control.create_api_key(name="admin2", admin=True)
    legs = calls("revoked", "6004")
    assert post(api, csv_body(api, legs), "text/csv", key=secret).status_code == 200
    api.svc.control.revoke_api_key(key.id)
    r = post(api, csv_body(api, legs), "text/csv", key=secret)
    assert (r.status_code, r.content) == (400, SHA001)


def test_a_bad_csv_row_rejects_the_whole_body(api: Api, tok):
    legs = calls("badcsv", "6005")
    body = csv_body(api, legs).splitlines(keepends=True)
    # Line 3 (the second leg): a start time that is no time.
    cols = body[2].decode().split(",")
    cols[COLUMN_NAMES.index("start_time")] = "not-a-time"
    body[2] = ",".join(cols).encode()
    count, before = leg_count(api), api.extsum(f"pbxId=acme&{NY_DAY}", token=tok["alice"]).content
    r = post(api, b"".join(body), "text/csv")
    assert r.status_code == 400
    data = r.json()
    assert list(data) == ["status", "code", "message", "total", "errors"]
    assert data["status"] == 400
    assert data["code"] == "INGEST_REJECTED"
    assert data["message"] == "rejected, nothing stored: 1 bad row(s)"
    assert data["total"] == 1
    assert len(data["errors"]) == 1
    assert data["errors"][0]["where"] == "body:3"
    assert "start_time" in data["errors"][0]["reason"]
    assert str(api.tmp).encode() not in r.content
    assert leg_count(api) == count
    assert api.extsum(f"pbxId=acme&{NY_DAY}", token=tok["alice"]).content == before


def test_a_bad_jsonl_line_rejects_the_whole_body(api: Api, tok):
    lines = jsonl_body(calls("badjsonl", "6006")).splitlines(keepends=True)
    lines.insert(1, b"{not json\n")
    count = leg_count(api)
    r = post(api, b"".join(lines), "application/x-ndjson")
    assert r.status_code == 400
    data = r.json()
    assert data["code"] == "INGEST_REJECTED"
    assert data["errors"] == [{"where": "body:2", "reason": "not valid JSON"}]
    assert leg_count(api) == count
    assert rows_for(api, tok["alice"], "6006") == []


def test_a_body_without_the_required_columns(api: Api):
    count = leg_count(api)
    r = post(api, b"pbx_id,call_id\nacme,x\n", "text/csv")
    assert r.status_code == 400
    data = r.json()
    assert data["code"] == "BAD_REQUEST"
    assert data["message"].startswith("body: missing required column(s): ")
    assert str(api.tmp).encode() not in r.content
    assert leg_count(api) == count


@pytest.mark.parametrize(
    "content_type,shown",
    [("text/plain", "text/plain"), (None, ""), ("application/xml", "application/xml")],
    ids=["text-plain", "missing", "xml"],
)
def test_unknown_content_type(api: Api, content_type, shown):
    count = leg_count(api)
    r = post(api, csv_body(api, calls("ctype", "6007")), content_type)
    assert r.status_code == 400
    message = f"unknown body format {shown!r}; {FORMATS_HELP}"
    assert r.content == compact({"status": 400, "code": "BAD_REQUEST", "message": message})
    assert leg_count(api) == count


def test_unknown_format_parameter(api: Api):
    r = post(api, b"x", "text/csv", query="?format=xlsx")
    assert r.status_code == 400
    message = f"unknown body format 'xlsx'; {FORMATS_HELP}"
    assert r.content == compact({"status": 400, "code": "BAD_REQUEST", "message": message})


def test_uploads_leave_no_files_behind(api: Api):
    post(api, csv_body(api, calls("files", "6008")), "text/csv")
    post(api, b"pbx_id\nacme\n", "text/csv")
    leftovers = list((api.svc.settings.data_dir / "tmp").glob("upload-*"))
    assert leftovers == []


# --- new PBXs --------------------------------------------------------------------------------------


def test_new_pbx_names_are_adopted_by_the_default_customer(api: Api, tok):
    r = api.extsum(f"pbxId=newpbx&{NY_DAY}", token=tok["alice"])
    assert r.status_code == 403
    r = post(api, csv_body(api, calls("new", "7001", pbx="newpbx")), "text/csv")
    assert r.status_code == 200
    assert r.content == report(3, 3, ["newpbx"], ["newpbx"])
    default = api.svc.control.customer("default")
    assert "newpbx" in api.svc.control.pbx_names(default.id)
    # An all-PBXs user of the default customer sees it at once, by name and through allpbxes.
    r = api.extsum(f"pbxId=newpbx&{NY_DAY}", token=tok["alice"])
    assert r.status_code == 200
    assert r.content == engine(api, ["newpbx"])
    check_row(r.json()[0])
    r = api.extsum(f"pbxId=allpbxes&{NY_DAY}", token=tok["alice"])
    assert r.content == engine(api, ["acme", "newpbx"])
    assert {row["PbxId"] for row in r.json()} == {"acme", "newpbx"}
    # A user entitled to a list does not get it.
    r = api.extsum(f"pbxId=newpbx&{NY_DAY}", token=tok["bob"])
    assert r.status_code == 403
    r = api.extsum(f"pbxId=allpbxes&{NY_DAY}", token=tok["bob"])
    assert {row["PbxId"] for row in r.json()} == {"acme"}
    # Known already: a second body does not adopt it again.
    r = post(api, csv_body(api, calls("new2", "7002", pbx="newpbx")), "text/csv")
    assert r.content == report(3, 3, ["newpbx"], [])


# --- reports while an ingest runs ------------------------------------------------------------------


def bulk_csv(n: int, pbx: str = "acme") -> bytes:
    """``n`` answered inbound legs inside the New York day of 1 March 2026."""
    idx = {c: i for i, c in enumerate(COLUMN_NAMES)}
    lines = [",".join(COLUMN_NAMES)]
    for i in range(n):
        row = [""] * len(COLUMN_NAMES)
        start = T0 + (i * 7919) % 86_000_000
        ext = str(800 + i % 50)
        row[idx["pbx_id"]], row[idx["call_id"]], row[idx["leg_id"]] = pbx, f"bulk{i}", "1"
        row[idx["start_time"]], row[idx["connect_time"]] = str(start), str(start + 5_000)
        row[idx["end_time"]], row[idx["status"]] = str(start + 65_000), "Completed"
        row[idx["caller"]], row[idx["callee"]], row[idx["callee_ext"]] = "+15550001111", ext, ext
        lines.append(",".join(row))
    return ("\n".join(lines) + "\n").encode()


def test_reports_keep_answering_while_an_ingest_runs(api: Api, tok):
    n = 100_000
    body = bulk_csv(n)
    query = f"pbxId=acme&{NY_DAY}"
    before = api.extsum(query, token=tok["alice"]).content
    count = leg_count(api)
    outcome: dict[str, object] = {}
    done = threading.Event()

    def ingest() -> None:
        try:
            outcome["started"] = time.monotonic()
            outcome["response"] = post(api, body, "text/csv")
        finally:
            outcome["ended"] = time.monotonic()
            done.set()

    thread = threading.Thread(target=ingest)
    thread.start()
    answers: list[tuple[float, int, bytes]] = []
    with httpx.Client(timeout=60) as client:
        headers = {"8x8-apikey": api.keys["default"], "Authorization": f"Bearer {tok['alice']}"}
        deadline = time.monotonic() + 60
        while not done.is_set() and time.monotonic() < deadline:
            r = client.get(f"{api.url}/analytics/work/v2/extsum?{query}", headers=headers)
            answers.append((time.monotonic(), r.status_code, r.content))
    thread.join(60)
    response = outcome["response"]
    assert response.status_code == 200, response.text
    assert json.loads(response.content)["stored"] == n
    assert leg_count(api) == count + n
    after = api.extsum(query, token=tok["alice"]).content
    assert after == engine(api, ["acme"]) and after != before
    # Every answer was a 200, and each was the whole store before or after: never half of it.
    assert answers
    assert all(status == 200 for _, status, _ in answers)
    assert {body for _, _, body in answers} <= {before, after}
    during = [t for t, _, _ in answers if outcome["started"] < t < outcome["ended"]]
    assert len(during) >= 3, "the ingest ended before reports could overlap it"


# --- tenancy -------------------------------------------------------------------------------------


def test_an_admin_key_never_writes_into_another_customers_pbx(api: Api, tok):
    before = leg_count(api)
    r = post(
        api, csv_body(api, calls("foreign", "7101", pbx="acme")), "text/csv", key="other-admin"
    )
    assert r.status_code == 403
    assert r.json() == {
        "status": 403,
        "error": "Access Denied",
        "message": "this API key may not write legs of PBX(s) acme",
    }
    assert leg_count(api) == before
    # Into its own customer's PBX it may; a new PBX becomes its customer's, not default's.
    r = post(
        api, csv_body(api, calls("own", "7102", pbx="otherpbx")), "text/csv", key="other-admin"
    )
    assert r.status_code == 200, r.text
    r = post(
        api, csv_body(api, calls("fresh", "7103", pbx="otherfresh")), "text/csv", key="other-admin"
    )
    assert r.status_code == 200, r.text
    other = api.svc.control.customer("other")
    assert api.svc.control.pbx_owners()["otherfresh"] == other.id
    assert api.extsum(f"pbxId=otherfresh&{NY_DAY}", token=tok["alice"]).status_code == 403


def test_skip_invalid_reports_the_rejected_rows(api: Api):
    good = calls("skip", "7201")
    text = csv_body(api, good).decode().splitlines()
    text.append(text[1].replace("skip-1", "skip-bad").replace(",1,", ",0,", 1))
    r = post(api, ("\n".join(text) + "\n").encode(), "text/csv", query="?skipInvalid=true")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["stored"], body["rejected"]) == (3, 1)
    assert body["rejectedRows"] == [{"where": "body:5", "reason": "leg_id must be >= 1"}]


@pytest.mark.parametrize("fmt", ["asterisk-csv", "freeswitch-csv", "freeswitch-json"])
def test_pbx_record_formats_are_refused_over_http(api: Api, fmt):
    """They need a source zone or a folder, which a body cannot carry: a 400, never a 500."""
    r = post(api, b"x", "text/csv", query=f"?format={fmt}")
    assert r.status_code == 400
    assert r.json()["message"] == f"unknown body format {fmt!r}; {FORMATS_HELP}"
