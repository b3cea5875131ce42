"""Retries: 429 with Retry-After, 5xx with backoff, connection failures, all bounded.

The faults come from :class:`clientkit.FaultInjector`, a small ASGI wrapper in front of our
real application served by uvicorn on loopback: it answers the first requests itself and
then lets the real server answer.
"""

from __future__ import annotations

import asyncio

import pytest

from workanalytics.client import (
    NO_RETRIES,
    APIConnectionError,
    AsyncClient,
    InvalidParameterError,
    RateLimitedError,
    RetryPolicy,
    ServerError,
)

from apiserver import Api
from clientkit import (
    DAY,
    CountingTransport,
    api_url,
    client_for,
    closed_port_url,
    faulty,
    raw_extsum,
    start_server,
)


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    a = start_server(tmp_path_factory.mktemp("retry"))
    yield a
    a.stop()


def test_429_with_retry_after_then_200(api: Api):
    waits: list[float] = []
    with (
        faulty(api, times=2, status=429, retry_after="2") as (url, injector),
        client_for(api, url=url, sleep=waits.append) as c,
    ):
        rows = c.extension_summary("acme", *DAY)
    assert waits == [2.0, 2.0]  # exactly what the server asked, no jitter
    assert len(injector.seen) == 3  # two refused, the third answered by the real app
    assert [r.to_dict() for r in rows] == raw_extsum(api, "acme", *DAY)


def test_429_on_the_login_is_retried_too(api: Api):
    waits: list[float] = []
    with (
        faulty(api, suffix="/oauth/token", times=1, status=429, retry_after="1") as (url, inj),
        client_for(api, url=url, sleep=waits.append) as c,
    ):
        c.extension_summary("acme", *DAY)
    assert waits == [1.0] and len(inj.seen) == 2


def test_the_retries_are_bounded(api: Api):
    waits: list[float] = []
    policy = RetryPolicy(max_retries=3)
    with faulty(api, times=100, status=429, retry_after="1") as (url, injector):
        c = client_for(api, url=url, sleep=waits.append, retry=policy)
        with c, pytest.raises(RateLimitedError) as e:
            c.extension_summary("acme", *DAY)
    assert waits == [1.0, 1.0, 1.0] and len(injector.seen) == 4
    assert (e.value.status, e.value.retry_after) == (429, 1.0)


def test_a_retry_after_beyond_the_policys_limit_is_not_waited_for(api: Api):
    waits: list[float] = []
    with faulty(api, times=1, status=429, retry_after="3600") as (url, injector):
        c = client_for(api, url=url, sleep=waits.append)
        with c, pytest.raises(RateLimitedError) as e:
            c.extension_summary("acme", *DAY)
    assert waits == [] and len(injector.seen) == 1 and e.value.retry_after == 3600


def test_503_backs_off_exponentially_with_jitter(api: Api):
    waits: list[float] = []
    policy = RetryPolicy(
        max_retries=4, backoff=1.0, max_backoff=3.0, jitter=0.5, random=lambda: 0.5
    )
    with faulty(api, times=3, status=503, retry_after=None) as (url, injector):
        c = client_for(api, url=url, sleep=waits.append, retry=policy)
        with c:
            c.extension_summary("acme", *DAY)
    # 1, 2, then 4 capped at 3; each scaled by (1 - 0.5 * 0.5)
    assert waits == [0.75, 1.5, 2.25] and len(injector.seen) == 4


def test_a_503_that_persists_is_a_server_error(api: Api):
    with faulty(api, times=100, status=503, retry_after=None) as (url, _):
        c = client_for(api, url=url, retry=RetryPolicy(max_retries=1))
        with c, pytest.raises(ServerError) as e:
            c.extension_summary("acme", *DAY)
    assert e.value.status == 503


def test_no_retries_when_disabled(api: Api):
    waits: list[float] = []
    with faulty(api, times=1, status=429, retry_after="1") as (url, injector):
        c = client_for(api, url=url, sleep=waits.append, retry=NO_RETRIES)
        with c, pytest.raises(RateLimitedError):
            c.extension_summary("acme", *DAY)
    assert waits == [] and len(injector.seen) == 1


def test_a_client_error_is_not_retried(api: Api):
    t = CountingTransport()
    waits: list[float] = []
    with (
        client_for(api, transport=t, sleep=waits.append) as c,
        pytest.raises(InvalidParameterError),
    ):
        c.extension_summary("acme", "2026-03-02 00:00:00", "2026-03-01 00:00:00", "UTC")
    assert t.reports() == 1 and waits == []


def test_connection_failures_are_retried_then_raised():
    waits: list[float] = []
    policy = RetryPolicy(max_retries=3, backoff=0.1, jitter=0.0)
    from workanalytics.client import Client

    url = api_url(closed_port_url())
    with (
        Client(url, api_key="k", username="u", password="p", retry=policy, sleep=waits.append) as c,
        pytest.raises(APIConnectionError) as e,
    ):
        c.access_token()
    assert waits == [0.1, 0.2, 0.4]
    assert "4 attempts" in str(e.value) and e.value.url == url + "/v1/oauth/token"


def test_the_async_client_follows_the_same_policy(api: Api):
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def run(url: str):
        async with AsyncClient(
            url, api_key=api.keys["default"], username="alice", password="alice-pw-1", sleep=sleep
        ) as c:
            return await c.extension_summary("acme", *DAY)

    with faulty(api, times=2, status=429, retry_after="2") as (url, injector):
        rows = asyncio.run(run(api_url(url)))
    assert waits == [2.0, 2.0] and len(injector.seen) == 3
    assert [r.to_dict() for r in rows] == raw_extsum(api, "acme", *DAY)


@pytest.mark.parametrize("retry", [1, 2, 3, 5, 9])
def test_backoff_bounds(retry):
    low = RetryPolicy(backoff=0.5, max_backoff=8, jitter=0.5, random=lambda: 0.999999)
    high = RetryPolicy(backoff=0.5, max_backoff=8, jitter=0.5, random=lambda: 0.0)
    base = min(8, 0.5 * 2 ** (retry - 1))
    assert base / 2 <= low.backoff_for(retry) <= high.backoff_for(retry) == base


def test_policy_validation():
    with pytest.raises(ValueError):
        RetryPolicy(max_retries=-1)
    with pytest.raises(ValueError):
        RetryPolicy(jitter=2)


def test_an_answer_then_a_dropped_connection_reports_the_answer():
    """500, then the connection drops on the last attempt (uvicorn closes its connection
    after an unhandled error, which races with a pooled request): the error raised is the
    server's 500, not "no answer". A mock transport, since the real server cannot drop the
    connection on cue."""
    import httpx

    from workanalytics.client import Client

    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path.endswith("/oauth/token"):
            return httpx.Response(200, json={"access_token": "t", "expires_in": 1800})
        if len(calls) == 2:
            return httpx.Response(500, content=b'{"status":500,"error":"Internal Server Error"}')
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.")

    c = Client(
        "http://test/analytics/work", api_key="k", username="u", password="p",
        transport=httpx.MockTransport(handler), sleep=lambda s: None,
        retry=RetryPolicy(max_retries=1),
    )  # fmt: skip
    with c, pytest.raises(ServerError) as e:
        c.extension_summary("acme", *DAY)
    assert e.value.status == 500 and len(calls) == 3
