"""The asyncio twin against our real server: same answers, one login, bounded concurrency."""

from __future__ import annotations

import asyncio
import inspect

import httpx
import pytest

from workanalytics.client import AccessDeniedError, AsyncClient, Client, TokenExpiredError

from apiserver import Api
from clientkit import DAY, InFlightTransport, api_url, raw_extsum, start_server


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    a = start_server(tmp_path_factory.mktemp("async"))
    yield a
    a.stop()


def async_client(api: Api, user: str = "alice", **kw) -> AsyncClient:
    return AsyncClient(
        api_url(api),
        api_key=api.keys["default"],
        username=user,
        password=api.users[user].password,
        **kw,
    )


class CountingAsyncTransport(httpx.AsyncHTTPTransport):
    """A real transport that records (last path segment, status), and may act after each."""

    def __init__(self, after=None):
        super().__init__()
        self.seen: list[tuple[str, int]] = []
        self.after = after

    async def handle_async_request(self, request):
        response = await super().handle_async_request(request)
        self.seen.append((request.url.path.rsplit("/", 1)[-1], response.status_code))
        if self.after is not None:
            self.after(request)
        return response


def test_the_twins_have_the_same_methods():
    public = {n for n in dir(Client) if not n.startswith("_")} - {"close"}
    assert public <= {n for n in dir(AsyncClient) if not n.startswith("_")}
    for name in ("extension_summary", "extension_summary_series", "access_token"):
        assert inspect.iscoroutinefunction(getattr(AsyncClient, name))
        sync_params = list(inspect.signature(getattr(Client, name)).parameters)
        assert list(inspect.signature(getattr(AsyncClient, name)).parameters) == sync_params
    # one constructor, every setting visible in it
    params = inspect.signature(Client).parameters
    assert params == inspect.signature(AsyncClient).parameters
    assert list(params)[:4] == ["base_url", "api_key", "username", "password"]
    assert {"retry", "token_cache", "transport", "sleep", "clock", "concurrency"} <= set(params)


@pytest.mark.parametrize("version", [2, 1])
def test_rows_are_the_apis_answer(api: Api, version):
    async def run():
        async with async_client(api) as c:
            return await c.extension_summary(["acme", "beta"], *DAY, version=version)

    rows = asyncio.run(run())
    assert [r.to_dict() for r in rows] == raw_extsum(api, "acme,beta", *DAY, version=version)


def test_concurrent_calls_share_one_login(api: Api):
    t = CountingAsyncTransport()

    async def run():
        async with async_client(api, transport=t) as c:
            return await asyncio.gather(*(c.extension_summary("acme", *DAY) for _ in range(5)))

    results = asyncio.run(run())
    assert all(r == results[0] for r in results)
    assert t.seen.count(("token", 200)) == 1 and t.seen.count(("extsum", 200)) == 5


def test_a_series_keeps_at_most_concurrency_requests_in_flight(api: Api):
    t = InFlightTransport(delay=0.05)

    async def run():
        async with async_client(api, transport=t) as c:
            await c.access_token()
            return await c.extension_summary_series(
                "acme", "2026-02-20 00:00:00", "2026-03-03 23:59:59", "America/New_York",
                every="day", concurrency=3,
            )  # fmt: skip

    rows = asyncio.run(run())
    assert t.most == 3  # reached, never passed
    assert {r.period.label for r in rows} >= {"2026-03-01"}


def test_a_token_the_server_calls_expired_is_renewed_once(api: Api):
    t = CountingAsyncTransport()

    async def run():
        async with async_client(api, transport=t) as c:
            await c.extension_summary("acme", *DAY)
            with api.clock.moved_to(api.clock() + 3600):
                return await c.extension_summary("acme", *DAY)

    asyncio.run(run())
    assert t.seen == [
        ("token", 200),
        ("extsum", 200),
        ("extsum", 401),
        ("token", 200),
        ("extsum", 200),
    ]


def test_an_error_in_a_series_is_raised_and_the_rest_cancelled(api: Api):
    async def run():
        async with async_client(api, user="bob") as c:
            return await c.extension_summary_series(
                "beta", "2026-02-01 00:00:00", "2026-03-01 23:59:59", "UTC", concurrency=2
            )

    with pytest.raises(AccessDeniedError) as e:
        asyncio.run(run())
    assert e.value.pbx_id == "beta"


def test_errors_are_the_same_classes(api: Api):
    def age_tokens(request):  # every token is expired by the time it is used
        if request.url.path.endswith("/oauth/token"):
            api.clock.advance(4000)

    t = CountingAsyncTransport(after=age_tokens)

    async def run():
        async with async_client(api, transport=t) as c:
            await c.extension_summary("acme", *DAY)

    before = api.clock()
    try:
        with pytest.raises(TokenExpiredError) as e:
            asyncio.run(run())
    finally:
        api.clock.set(before)
    assert e.value.status == 401 and t.seen.count(("token", 200)) == 2
