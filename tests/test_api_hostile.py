"""Hostile requests: whatever comes in, the answer is never a 5xx and is a JSON body.

The bytes on the wire are the test's own (raw sockets), so nothing is re-encoded or
"fixed" by a client on the way. The one exception to "a JSON body" is a request that is not
HTTP/1.1 at all (raw non-ASCII bytes in the request line, a header past the server's size
cap): the HTTP layer refuses those before the application sees them, with a plain 400 or a
closed connection; those rows say so, and still must not get a 5xx or stop the server.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from workanalytics.auth.throttle import ThrottleLimits

from apiserver import (
    ADMIN_LEGS,
    EXTSUM_V1,
    EXTSUM_V2,
    NY_DAY,
    TOKEN_PATH,
    Api,
    UserSpec,
    http_get_bytes,
    http_request_bytes,
    sample_legs,
    start_api,
)

GOOD = {
    "pbxId": b"acme",
    "startTime": b"2026-03-01%2000:00:00",
    "endTime": b"2026-03-01%2023:59:59",
    "timeZone": b"America/New_York",
}
FORM = b"application/x-www-form-urlencoded"
SQL = b"acme%27%3B%20DROP%20TABLE%20legs%3B--"  # acme'; DROP TABLE legs;--
BIG = 100_000


def q(**changes: bytes | None) -> bytes:
    """The good query with values replaced (already percent-encoded bytes) or removed."""
    params = {**GOOD, **changes}
    return b"&".join(k.encode() + b"=" + v for k, v in params.items() if v is not None)


@dataclass(frozen=True)
class Case:
    id: str
    #: Request target: path and query, bytes exactly as sent.
    target: bytes = EXTSUM_V2.encode()
    method: str = "GET"
    #: Extra or replacing headers (values as bytes); None drops a default header.
    headers: dict[str, bytes | None] = field(default_factory=dict)
    body: bytes | None = None
    #: The status when the table knows it; else any status below 500.
    status: int | None = None
    #: The HTTP layer may refuse this one before the app: plain 400 or a closed connection.
    protocol_refusal_ok: bool = False


def extsum(query: bytes, **kw) -> Case:
    return Case(target=EXTSUM_V2.encode() + b"?" + query, **kw)


INVALID_UTF8 = {
    "ff-fe": b"%FF%FE",
    "truncated": b"%C3%28",
    "surrogate": b"%ED%A0%80",
    "past-unicode": b"%F4%90%80%80",
    "overlong-slash": b"%C0%AF",
    "lone-continuation": b"%80",
}

CASES: list[Case] = [
    # --- malformed values, parameter by parameter --------------------------------------------
    *[
        extsum(q(startTime=v), id=f"start-{name}", status=400)
        for name, v in {
            "word": b"yesterday",
            "date-only": b"2026-03-01",
            "month-13": b"2026-13-45%2099:99:99",
            "year-0": b"0000-01-01%2000:00:00",
            "negative": b"-2026-03-01%2000:00:00",
            "newline": b"2026-03-01%0A00:00:00",
            "millis": b"2026-03-01%2000:00:00.000",
            "huge-number": b"9" * 400,
            "float": b"1e309",
            "minus-one": b"-1",
            "nan": b"NaN",
            "bad-escape": b"%zz",
            "lone-percent": b"%",
            "nul": b"2026-03-01%2000:00:00%00",
            "nul-only": b"%00",
            "big": b"9" * BIG,
            "spaces": b"%20" * 100,
        }.items()
    ],
    *[
        extsum(q(endTime=v), id=f"end-{name}", status=400)
        for name, v in {
            "word": b"never",
            "before-start": b"2026-02-01%2000:00:00",
            "year-1": b"0001-01-01%2000:00:00",
            "nul": b"%00",
            "big": b"2" * BIG,
        }.items()
    ],
    # Edges of the calendar: a bound with no UTC instant.
    extsum(q(endTime=b"9999-12-31%2023:59:59", timeZone=b"UTC"), id="end-9999-utc", status=400),
    extsum(q(endTime=b"9999-12-31%2023:59:59"), id="end-9999-new-york", status=400),
    extsum(
        q(startTime=b"0001-01-01%2000:00:00", timeZone=b"Asia/Tokyo"),
        id="start-year-1-tokyo",
        status=400,
    ),
    extsum(
        q(
            startTime=b"0001-01-01%2000:00:00",
            endTime=b"9999-12-31%2023:59:59",
            timeZone=b"Pacific/Kiritimati",
        ),
        id="whole-calendar-kiritimati",
    ),
    extsum(
        q(startTime=b"0001-01-01%2000:00:00", endTime=b"0001-01-01%2000:00:01", timeZone=b"UTC"),
        id="year-1-utc",
        status=200,
    ),
    extsum(
        q(startTime=b"9999-12-31%2023:59:58", endTime=b"9999-12-31%2023:59:58", timeZone=b"UTC"),
        id="year-9999-utc",
        status=200,
    ),
    # Digits that are not ASCII digits.
    extsum(
        q(startTime=b"%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%96-03-01%2000:00:00"),
        id="start-fullwidth-digits",
    ),
    extsum(q(startTime=b"%D9%A2%D9%A0%D9%A2%D9%A6-03-01%2000:00:00"), id="start-arabic-digits"),
    *[
        extsum(q(timeZone=v), id=f"zone-{name}", status=400)
        for name, v in {
            "dotdot": b"../../etc/passwd",
            "encoded-dotdot": b"%2e%2e%2f%2e%2e%2fetc%2fpasswd",
            "absolute": b"/etc/passwd",
            "zoneinfo-file": b"/usr/share/zoneinfo/UTC",
            "inside-then-out": b"Etc/../../../../etc/passwd",
            "dotdot-only": b"..",
            "dot": b".",
            "nul": b"UTC%00",
            "nul-path": b"%00../../etc/passwd",
            "windows": b"C:%5CWindows%5Cwin.ini",
            "tilde": b"~",
            "backslashes": b"..%5C..%5C",
            "file-url": b"file:///etc/passwd",
            "big": b"A" * BIG,
            "lowercase": b"utc%2F..",
            "double-encoded": b"%252e%252e%252fetc%252fpasswd",
            "spaces": b"%20UTC%20",
        }.items()
    ],
    *[
        extsum(q(pbxId=v), id=f"pbx-{name}", status=403)
        for name, v in {
            "sql-drop": SQL,
            "sql-or": b"acme%27%20OR%20%271%27%3D%271",
            "sql-union": b"x%27%20UNION%20SELECT%20*%20FROM%20legs--",
            "sql-comment": b"acme--",
            "double-quote": b"acme%22",
            "backslash": b"acme%5C",
            "nul": b"acme%00",
            "nul-allpbxes": b"allpbxes%00",
            "unicode": b"acm%C3%A9",
            "rtl": b"%E2%80%AEemca",
            "big": b"a" * BIG,
            "path": b"..%2F..%2Fetc%2Fpasswd",
            "glob": b"*",
            "percent": b"%25",
            "newline": b"acme%0Abeta",
            "semicolon": b"acme;beta",
        }.items()
    ],
    extsum(q(pbxId=b"acme," * 20_000), id="pbx-20000-duplicates", status=200),
    extsum(q(pbxId=b",".join(b"p%d" % i for i in range(10_000))), id="pbx-10000-names", status=403),
    extsum(q(pbxId=b"%2C%2C%2C"), id="pbx-encoded-commas", status=400),
    # --- invalid UTF-8, percent-encoded, in every parameter ------------------------------------
    *[
        extsum(q(**{param: v}), id=f"utf8-{param}-{name}", status=403 if param == "pbxId" else 400)
        for param in GOOD
        for name, v in INVALID_UTF8.items()
    ],
    *[
        extsum(
            q(**{param: b"x" + v + b"y"}),
            id=f"utf8-mid-{param}-{name}",
            status=403 if param == "pbxId" else 400,
        )
        for param in ("pbxId", "timeZone")
        for name, v in INVALID_UTF8.items()
    ],
    extsum(b"pbx%FFId=acme&" + NY_DAY.encode(), id="utf8-in-name", status=400),
    # --- raw bytes (not percent-encoded) -----------------------------------------------------------
    extsum(q(pbxId=b"\xff\xfe"), id="raw-invalid-utf8-in-query", protocol_refusal_ok=True),
    extsum(q(pbxId=b"acm\xc3\xa9"), id="raw-utf8-in-query", protocol_refusal_ok=True),
    extsum(q(pbxId=b"a b"), id="raw-space-in-query", protocol_refusal_ok=True),
    extsum(q(), id="raw-invalid-utf8-apikey", headers={"8x8-apikey": b"\xff\xfe\x80"}, status=400),
    extsum(
        q(),
        id="raw-invalid-utf8-token",
        headers={"Authorization": b"Bearer \xff\xfe.\x80.\xc3("},
        status=401,
    ),
    extsum(q(), id="raw-latin1-bearer", headers={"Authorization": b"\xe9Bearer x"}, status=401),
    extsum(
        q(), id="nul-in-header", headers={"8x8-apikey": b"abc\x00def"}, protocol_refusal_ok=True
    ),
    # --- repeated and odd parameters -----------------------------------------------------------------
    extsum(q() + b"&pbxId=beta", id="repeat-pbx"),
    extsum(q() + b"&timeZone=../../etc/passwd", id="repeat-zone-bad-last"),
    extsum(b"timeZone=../../etc/passwd&" + q(), id="repeat-zone-bad-first"),
    extsum(q() + b"&startTime=2026-03-02%2000:00:00&startTime=x", id="repeat-start-three"),
    extsum(q() + b"&pbxId=acme" * 2_000, id="repeat-pbx-2000"),
    extsum(q() + b"&junk=1" * 10_000, id="10000-unknown-params", status=200),
    extsum(q() + b"&&&&=&=x&%=&;", id="empty-pairs"),
    extsum(b"pbxId&startTime&endTime&timeZone", id="names-without-values", status=400),
    extsum(b"=acme", id="value-without-name", status=400),
    extsum(b"pbxid=acme&starttime=2026-03-01%2000:00:00", id="wrong-case-names", status=400),
    extsum(b"pbxId=acme&" + b"x" * BIG, id="100k-query-string"),
    Case(id="100k-query-v1", target=EXTSUM_V1.encode() + b"?" + q(pbxId=b"b" * BIG), status=403),
    extsum(q() + b"#fragment", id="fragment", status=400),
    # --- methods and paths -------------------------------------------------------------------------
    *[
        Case(id=f"{m.lower()}-extsum-{v}", method=m, target=p.encode() + b"?" + q(), status=405)
        for m in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS")
        for v, p in (("v2", EXTSUM_V2), ("v1", EXTSUM_V1))
    ],
    *[
        Case(id=f"{m.lower()}-token", method=m, target=TOKEN_PATH.encode(), status=405)
        for m in ("GET", "PUT", "DELETE", "PATCH")
    ],
    Case(id="get-admin", target=ADMIN_LEGS.encode(), status=405),
    Case(id="made-up-method", method="BREW", target=EXTSUM_V2.encode(), status=405),
    Case(id="trace-root", method="TRACE", target=b"/", status=405),  # / serves the dashboard
    Case(id="unknown-version", target=b"/analytics/work/v3/extsum?" + q(), status=404),
    # Starlette's slash redirect: the one bodiless answer, pointing at the real path.
    Case(id="trailing-slash", target=EXTSUM_V2.encode() + b"/?" + q(), status=307),
    Case(id="dotdot-path", target=b"/analytics/work/../../etc/passwd", status=404),
    Case(id="encoded-dotdot-path", target=b"/%2e%2e/%2e%2e/etc/passwd", status=404),
    Case(id="double-slashes", target=b"//analytics//work//v2//extsum?" + q(), status=404),
    Case(id="nul-in-path", target=EXTSUM_V2.encode() + b"%00?" + q(), status=404),
    Case(id="absolute-form", target=b"http://127.0.0.1" + EXTSUM_V2.encode() + b"?" + q()),
    Case(id="asterisk-form", method="OPTIONS", target=b"*", status=404),
    Case(id="big-path", target=b"/" + b"a" * BIG, status=404),
    # --- the token endpoint ------------------------------------------------------------------------
    *[
        Case(
            id=f"token-{name}",
            method="POST",
            target=TOKEN_PATH.encode(),
            status=status,
            headers={"Content-Type": ctype} if ctype is not None else {},
            body=body,
        )
        for name, ctype, body, status in [
            ("json-body", b"application/json", b'{"username":"alice","password":"pw"}', 400),
            ("text-plain", b"text/plain", b"username=alice&password=alice-pw", 400),
            ("no-content-type", None, b"username=alice&password=alice-pw", 400),
            ("xml", b"application/xml", b"<u>alice</u>", 400),
            ("multipart-no-boundary", b"multipart/form-data", b"--x\r\n", 400),
            ("multipart-garbage", b"multipart/form-data; boundary=x", b"garbage", 400),
            (
                "multipart-unterminated",
                b"multipart/form-data; boundary=x",
                b'--x\r\nContent-Disposition: form-data; name="username"\r\n\r\nalice',
                400,
            ),
            ("form-empty", FORM, b"", 400),
            (
                "form-invalid-utf8-escaped",
                FORM,
                b"username=%FF%FE&password=%C3%28",
                400,
            ),
            (
                "form-invalid-utf8-raw",
                FORM,
                b"username=\xff\xfe&password=\xc3(",
                400,
            ),
            (
                "form-nul",
                FORM,
                b"username=alice%00&password=x%00",
                400,
            ),
            (
                "form-sql",
                FORM,
                b"username=alice%27%20OR%20%271%27%3D%271&password=%27%20OR%20%271%27%3D%271",
                400,
            ),
            (
                "form-repeated",
                FORM,
                b"username=nobody&username=alice&password=x&password=y",
                400,
            ),
            (
                "form-charset-utf16",
                b"application/x-www-form-urlencoded; charset=utf-16",
                "username=alice&password=x".encode("utf-16"),
                400,
            ),
            (
                "form-huge-username",
                FORM,
                b"username=" + b"u" * BIG + b"&password=x",
                400,
            ),
            (
                "form-1mb-password",
                FORM,
                b"username=alice&password=" + b"p" * 1_000_000,
                400,
            ),
            ("form-many-fields", FORM, b"a=1&" * 20_000, 400),
            (
                "form-bad-escapes",
                FORM,
                b"username=%zz&password=%",
                400,
            ),
            ("binary", b"application/octet-stream", bytes(range(256)) * 40, 400),
        ]
    ],
    Case(
        id="token-bad-key-json-body",
        method="POST",
        target=TOKEN_PATH.encode(),
        headers={"8x8-apikey": b"nope", "Content-Type": b"application/json"},
        body=b"{",
        status=400,
    ),
    # --- headers and tokens -------------------------------------------------------------------------
    extsum(q(), id="apikey-100k", headers={"8x8-apikey": b"k" * BIG}, status=400),
    extsum(
        q(), id="token-200k", headers={"Authorization": b"Bearer " + b"t" * 200_000}, status=401
    ),
    extsum(
        q(),
        id="token-200k-dots",
        headers={"Authorization": b"Bearer " + b"eyJ." * 50_000},
        status=401,
    ),
    extsum(
        q(),
        id="token-1mb",
        headers={"Authorization": b"Bearer " + b"t" * 1_000_000},
        protocol_refusal_ok=True,
    ),
    extsum(
        q(),
        id="authorization-twice",
        headers={"Authorization": b"Bearer a\r\nAuthorization: x"},
        status=401,
    ),
    extsum(q(), id="apikey-twice", headers={"8x8-apikey": b"a\r\n8x8-apikey: b"}, status=400),
]


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    a = start_api(
        tmp_path_factory.mktemp("hostile"),
        legs=sample_legs(["acme", "beta"], n=40),
        users=(UserSpec("alice", "alice-pw", all_pbxes=True),),
        throttle_limits=ThrottleLimits(per_username=10_000, per_address=10_000),
    )
    yield a
    a.stop()


@pytest.fixture(scope="module")
def token(api: Api) -> str:
    return api.token("alice")


def build(api: Api, token: str, case: Case) -> bytes:
    headers: dict[str, bytes | None] = {
        "8x8-apikey": api.keys["default"].encode(),
        "Authorization": f"Bearer {token}".encode(),
    }
    headers.update(case.headers)
    present = {k: v for k, v in headers.items() if v is not None}
    if case.method == "GET" and case.body is None:
        return http_get_bytes(case.target, present)
    lines = [case.method.encode() + b" " + case.target + b" HTTP/1.1", b"Host: 127.0.0.1"]
    lines += [k.encode() + b": " + v for k, v in present.items()]
    body = case.body or b""
    lines += [b"Content-Length: %d" % len(body), b"Connection: close"]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def healthy(api: Api) -> bool:
    r = api.raw(http_request_bytes("GET", "/healthz", {}))
    return r is not None and r.status == 200


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_no_5xx_and_a_json_body(api: Api, token: str, case: Case):
    r = api.raw(build(api, token, case), timeout=20)
    if case.protocol_refusal_ok and (
        r is None or r.headers.get("content-type", "").startswith("text/plain")
    ):
        # Refused by the HTTP layer before the app: fine, as long as it is not a 5xx and the
        # server goes on serving.
        assert r is None or r.status < 500, r
        assert healthy(api)
        return
    assert r is not None, "no answer"
    assert r.status < 500, (r.status, r.body[:300])
    if case.status is not None:
        assert r.status == case.status, r.body[:300]
    if r.status == 307:
        assert r.headers["location"].endswith(EXTSUM_V2 + "?" + q().decode())
        return
    assert r.headers.get("content-type", "").startswith("application/json"), r.headers
    if case.method != "HEAD":
        json.loads(r.body)
    assert b"Traceback" not in r.body
    assert str(api.svc.settings.data_dir).encode() not in r.body


def test_the_table_covers_every_parameter():
    # Every extsum parameter has at least one invalid-UTF-8 and one oversized row.
    ids = {c.id for c in CASES}
    for param in GOOD:
        assert any(i.startswith(f"utf8-{param}-") for i in ids)
    assert {"start-big", "end-big", "zone-big", "pbx-big"} <= ids


def _leg_count(api: Api) -> int:
    with api.svc.store.con.cursor() as cur:
        return cur.execute("SELECT count(*) FROM legs").fetchone()[0]


def test_sql_in_pbx_id_changes_nothing(api: Api, token: str):
    before_count = _leg_count(api)
    before = api.extsum(f"pbxId=allpbxes&{NY_DAY}", token=token).content
    assert before_count == 40 and before != b"[]"
    for value in (
        SQL,
        b"acme%27%20OR%20%271%27%3D%271",
        b"acme%27)%3B%20DELETE%20FROM%20legs%3B--",
    ):
        for version_path in (EXTSUM_V2, EXTSUM_V1):
            target = version_path.encode() + b"?" + q(pbxId=value)
            r = api.raw(build(api, token, Case(id="sql", target=target)))
            assert r is not None and r.status == 403
            assert json.loads(r.body)["message"].startswith(
                "user(alice) does not have access to pbxId(acme'"
            )
    assert _leg_count(api) == before_count
    assert api.extsum(f"pbxId=allpbxes&{NY_DAY}", token=token).content == before


def test_schemathesis_fuzz(api: Api, token: str):
    """Requests generated from the OpenAPI document, authenticated: no 5xx, always JSON."""
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings

    schema = schemathesis.openapi.from_url(api.url + "/analytics/work/openapi.json")
    headers = {"8x8-apikey": api.keys["default"], "Authorization": f"Bearer {token}"}
    seen: dict[str, set[int]] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 6

    def fuzz(op):
        @settings(
            max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        @given(case=op.as_strategy())
        def check(case):
            r = case.call(base_url=api.url, headers=headers)
            seen.setdefault(f"{op.method} {op.path}", set()).add(r.status_code)
            assert r.status_code < 500, (case.path, case.query, r.text[:300])
            ctype = r.headers.get("content-type") or [""]
            assert (ctype if isinstance(ctype, str) else ctype[0]).startswith("application/json")
            r.json()

        check()

    for op in operations:
        fuzz(op)
    assert len(seen) == 6


def test_zz_after_the_whole_table_the_legs_are_all_there(api: Api, token: str):
    # Runs after the table (file order): nothing in it changed the store.
    assert _leg_count(api) == 40
    r = api.extsum(f"pbxId=acme&{NY_DAY}", token=token)
    assert r.status_code == 200 and r.json()
