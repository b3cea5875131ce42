"""Helpers for the client tests: our real server, a fault-injecting wrapper around it, and
transports that count or watch what the client sends.

Every server here is the real application (``workanalytics.api.app.create_app``) on
uvicorn over loopback, filled by ``apiserver.start_api``. The only thing ever put in front
of it is :class:`FaultInjector`, which answers the first requests of a path itself (429 with
``Retry-After``, or 503) and then lets everything through.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode

import httpx
import uvicorn

from workanalytics.api.app import create_app
from workanalytics.auth.throttle import ThrottleLimits
from workanalytics.client import Client, RetryPolicy

from apiserver import BASE, Api, KeySpec, UserSpec, sample_legs, start_api

USERS = (
    UserSpec("alice", "alice-pw-1", all_pbxes=True),
    UserSpec("bob", "bob-pw-2", pbxes=("acme",)),
    UserSpec("carol", "carol-pw-3", all_pbxes=True),
)
KEYS = (KeySpec("default"), KeySpec("spare"))
DIRECTORY = [
    {"pbx_id": "acme", "extension": "100", "service_type": "UE", "first_name": "Jane",
     "last_name": "Li", "branch": "HQ", "department": "Sales", "email": "jane@acme.test",
     "username": "jli"},
    {"pbx_id": "acme", "extension": "101", "service_type": "RG", "first_name": "Sales",
     "last_name": "Group"},
]  # fmt: skip
#: The New York day of 1 March 2026, where sample_legs puts most legs.
DAY = ("2026-03-01 00:00:00", "2026-03-01 23:59:59", "America/New_York")


def start_server(tmp: Path, *, legs=None, **kw) -> Api:
    """A filled server with alice (all PBXs), bob (acme only), carol; generous throttling."""
    kw.setdefault("users", USERS)
    kw.setdefault("keys", KEYS)
    kw.setdefault("directory", DIRECTORY)
    kw.setdefault("throttle_limits", ThrottleLimits(per_username=1000, per_address=1000))
    return start_api(tmp, legs=sample_legs(["acme", "beta"], n=120) if legs is None else legs, **kw)


def api_url(api: Api | str) -> str:
    return (api if isinstance(api, str) else api.url) + BASE


def raw_extsum(
    api: Api, pbx: str, start: str, end: str, zone: str, *, version: int = 2, user: str = "alice"
) -> list[dict]:
    """The API's answer, fetched without the client (our own login and GET)."""
    query = urlencode(
        {"pbxId": pbx, "startTime": start, "endTime": end, "timeZone": zone}, quote_via=quote
    )
    key = (id(api), user)
    if key not in _TOKENS:
        _TOKENS[key] = api.token(user)
    r = api.extsum(query, version=version, token=_TOKENS[key])
    if r.status_code == 401:  # the test moved the server's clock: log in afresh
        _TOKENS[key] = api.token(user)
        r = api.extsum(query, version=version, token=_TOKENS[key])
    assert r.status_code == 200, r.text
    return r.json()


_TOKENS: dict[tuple[int, str], str] = {}


def client_for(api: Api, user: str = "alice", **kw) -> Client:
    """A client of ``api`` (or of the server at ``url=``) whose retries never really wait."""
    kw.setdefault("retry", RetryPolicy(max_retries=2, backoff=0.01, max_backoff=0.02))
    kw.setdefault("sleep", lambda s: None)
    return Client(
        api_url(kw.pop("url", api)),
        api_key=kw.pop("api_key", api.keys["default"]),
        username=user,
        password=kw.pop("password", api.users[user].password if user in api.users else "x"),
        **kw,
    )


# --- transports ------------------------------------------------------------------------------


class CountingTransport(httpx.HTTPTransport):
    """A real transport that counts requests by path, and may act after each answer."""

    def __init__(
        self,
        after: Callable[[httpx.Request, httpx.Response], None] | None = None,
        *,
        keepalive: bool = True,
    ):
        # keepalive=False: a fresh connection per request, for servers that close theirs
        # after an error (uvicorn does after an unhandled exception), which would otherwise
        # race with the next request on the pooled connection.
        super().__init__(limits=httpx.Limits(max_keepalive_connections=None if keepalive else 0))
        self.paths: Counter[str] = Counter()
        self.requests: list[httpx.Request] = []
        self.after = after
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.paths[request.url.path] += 1
            self.requests.append(request)
        response = super().handle_request(request)
        if self.after is not None:
            response.read()
            self.after(request, response)
        return response

    def logins(self) -> int:
        return self.paths[f"{BASE}/v1/oauth/token"]

    def reports(self) -> int:
        return sum(n for p, n in self.paths.items() if p.endswith("/extsum"))


class InFlightTransport(httpx.AsyncHTTPTransport):
    """A real async transport that records the most requests in flight at once."""

    def __init__(self, delay: float = 0.05):
        super().__init__()
        self.delay = delay
        self.in_flight = 0
        self.most = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await asyncio.sleep(self.delay)  # keep requests overlapping
            return await super().handle_async_request(request)
        finally:
            self.in_flight -= 1


# --- a fault-injecting wrapper around the real app ----------------------------------------------


@dataclass
class FaultInjector:
    """ASGI middleware: the first ``times`` requests whose path ends with ``suffix`` are
    answered ``status`` (with ``Retry-After: retry_after`` when given) by the wrapper;
    every other request reaches the real app, and ``after(path)`` is called once the app
    has answered it (to change the server's state between requests)."""

    app: Callable
    suffix: str = "/extsum"
    times: int = 2
    status: int = 429
    retry_after: str | None = "2"
    after: Callable[[str], None] | None = None
    seen: list[str] = field(default_factory=list)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].endswith(self.suffix):
            self.seen.append(scope["path"])
            if len(self.seen) <= self.times:
                headers = [(b"content-type", b"application/json")]
                if self.retry_after is not None:
                    headers.append((b"retry-after", self.retry_after.encode()))
                body = (
                    b'{"error":"too_many_requests","error_description":"slow down"}'
                    if self.status == 429
                    else b'{"status":503,"error":"Service Unavailable"}'
                )
                await send(
                    {"type": "http.response.start", "status": self.status, "headers": headers}
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
        if self.after is not None and scope["type"] == "http":
            self.after(scope["path"])


@contextmanager
def serve(app) -> Iterator[str]:
    """Serve an ASGI app on a free loopback port; yields its root URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def faulty(api: Api, **kw) -> Iterator[tuple[str, FaultInjector]]:
    """``api``'s services behind a :class:`FaultInjector`; yields (server URL, injector)."""
    injector = FaultInjector(create_app(api.svc), **kw)
    with serve(injector) as url:
        yield url, injector


def closed_port_url() -> str:
    """A loopback server URL nothing listens on."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"
