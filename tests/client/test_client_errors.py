"""Every error class, raised by the client from our real server's answers.

The bodies are compared byte for byte with what the server sent (the constants of
``test_api_contract.py``, restated here), so the client's errors carry the raw answer.
"""

from __future__ import annotations

import pytest

from workanalytics.auth.throttle import ThrottleLimits
from workanalytics.client import (
    AccessDeniedError,
    APIConnectionError,
    APIError,
    AuthenticationError,
    InvalidApiKeyError,
    InvalidGrantError,
    InvalidParameterError,
    InvalidTokenError,
    RateLimitedError,
    RetryPolicy,
    ServerError,
    TokenExpiredError,
    WorkAnalyticsError,
)
from workanalytics.client.errors import error_from_response, parse_retry_after

from apiserver import SHA001, Api, KeySpec, UserSpec
from clientkit import DAY, CountingTransport, api_url, client_for, closed_port_url, start_server

INVALID_GRANT = b'{"error_description":"USER_NOTFOUND_ERROR","error":"invalid_grant"}'
INVALID_REQUEST = (
    b'{"error":"invalid_request","error_description":"username and password are required"}'
)
EXPIRED_TOKEN = b'{"error":"invalid_token","error_description":"Access token expired"}'
INVALID_TOKEN = b'{"error":"invalid_token","error_description":"Invalid access token"}'
MALFORMED_TOKEN = (
    b'{"error":"invalid_token","error_description":"Cannot convert access token to JSON"}'
)
UNAUTHORIZED = (
    b'{"error":"unauthorized","error_description":'
    b'"Full authentication is required to access this resource"}'
)
SERVER_ERROR = b'{"status":500,"error":"Internal Server Error"}'


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    a = start_server(
        tmp_path_factory.mktemp("errors"),
        keys=(KeySpec("default"), KeySpec("revocable")),
        users=(
            UserSpec("alice", "alice-pw-1", all_pbxes=True),
            UserSpec("bob", "bob-pw-2", pbxes=("acme",)),
            UserSpec("dave", "dave-pw-4", all_pbxes=True),
        ),
    )
    yield a
    a.stop()


def one_line(exc: WorkAnalyticsError) -> str:
    text = str(exc)
    assert text and "\n" not in text
    return text


# --- authentication ------------------------------------------------------------------------


def test_invalid_api_key_at_login(api: Api):
    t = CountingTransport()
    with (
        client_for(api, api_key="no-such-key", transport=t) as c,
        pytest.raises(InvalidApiKeyError) as e,
    ):
        c.extension_summary("acme", *DAY)
    assert (e.value.status, e.value.code, e.value.body) == (400, "SHA001", SHA001)
    assert isinstance(e.value, AuthenticationError)
    assert "SHA001" in one_line(e.value)
    assert (t.logins(), t.reports()) == (1, 0)  # a 400 is not retried


def test_invalid_api_key_on_the_report_after_revocation(api: Api):
    with client_for(api, api_key=api.keys["revocable"]) as c:
        c.extension_summary("acme", *DAY)
        api.svc.control.revoke_api_key(api.key_ids["revocable"])
        with pytest.raises(InvalidApiKeyError) as e:
            c.extension_summary("acme", *DAY)
    assert (e.value.status, e.value.body) == (400, SHA001)


def test_invalid_grant_for_a_wrong_password(api: Api):
    with client_for(api, password="wrong") as c, pytest.raises(InvalidGrantError) as e:
        c.extension_summary("acme", *DAY)
    assert (e.value.status, e.value.code, e.value.body) == (400, "invalid_grant", INVALID_GRANT)
    assert "USER_NOTFOUND_ERROR" in one_line(e.value)


def test_an_empty_password_is_the_servers_invalid_request(api: Api):
    with client_for(api, password="") as c, pytest.raises(InvalidGrantError) as e:
        c.access_token()
    assert (e.value.status, e.value.code, e.value.body) == (400, "invalid_request", INVALID_REQUEST)


def test_token_expired_even_after_one_new_login(api: Api):
    """The server's clock jumps past expiry after every login, so each new token is already
    expired when used: the client logs in again once, then raises the server's 401."""

    def age_tokens(request, response):
        if request.url.path.endswith("/oauth/token"):
            api.clock.advance(2000)

    before = api.clock()
    t = CountingTransport(after=age_tokens)
    try:
        with client_for(api, transport=t) as c, pytest.raises(TokenExpiredError) as e:
            c.extension_summary("acme", *DAY)
    finally:
        api.clock.set(before)
    assert (e.value.status, e.value.code, e.value.body) == (401, "invalid_token", EXPIRED_TOKEN)
    assert (t.logins(), t.reports()) == (2, 2)


def test_invalid_token_even_after_one_new_login(api: Api):
    """After every login the server's signing key is rotated and the old one removed (as
    `keys rotate` does once tokens could have expired), so each token is refused as
    invalid; one new login, then the server's 401."""
    keys = api.svc.keys

    def retire_signer(request, response):
        if request.url.path.endswith("/oauth/token"):
            old = keys.active_kid()
            keys.rotate()
            (keys.store.directory / f"{old}.retired").write_text("0")
            keys.prune()

    t = CountingTransport(after=retire_signer)
    with client_for(api, transport=t) as c, pytest.raises(InvalidTokenError) as e:
        c.extension_summary("acme", *DAY)
    assert not isinstance(e.value, TokenExpiredError)
    assert (e.value.status, e.value.code, e.value.body) == (401, "invalid_token", INVALID_TOKEN)
    assert (t.logins(), t.reports()) == (2, 2)


def test_a_disabled_users_refused_token_and_refused_login(api: Api):
    with client_for(api, user="dave") as c:
        c.extension_summary("acme", *DAY)
        api.svc.control.set_user_disabled("dave", True)
        try:
            with pytest.raises(InvalidGrantError):  # 401 invalid, then the new login fails
                c.extension_summary("acme", *DAY)
        finally:
            api.svc.control.set_user_disabled("dave", False)


# --- the report ------------------------------------------------------------------------------


def test_access_denied_names_the_pbx_and_the_user(api: Api):
    with client_for(api, user="bob") as c, pytest.raises(AccessDeniedError) as e:
        c.extension_summary(["acme", "beta"], *DAY)
    assert (e.value.status, e.value.pbx_id, e.value.username) == (403, "beta", "bob")
    body = e.value.json
    assert body["error"] == "Access Denied" and body["path"] == "/analytics/work/v2/extsum"
    assert "pbxId(beta)" in one_line(e.value)


@pytest.mark.parametrize(
    ("pbx", "start", "end", "parameter", "kind"),
    [
        ([], DAY[0], DAY[1], "pbxId", "missingValue"),
        (" , ", DAY[0], DAY[1], "pbxId", "invalidValue"),
        ("acme", "2026-03-02 00:00:00", "2026-03-01 23:59:59", "endTime", "invalidValue"),
    ],
)
def test_invalid_parameter_from_the_server(api: Api, pbx, start, end, parameter, kind):
    t = CountingTransport()
    with client_for(api, transport=t) as c, pytest.raises(InvalidParameterError) as e:
        c.extension_summary(pbx, start, end, DAY[2])
    assert (e.value.status, e.value.code, e.value.parameter) == (
        400,
        "INVALID_PARAMETER",
        parameter,
    )
    assert e.value.json["details"][0]["type"] == kind
    assert e.value.json["details"][0]["path"] == [parameter]
    assert t.reports() == 1
    one_line(e.value)


@pytest.mark.parametrize(
    ("start", "zone", "parameter"),
    [
        ("2026-03-01T00:00:00", "America/New_York", "startTime"),
        ("2026-02-30 00:00:00", "America/New_York", "startTime"),
        ("2026-03-01 00:00:00", "Mars/Olympus", "timeZone"),
        ("2026-03-01 00:00:00", "../../etc/passwd", "timeZone"),
    ],
)
def test_invalid_parameter_refused_before_sending(api: Api, start, zone, parameter):
    t = CountingTransport()
    with client_for(api, transport=t) as c, pytest.raises(InvalidParameterError) as e:
        c.extension_summary("acme", start, "2026-03-01 23:59:59", zone)
    assert (e.value.status, e.value.parameter) == (None, parameter)
    assert isinstance(e.value, ValueError)
    assert t.paths.total() == 0


def test_server_error_after_the_retries(api: Api, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the store fell over")

    monkeypatch.setattr(api.svc.store, "extension_summary_json", broken)
    waits: list[float] = []
    t = CountingTransport(keepalive=False)  # uvicorn closes its connection after the error
    with (
        client_for(
            api, transport=t, sleep=waits.append, retry=RetryPolicy(max_retries=2, backoff=0.25)
        ) as c,
        pytest.raises(ServerError) as e,
    ):
        c.extension_summary("acme", *DAY)
    assert (e.value.status, e.value.body) == (500, SERVER_ERROR)
    assert t.reports() == 3 and len(waits) == 2
    assert 0.125 <= waits[0] <= 0.25 and 0.25 <= waits[1] <= 0.5  # backoff with jitter
    assert "HTTP 500" in one_line(e.value)


def test_connection_error_after_the_retries(api: Api):
    waits: list[float] = []
    c = client_for(api, url=closed_port_url(), sleep=waits.append)
    with c, pytest.raises(APIConnectionError) as e:
        c.extension_summary("acme", *DAY)
    assert e.value.status is None and len(waits) == 2
    assert "3 attempts" in one_line(e.value)


# --- rate limiting: the server throttles logins ----------------------------------------------


@pytest.fixture
def throttled(tmp_path):
    a = start_server(
        tmp_path,
        legs=[],
        users=(UserSpec("alice", "alice-pw-1", all_pbxes=True),),
        throttle_limits=ThrottleLimits(per_username=2, per_address=1000, window_s=300),
    )
    yield a
    a.stop()


def test_rate_limited_when_the_wait_is_longer_than_the_policy_allows(throttled: Api):
    waits: list[float] = []
    with client_for(throttled, password="wrong", sleep=waits.append) as c:
        for _ in range(2):
            with pytest.raises(InvalidGrantError):
                c.access_token()
        with pytest.raises(RateLimitedError) as e:
            c.access_token()
    assert (e.value.status, e.value.code) == (429, "too_many_requests")
    assert e.value.retry_after == 300 and waits == []  # 300 s > max_retry_after: not waited
    assert e.value.json["error"] == "too_many_requests"
    assert one_line(e.value) == "rate limited (HTTP 429): too many failed logins; retry after 300 s"


def test_a_throttled_login_is_retried_after_the_servers_retry_after(throttled: Api):
    with client_for(throttled, password="wrong") as bad:
        for _ in range(2):
            with pytest.raises(InvalidGrantError):
                bad.access_token()
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # waiting moves the server's clock, not ours
        waits.append(seconds)
        throttled.clock.advance(seconds)

    t = CountingTransport()
    policy = RetryPolicy(max_retries=1, max_retry_after=600)
    with client_for(throttled, sleep=sleep, retry=policy, transport=t) as good:
        assert good.extension_summary("acme", *DAY) == []
    assert waits == [300] and t.logins() == 2


# --- the mapping itself, on bodies the real server sends ---------------------------------------


def test_each_body_the_server_sends_maps_to_its_class(api: Api):
    token = api.token("alice")
    good = "pbxId=acme&startTime=2026-03-01%2000:00:00&endTime=2026-03-01%2023:59:59&timeZone=UTC"
    cases = [
        (api.extsum(good, key="nope", token=token), InvalidApiKeyError),
        (api.extsum(good), InvalidTokenError),  # no Authorization
        (api.extsum(good, token="garbage"), InvalidTokenError),
        (api.extsum(good.replace("acme", "nosuch"), token=token), AccessDeniedError),
        (api.extsum(good.replace("UTC", "Nowhere"), token=token), InvalidParameterError),
        (api.login("alice", "wrong"), InvalidGrantError),
        (api.login("alice", None), InvalidGrantError),
        (api.get("/analytics/work/v9/nothing"), APIError),
    ]
    bodies = {UNAUTHORIZED, MALFORMED_TOKEN}
    for response, cls in cases:
        err = error_from_response(response.status_code, response.content, response.headers)
        assert type(err) is cls, (response.status_code, response.content)
        assert (err.status, err.body) == (response.status_code, response.content)
        bodies.discard(response.content)
        one_line(err)
    assert not bodies  # both 401 bodies were seen


def test_unknown_answers_still_become_errors():
    assert type(error_from_response(502, b"<html>bad gateway</html>")) is ServerError
    assert type(error_from_response(418, b"")) is APIError
    limited = error_from_response(429, b"", {"retry-after": "7"})
    assert type(limited) is RateLimitedError and limited.retry_after == 7


def test_retry_after_as_an_http_date():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert parse_retry_after("soon") is None and parse_retry_after("-3") == 0.0


def test_the_base_url_is_kept_in_errors(api: Api):
    with client_for(api, user="bob") as c, pytest.raises(AccessDeniedError) as e:
        c.extension_summary("beta", *DAY)
    assert e.value.url == api_url(api) + "/v2/extsum"
