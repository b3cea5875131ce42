"""The HTTP contract of api.md, walked as 8x8's guide walks it, against a real server.

Every row of api.md's tables is a test here; bodies are compared byte for byte.
"""

from __future__ import annotations

import base64
import json
import os
import re
import stat
import statistics
import time
from datetime import UTC, datetime

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from workanalytics.auth.throttle import ThrottleLimits
from workanalytics.auth.tokens import AUDIENCE, ISSUER
from workanalytics.metrics import FIELDS, V1_FIELDS
from workanalytics.timewindow import resolve_window

from apiserver import (
    EXTSUM_V1,
    EXTSUM_V2,
    FIXED_NOW,
    NY_DAY,
    SHA001,
    TOKEN_PATH,
    Api,
    KeySpec,
    UserSpec,
    compact,
    invalid_parameter,
    sample_legs,
    start_api,
)

PBX_HINT = "expected a PBX name, a comma-separated list of names, or allpbxes"
TIME_HINT = "expected YYYY-MM-DD HH:MM:SS"
ZONE_HINT = "expected an IANA time zone such as America/New_York"
UNAUTHORIZED = (
    b'{"error":"unauthorized","error_description":'
    b'"Full authentication is required to access this resource"}'
)
MALFORMED_TOKEN = (
    b'{"error":"invalid_token","error_description":"Cannot convert access token to JSON"}'
)
EXPIRED_TOKEN = b'{"error":"invalid_token","error_description":"Access token expired"}'
INVALID_TOKEN = b'{"error":"invalid_token","error_description":"Invalid access token"}'
INVALID_REQUEST = (
    b'{"error":"invalid_request","error_description":"username and password are required"}'
)
INVALID_GRANT = b'{"error_description":"USER_NOTFOUND_ERROR","error":"invalid_grant"}'
#: The 403's timeStamp at FIXED_NOW, in 8x8's yyyy-MM-dd'T'HH:mm:ss.SSS+0000.
STAMP = "2026-06-01T00:00:00.123+0000"

USERS = (
    UserSpec("alice", "alice-pw-1", all_pbxes=True),
    UserSpec("bob", "bob-pw-2", pbxes=("acme",)),
    UserSpec("carol", "carol-pw-3", customer="other", all_pbxes=True),
    UserSpec("dave", "dave-pw-4", pbxes=("acme",)),
    UserSpec("erin", "erin-pw-5", pbxes=("acme",)),
    UserSpec("rita", "rita-pw-6", pbxes=("acme",)),
)
DIRECTORY = [
    {"pbx_id": "acme", "extension": "100", "service_type": "UE", "first_name": "Jane",
     "last_name": "Li", "branch": "HQ", "department": "Sales", "email": "jane@acme.test",
     "username": "jli"},
    {"pbx_id": "acme", "extension": "101", "service_type": "RG", "first_name": "Sales",
     "last_name": "Group", "email": "sales@acme.test", "username": "sales"},
]  # fmt: skip
VERSIONS = [pytest.param(2, id="v2"), pytest.param(1, id="v1")]


@pytest.fixture(scope="module")
def api(tmp_path_factory, deployment):
    """The contract's server, once embedded and once scaled out (ClickHouse + PostgreSQL)."""
    a = start_api(
        tmp_path_factory.mktemp("contract"),
        deployment=deployment,
        legs=sample_legs(["acme", "beta", "other1"], n=90),
        directory=DIRECTORY,
        customers={"other": ["other1"]},
        users=USERS,
        keys=(KeySpec("default"), KeySpec("other", customer="other"), KeySpec("revocable")),
        # Generous: this module logs in often from one address; throttling is tested apart.
        throttle_limits=ThrottleLimits(per_username=1000, per_address=1000),
    )
    yield a
    a.stop()


@pytest.fixture(scope="module")
def tok(api: Api) -> dict[str, str]:
    return {
        "alice": api.token("alice"),
        "bob": api.token("bob"),
        "carol": api.token("carol", key="other"),
    }


def engine(api: Api, pbxes, start, end, zone, version=2) -> bytes:
    window = resolve_window(
        start, end, zone, retention_years=api.svc.settings.retention_years, clock=api.svc.now
    )
    return api.svc.store.extension_summary(list(pbxes), window, version=version).to_json()


def signing_key(api: Api, kid: str | None = None):
    kid = kid or api.svc.keys.active_kid()
    pem = api.svc.keys.store.load(kid)  # a file, or a row of the shared control plane
    return kid, serialization.load_pem_private_key(pem, password=None)


def claims_for(api: Api, username: str, **override) -> dict:
    user = api.accounts[username]
    now = int(api.clock())
    claims = {
        "sub": user.id, "lid": user.username, "cid": user.customer_id, "iss": ISSUER,
        "aud": AUDIENCE, "typ": "access", "iat": now, "exp": now + 1800, "jti": "j-1",
    }  # fmt: skip
    claims.update(override)
    return {k: v for k, v in claims.items() if v is not None}


# --- POST /v1/oauth/token ------------------------------------------------------------------


def test_token_request_of_the_guide(api: Api):
    r = api.client.post(
        TOKEN_PATH,
        content=b"username=alice&password=alice-pw-1",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "8x8-apikey": api.keys["default"],
        },
    )
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert list(body) == ["access_token", "token_type", "expires_in"]
    token = body["access_token"]
    assert (
        r.content
        == b'{"access_token":"%s","token_type":"bearer","expires_in":1800}' % token.encode()
    )

    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256"
    assert header["kid"] == api.svc.keys.active_kid()
    _, key = signing_key(api, header["kid"])
    claims = jwt.decode(
        token, key.public_key(), algorithms=["RS256"], audience="dashboard",
        options={"verify_exp": False, "verify_iat": False},
    )  # fmt: skip
    alice = api.accounts["alice"]
    assert set(claims) == {"sub", "lid", "cid", "iss", "aud", "typ", "iat", "exp", "jti"}
    assert claims["sub"] == alice.id
    assert claims["lid"] == "alice"
    assert claims["cid"] == alice.customer_id == api.svc.control.customer("default").id
    assert claims["iss"] == ISSUER
    assert claims["aud"] == "dashboard"
    assert claims["typ"] == "access"
    assert claims["iat"] == int(FIXED_NOW)
    assert claims["exp"] == claims["iat"] + 1800
    assert isinstance(claims["jti"], str) and claims["jti"]
    again = jwt.decode(api.token("alice"), options={"verify_signature": False})
    assert again["jti"] != claims["jti"]


def test_signing_key_is_readable_by_its_owner_only(api: Api, deployment):
    if deployment.control_url:
        pytest.skip("the keys are rows of the shared control plane, not files")
    keys_dir = api.svc.settings.keys_dir
    assert stat.S_IMODE(os.stat(keys_dir).st_mode) & 0o077 == 0
    pems = list(keys_dir.glob("*.pem"))
    assert pems
    for pem in pems:
        assert stat.S_IMODE(os.stat(pem).st_mode) == 0o600


@pytest.mark.parametrize(
    "key",
    [None, "", "wak_not-a-key", "default-but-wrong"],
    ids=["missing", "empty", "unknown", "garbage"],
)
def test_token_bad_api_key_is_sha001(api: Api, key):
    r = api.login("alice", "alice-pw-1", key=key)
    assert r.status_code == 400
    assert r.content == SHA001


@pytest.mark.parametrize(
    "username,password",
    [("alice", None), (None, "alice-pw-1"), (None, None), ("", "alice-pw-1"), ("alice", "")],
)
def test_token_username_or_password_missing(api: Api, username, password):
    r = api.login(username, password)
    assert r.status_code == 400
    assert r.content == INVALID_REQUEST


def test_token_login_failures_are_indistinguishable(api: Api):
    cases = {
        "unknown user": ("nobody-at-all", "whatever-pw"),
        "wrong password": ("alice", "not-alices-password"),
        "other customer's user": ("carol", "carol-pw-3"),
    }
    timings: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(3):
        for name, (username, password) in cases.items():
            started = time.perf_counter()
            r = api.login(username, password)
            timings[name].append(time.perf_counter() - started)
            assert r.status_code == 400, name
            assert r.content == INVALID_GRANT, name
    medians = [statistics.median(t) for t in timings.values()]
    assert max(medians) < 3 * min(medians), timings


# --- the throttle (its own server: small limits) --------------------------------------------

TOO_MANY = (
    b'{"error":"too_many_requests","error_description":"too many failed logins; retry after %d s"}'
)


@pytest.fixture
def throttled(tmp_path):
    a = start_api(
        tmp_path,
        users=(UserSpec("alice", "alice-pw-1", all_pbxes=True),),
        throttle_limits=ThrottleLimits(per_username=3, per_address=5, window_s=60),
    )
    yield a
    a.stop()


def test_too_many_failures_for_one_username(throttled: Api):
    for _ in range(3):
        assert throttled.login("alice", "wrong").content == INVALID_GRANT
    throttled.clock.advance(10)
    # Locked now, even with the right password; the wait counts from the oldest failure.
    r = throttled.login("alice", "alice-pw-1")
    assert r.status_code == 429
    assert r.content == TOO_MANY % 50
    assert r.headers["retry-after"] == "50"
    throttled.clock.advance(50)
    assert throttled.login("alice", "alice-pw-1").status_code == 200


def test_too_many_failures_from_one_address(throttled: Api):
    for i in range(5):
        assert throttled.login(f"guess{i}", "wrong").content == INVALID_GRANT
    r = throttled.login("alice", "alice-pw-1")
    assert r.status_code == 429
    assert r.content == TOO_MANY % 60
    assert r.headers["retry-after"] == "60"
    throttled.clock.advance(60)
    assert throttled.login("alice", "alice-pw-1").status_code == 200


# --- GET /v2/extsum and /v1/extsum: answers ------------------------------------------------

WINDOWS = [
    ("2026-03-01 00:00:00", "2026-03-01 23:59:59", "America/New_York"),
    ("2026-02-28 12:00:00", "2026-03-02 11:59:59", "UTC"),
    ("2026-03-01 09:30:00", "2026-03-01 21:15:00", "Asia/Tokyo"),
]


def _query(pbx: str, start: str, end: str, zone: str, space: str) -> str:
    return (
        f"pbxId={pbx}&startTime={start.replace(' ', space)}&endTime={end.replace(' ', space)}"
        f"&timeZone={zone}"
    )


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "pbx_param,pbxes",
    [
        ("acme", ["acme"]),
        ("beta", ["beta"]),
        ("acme,%20beta%20,acme,beta", ["acme", "beta"]),
        ("beta+,+acme", ["acme", "beta"]),
        ("allpbxes", ["acme", "beta"]),
    ],
    ids=["one", "other", "list-spaces-duplicates", "list-plus-spaces", "allpbxes"],
)
@pytest.mark.parametrize("window", WINDOWS, ids=["ny-day", "utc-2days", "tokyo"])
def test_extsum_equals_the_engine(api: Api, tok, version, pbx_param, pbxes, window):
    expected = engine(api, pbxes, *window, version=version)
    assert expected != b"[]"
    for space in ("%20", "+"):
        r = api.extsum(_query(pbx_param, *window, space), version=version, token=tok["alice"])
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/json"
        assert r.content == expected, space


def test_v1_is_v2_without_the_talk_time_split(api: Api, tok):
    q = _query("allpbxes", *WINDOWS[1], "%20")
    v2 = api.extsum(q, version=2, token=tok["alice"]).json()
    v1 = api.extsum(q, version=1, token=tok["alice"]).json()
    assert v2 and len(v1) == len(v2)
    assert [list(r) for r in v2] == [[f.name for f in FIELDS]] * len(v2)
    assert [list(r) for r in v1] == [[f.name for f in V1_FIELDS]] * len(v1)
    for a, b in zip(v1, v2, strict=True):
        trimmed = {
            k: v for k, v in b.items() if k not in ("Inbound_Talk_Time", "Outbound_Talk_Time")
        }
        assert list(a.items()) == list(trimmed.items())


def test_no_counted_leg_is_an_empty_array(api: Api, tok):
    q = "pbxId=acme&startTime=2026-05-01%2000:00:00&endTime=2026-05-01%2023:59:59&timeZone=UTC"
    for version in (1, 2):
        r = api.extsum(q, version=version, token=tok["alice"])
        assert (r.status_code, r.content) == (200, b"[]")


def test_a_list_user_sees_their_pbxes_only(api: Api, tok):
    r = api.extsum(f"pbxId=allpbxes&{NY_DAY}", token=tok["bob"])
    assert r.status_code == 200
    assert r.content == engine(api, ["acme"], *WINDOWS[0])
    assert {row["PbxId"] for row in r.json()} == {"acme"}


def test_another_customers_pbx_is_never_seen(api: Api, tok):
    # other1 has data in the window, so its absence below means something.
    assert engine(api, ["other1"], *WINDOWS[0]) != b"[]"
    r = api.extsum(f"pbxId=allpbxes&{NY_DAY}", token=tok["alice"])
    assert r.status_code == 200
    assert {row["PbxId"] for row in r.json()} == {"acme", "beta"}
    # allpbxes wins over any name beside it, and still means the user's own PBXs only.
    r = api.extsum(f"pbxId=allpbxes,other1&{NY_DAY}", token=tok["alice"])
    assert r.status_code == 200
    assert r.content == engine(api, ["acme", "beta"], *WINDOWS[0])
    # And the other customer's user sees exactly its own.
    r = api.extsum(f"pbxId=allpbxes&{NY_DAY}", token=tok["carol"], key="other")
    assert r.status_code == 200
    assert r.content == engine(api, ["other1"], *WINDOWS[0])


def test_a_token_valid_on_the_servers_clock_is_accepted_ahead_of_the_wall_clock(api: Api):
    # The server's clock decides validity (expiry is read on it), even when it runs ahead of
    # this machine's own clock: a token issued "in the future" is fresh, not premature.
    with api.clock.moved_to(time.time() + 86_400):
        token = api.token("alice")
        r = api.extsum(f"pbxId=acme&{NY_DAY}", token=token)
        assert r.status_code == 200, r.text
        assert r.content == engine(api, ["acme"], *WINDOWS[0])


# --- extsum: API key and Authorization -------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("key", [None, "", "wak_unknown"], ids=["missing", "empty", "unknown"])
def test_extsum_bad_api_key_is_sha001(api: Api, tok, version, key):
    r = api.extsum(f"pbxId=acme&{NY_DAY}", version=version, token=tok["alice"], key=key)
    assert r.status_code == 400
    assert r.content == SHA001
    # The key is checked first: no Authorization at all gives the same answer.
    r = api.extsum(f"pbxId=acme&{NY_DAY}", version=version, key=key)
    assert (r.status_code, r.content) == (400, SHA001)


def test_a_revoked_key_stops_working_at_once(api: Api):
    token = api.token("rita", key="revocable")
    q = f"pbxId=acme&{NY_DAY}"
    assert api.extsum(q, token=token, key="revocable").status_code == 200
    api.svc.control.revoke_api_key(api.key_ids["revocable"])
    for version in (1, 2):
        r = api.extsum(q, version=version, token=token, key="revocable")
        assert (r.status_code, r.content) == (400, SHA001)
    r = api.login("rita", "rita-pw-6", key="revocable")
    assert (r.status_code, r.content) == (400, SHA001)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "authorization",
    [None, "", "Basic YWxpY2U6cHc=", "Bearer", "Token abc", "BearerXYZ", "JWT abc"],
    ids=["missing", "empty", "basic", "bearer-alone", "token", "glued", "jwt"],
)
def test_authorization_missing_or_not_bearer(api: Api, version, authorization):
    r = api.extsum(f"pbxId=acme&{NY_DAY}", version=version, authorization=authorization)
    assert r.status_code == 401
    assert r.content == UNAUTHORIZED


def test_bare_token_without_scheme_is_unauthorized(api: Api, tok):
    r = api.extsum(f"pbxId=acme&{NY_DAY}", authorization=tok["alice"])
    assert (r.status_code, r.content) == (401, UNAUTHORIZED)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "token",
    ["garbage", "a.b.c", "a.b", "....", "eyJ.eyJ.sig", "%%%.###.!!!", "x" * 5000],
    ids=["word", "dots", "two-parts", "only-dots", "truncated-b64", "not-b64", "long"],
)
def test_garbage_token(api: Api, version, token):
    r = api.extsum(f"pbxId=acme&{NY_DAY}", version=version, authorization=f"Bearer {token}")
    assert r.status_code == 401
    assert r.content == MALFORMED_TOKEN


@pytest.mark.parametrize("version", VERSIONS)
def test_expired_token(api: Api, tok, version):
    token = tok["alice"]
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    q = f"pbxId=acme&{NY_DAY}"
    with api.clock.moved_to(exp - 1):
        assert api.extsum(q, version=version, token=token).status_code == 200
    with api.clock.moved_to(exp):
        r = api.extsum(q, version=version, token=token)
        assert (r.status_code, r.content) == (401, EXPIRED_TOKEN)
    with api.clock.moved_to(exp + 86_400):
        r = api.extsum(q, version=version, token=token)
        assert (r.status_code, r.content) == (401, EXPIRED_TOKEN)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forged(api: Api):
    """Tokens the server must refuse as invalid, built with keys and claims of our choosing."""
    kid, key = signing_key(api)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    good = claims_for(api, "alice")
    carol = claims_for(api, "carol")
    genuine = jwt.encode(good, key, algorithm="RS256", headers={"kid": kid})
    h, p, s = genuine.split(".")
    tampered_payload = _b64(json.dumps({**good, "lid": "mallory"}).encode())
    none_header = _b64(json.dumps({"alg": "none", "kid": kid, "typ": "JWT"}).encode())
    return {
        "bad-signature": jwt.encode(good, stranger, algorithm="RS256", headers={"kid": kid}),
        "tampered-payload": f"{h}.{tampered_payload}.{s}",
        "tampered-signature": f"{h}.{p}.{s[:-4]}{'AAAA' if s[-4:] != 'AAAA' else 'BBBB'}",
        "unknown-kid": jwt.encode(good, stranger, algorithm="RS256", headers={"kid": "nope"}),
        "no-kid": jwt.encode(good, key, algorithm="RS256"),
        "kid-path": jwt.encode(good, key, algorithm="RS256", headers={"kid": f"../keys/{kid}"}),
        "kid-nul": jwt.encode(good, key, algorithm="RS256", headers={"kid": kid + "\x00"}),
        "kid-long": jwt.encode(good, key, algorithm="RS256", headers={"kid": "k" * 5000}),
        "kid-number": _rs256({"alg": "RS256", "typ": "JWT", "kid": 7}, good, key),
        "alg-none": f"{none_header}.{p}.",
        "alg-hs256-public-key": _hs256(good, public_pem, kid),
        "other-issuer": jwt.encode({**good, "iss": "someone-else"}, key, "RS256", {"kid": kid}),
        "no-issuer": jwt.encode(claims_for(api, "alice", iss=None), key, "RS256", {"kid": kid}),
        "no-expiry": jwt.encode(claims_for(api, "alice", exp=None), key, "RS256", {"kid": kid}),
        "other-audience": jwt.encode({**good, "aud": "admin"}, key, "RS256", {"kid": kid}),
        "other-type": jwt.encode({**good, "typ": "refresh"}, key, "RS256", {"kid": kid}),
        "other-customer-token": jwt.encode(carol, key, "RS256", {"kid": kid}),
        "customer-of-other-user": jwt.encode(
            {**good, "sub": carol["sub"]}, key, "RS256", {"kid": kid}
        ),
        "unknown-user": jwt.encode({**good, "sub": "no-such-user"}, key, "RS256", {"kid": kid}),
    }


def _rs256(header: dict, claims: dict, key) -> str:
    """An RS256 JWS with any header at all (PyJWT refuses some we need)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    sig = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(sig)}"


def _hs256(claims: dict, secret: bytes, kid: str) -> str:
    import hashlib
    import hmac

    header = _b64(json.dumps({"alg": "HS256", "kid": kid, "typ": "JWT"}).encode())
    payload = _b64(json.dumps(claims).encode())
    sig = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(sig)}"


FORGED = [
    "bad-signature", "tampered-payload", "tampered-signature", "unknown-kid", "no-kid",
    "kid-path", "kid-nul", "kid-long", "kid-number", "alg-none", "alg-hs256-public-key",
    "other-issuer", "no-issuer", "other-audience", "other-type", "other-customer-token",
    "customer-of-other-user", "unknown-user", "no-expiry",
]  # fmt: skip


@pytest.fixture(scope="module")
def forged(api: Api):
    return _forged(api)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("kind", FORGED)
def test_invalid_token(api: Api, forged, version, kind):
    r = api.extsum(f"pbxId=acme&{NY_DAY}", version=version, token=forged[kind])
    assert r.status_code == 401, r.text
    assert r.content == INVALID_TOKEN


def test_forgeries_differ_from_a_genuine_token_only_where_they_say(api: Api):
    # The control: the same construction with nothing changed is accepted, so the refusals
    # above are about what each forgery changed.
    kid, key = signing_key(api)
    token = jwt.encode(claims_for(api, "alice"), key, "RS256", {"kid": kid})
    assert api.extsum(f"pbxId=acme&{NY_DAY}", token=token).status_code == 200


@pytest.mark.parametrize("version", VERSIONS)
def test_token_of_another_customer_than_the_key(api: Api, tok, version):
    q = f"pbxId=allpbxes&{NY_DAY}"
    r = api.extsum(q, version=version, token=tok["carol"], key="default")
    assert (r.status_code, r.content) == (401, INVALID_TOKEN)
    r = api.extsum(q, version=version, token=tok["alice"], key="other")
    assert (r.status_code, r.content) == (401, INVALID_TOKEN)


# --- extsum: 403 --------------------------------------------------------------------------------


def access_denied(user: str, pbx: str, path: str) -> bytes:
    text = f"user({user}) does not have access to pbxId({pbx}) to make this request."
    return compact(
        {"timeStamp": STAMP, "status": 403, "error": "Access Denied", "exception": text,
         "message": text, "path": path}
    )  # fmt: skip


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "user,pbx_param,named",
    [
        ("bob", "beta", "beta"),
        ("bob", "nosuch", "nosuch"),
        ("bob", "acme,beta", "beta"),
        ("bob", "acme,%20nosuch", "nosuch"),
        ("alice", "other1", "other1"),
        ("alice", "nosuch", "nosuch"),
        ("alice", "ACME", "ACME"),
        ("carol", "acme", "acme"),
    ],
)
def test_pbx_not_visible_or_not_existing(api: Api, tok, version, user, pbx_param, named):
    key = "other" if user == "carol" else "default"
    path = EXTSUM_V2 if version == 2 else EXTSUM_V1
    r = api.extsum(f"pbxId={pbx_param}&{NY_DAY}", version=version, token=tok[user], key=key)
    assert r.status_code == 403
    assert r.headers["content-type"] == "application/json"
    assert r.content == access_denied(user, named, path)


def test_403_stamp_follows_the_clock(api: Api):
    with api.clock.moved_to(datetime(2026, 11, 28, 17, 5, 11, 224_000, tzinfo=UTC).timestamp()):
        r = api.extsum(f"pbxId=beta&{NY_DAY}", token=api.token("bob"))
    assert r.status_code == 403
    assert r.json()["timeStamp"] == "2026-11-28T17:05:11.224+0000"


# --- extsum: INVALID_PARAMETER ----------------------------------------------------------------

GOOD = {
    "pbxId": "acme",
    "startTime": "2026-03-01%2000:00:00",
    "endTime": "2026-03-01%2023:59:59",
    "timeZone": "America/New_York",
}


def _with(**changes) -> str:
    """The good query with parameters replaced (a value) or left out (None)."""
    params = {**GOOD, **changes}
    return "&".join(f"{k}={v}" for k, v in params.items() if v is not None)


PARAMETER_CASES = [
    # (id, query, name, message, hint, missing)
    ("no-query", "", "pbxId", "pbxId is required", PBX_HINT, True),
    ("pbx-absent", _with(pbxId=None), "pbxId", "pbxId is required", PBX_HINT, True),
    ("pbx-empty", _with(pbxId=""), "pbxId", "pbxId is required", PBX_HINT, True),
    ("pbx-blank", _with(pbxId="%20%20"), "pbxId", "pbxId is required", PBX_HINT, True),
    ("pbx-commas", _with(pbxId=",%20,"), "pbxId", "pbxId names no PBX", PBX_HINT, False),
    ("start-absent", _with(startTime=None), "startTime", "startTime is required", TIME_HINT, True),
    ("start-empty", _with(startTime=""), "startTime", "startTime is required", TIME_HINT, True),
    ("start-date-only", _with(startTime="2026-03-01"), "startTime", "startTime is malformed",
     TIME_HINT, False),
    ("start-iso-t", _with(startTime="2026-03-01T00:00:00"), "startTime", "startTime is malformed",
     TIME_HINT, False),
    ("start-no-seconds", _with(startTime="2026-03-01%2000:00"), "startTime",
     "startTime is malformed", TIME_HINT, False),
    ("start-us-date", _with(startTime="03/01/2026%2000:00:00"), "startTime",
     "startTime is malformed", TIME_HINT, False),
    ("start-epoch", _with(startTime="1772341200"), "startTime", "startTime is malformed",
     TIME_HINT, False),
    ("start-feb-30", _with(startTime="2026-02-30%2000:00:00"), "startTime",
     "startTime is not a valid date and time", TIME_HINT, False),
    ("start-hour-25", _with(startTime="2026-03-01%2025:00:00"), "startTime",
     "startTime is not a valid date and time", TIME_HINT, False),
    ("end-absent", _with(endTime=None), "endTime", "endTime is required", TIME_HINT, True),
    ("end-empty", _with(endTime=""), "endTime", "endTime is required", TIME_HINT, True),
    ("end-malformed", _with(endTime="tomorrow"), "endTime", "endTime is malformed", TIME_HINT,
     False),
    ("end-month-13", _with(endTime="2026-13-01%2000:00:00"), "endTime",
     "endTime is not a valid date and time", TIME_HINT, False),
    ("end-9999", _with(endTime="9999-12-31%2023:59:59"), "endTime", "endTime is out of range",
     TIME_HINT, False),
    ("start-year-1-east", _with(startTime="0001-01-01%2000:00:00", timeZone="Asia/Tokyo"),
     "startTime", "startTime is out of range", TIME_HINT, False),
    ("end-before-start", _with(endTime="2026-02-28%2023:59:59"), "endTime",
     "endTime is before startTime", "expected endTime >= startTime", False),
    ("zone-absent", _with(timeZone=None), "timeZone", "timeZone is required", ZONE_HINT, True),
    ("zone-empty", _with(timeZone=""), "timeZone", "timeZone is required", ZONE_HINT, True),
    ("zone-unknown", _with(timeZone="Mars/Olympus_Mons"), "timeZone",
     "timeZone is not a known time zone", ZONE_HINT, False),
    ("zone-offset", _with(timeZone="%2B05:00"), "timeZone", "timeZone is not a known time zone",
     ZONE_HINT, False),
    ("zone-lowercase", _with(timeZone="america/new_york"), "timeZone",
     "timeZone is not a known time zone", ZONE_HINT, False),
    ("zone-path", _with(timeZone="../../etc/passwd"), "timeZone",
     "timeZone is not a known time zone", ZONE_HINT, False),
    ("all-absent-but-pbx", "pbxId=acme", "startTime", "startTime is required", TIME_HINT, True),
]  # fmt: skip


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "query,name,message,hint,missing",
    [c[1:] for c in PARAMETER_CASES],
    ids=[c[0] for c in PARAMETER_CASES],
)
def test_invalid_parameter(api: Api, tok, version, query, name, message, hint, missing):
    r = api.extsum(query, version=version, token=tok["alice"])
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/json"
    assert r.content == invalid_parameter(name, message, hint, missing=missing)


def test_the_good_query_of_the_parameter_table_is_good(api: Api, tok):
    r = api.extsum(_with(), token=tok["alice"])
    assert r.status_code == 200
    assert r.content == engine(api, ["acme"], *WINDOWS[0])


def test_parameters_are_checked_after_authentication(api: Api):
    r = api.extsum("", key="nope")
    assert (r.status_code, r.content) == (400, SHA001)
    r = api.extsum("")
    assert (r.status_code, r.content) == (401, UNAUTHORIZED)


# --- keys, users ------------------------------------------------------------------------------


def test_key_rotation_keeps_old_tokens_and_signs_new_ones_with_the_new_key(api: Api, tok):
    old_token = tok["alice"]
    old_kid = jwt.get_unverified_header(old_token)["kid"]
    new_kid = api.svc.keys.rotate()
    assert new_kid != old_kid
    q = f"pbxId=acme&{NY_DAY}"
    r = api.extsum(q, token=old_token)
    assert r.status_code == 200
    new_token = api.token("alice")
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid
    r2 = api.extsum(q, token=new_token)
    assert r2.status_code == 200
    assert r2.content == r.content


def test_a_disabled_users_token_stops_working(api: Api):
    token = api.token("dave")
    q = f"pbxId=acme&{NY_DAY}"
    assert api.extsum(q, token=token).status_code == 200
    api.svc.control.set_user_disabled("dave", True)
    for version in (1, 2):
        r = api.extsum(q, version=version, token=token)
        assert (r.status_code, r.content) == (401, INVALID_TOKEN)
    r = api.login("dave", "dave-pw-4")
    assert (r.status_code, r.content) == (400, INVALID_GRANT)


def test_a_changed_password_makes_the_old_one_fail(api: Api):
    assert api.login("erin", "erin-pw-5").status_code == 200
    api.svc.control.set_password("erin", "erin-new-pw")
    r = api.login("erin", "erin-pw-5")
    assert (r.status_code, r.content) == (400, INVALID_GRANT)
    assert api.login("erin", "erin-new-pw").status_code == 200


# --- the document and the probes ------------------------------------------------------------


def _app_operations(app) -> set[tuple[str, str]]:
    """(path, method) of every route the app serves and documents, flattened from app.routes."""
    ops = set()
    for route in app.routes:
        contexts = (
            route.effective_route_contexts()
            if hasattr(route, "effective_route_contexts")
            else [route]
        )
        for r in contexts:
            original = getattr(r, "original_route", r)
            if not getattr(r, "include_in_schema", False):
                continue
            for method in getattr(original, "methods", ()) or ():
                if method != "HEAD":
                    ops.add((r.path, method.lower()))
    return ops


@pytest.fixture(scope="module")
def openapi(api: Api) -> dict:
    r = api.client.get("/analytics/work/openapi.json")
    assert r.status_code == 200
    return r.json()


def test_openapi_paths_are_the_apps_routes(api: Api, openapi):
    documented = {(p, m) for p, item in openapi["paths"].items() for m in item}
    assert documented == _app_operations(api.app)
    assert {p for p, _ in documented} == {
        "/analytics/work/v1/oauth/token", "/analytics/work/v2/extsum", "/analytics/work/v1/extsum",
        "/analytics/work/admin/v1/legs", "/healthz", "/readyz",
    }  # fmt: skip


def test_every_documented_operation_is_served(api: Api, openapi):
    for path, item in openapi["paths"].items():
        for method in item:
            r = api.client.request(method.upper(), path)
            assert r.status_code not in (404, 405), (method, path)


@pytest.mark.parametrize("path", [EXTSUM_V2, EXTSUM_V1])
def test_openapi_extsum_declares_parameters_and_security(openapi, path):
    op = openapi["paths"][path]["get"]
    params = {p["name"]: p for p in op["parameters"]}
    assert set(params) == {"pbxId", "startTime", "endTime", "timeZone"}
    assert all(p["in"] == "query" and p["required"] is True for p in params.values())
    schemes = openapi["components"]["securitySchemes"]
    # Both are needed together: one requirement object naming both schemes (OpenAPI reads a
    # list of objects as alternatives).
    assert len(op["security"]) == 1
    named = {schemes[name]["type"]: schemes[name] for name in op["security"][0]}
    assert named["apiKey"]["in"] == "header"
    assert named["apiKey"]["name"] == "8x8-apikey"
    assert named["http"]["scheme"] == "bearer"
    assert set(op["responses"]) == {"200", "400", "401", "403"}


def test_openapi_token_endpoint(openapi):
    op = openapi["paths"][TOKEN_PATH]["post"]
    schemes = openapi["components"]["securitySchemes"]
    assert [schemes[n] for req in op["security"] for n in req] == [
        {"type": "apiKey", "in": "header", "name": "8x8-apikey"}
    ]
    form = op["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    if "$ref" in form:
        form = openapi["components"]["schemas"][form["$ref"].rsplit("/", 1)[1]]
    assert {"username", "password"} <= set(form["properties"])
    assert set(op["responses"]) == {"200", "400", "429"}


def test_openapi_references_resolve(openapi):
    refs = set()

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.add(node["$ref"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(openapi)
    schemas = openapi.get("components", {}).get("schemas", {})
    for ref in refs:
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas, ref


def test_docs_page_works_offline(api: Api):
    r = api.client.get("/analytics/work/docs")
    assert r.status_code == 200
    assert "text/html" in r.headers["content-type"]
    assert "/analytics/work/openapi.json" in r.text
    # Every script and style the page loads is served by us, not by a CDN.
    assets = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    assert assets
    for url in assets:
        assert url.startswith("/analytics/work/docs-assets/"), url
        asset = api.client.get(url)
        assert asset.status_code == 200 and len(asset.content) > 100, url


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_probes(api: Api, path):
    r = api.client.get(path)
    assert (r.status_code, r.content) == (200, b'{"status":"ok"}')
