"""A real HTTP server for the API tests, and the small clients that talk to it.

``start_api`` opens :class:`~workanalytics.api.services.Services` on a fresh data directory
with an injectable clock, fills it (legs, directory, customers, users, API keys) and starts
uvicorn on a free loopback port. Tests speak real HTTP to it: through httpx with URLs built
by hand (so nothing is re-encoded), or through :func:`raw_request` when the bytes on the
wire must be exactly the test's (invalid UTF-8, oversized request lines).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from workanalytics.api.server import RunningServer, start_in_thread
from workanalytics.api.services import Services
from workanalytics.auth.throttle import ThrottleLimits
from workanalytics.control.plane import User
from workanalytics.directory import read_directory_csv
from workanalytics.ingest import open_source
from workanalytics.settings import Settings

from conftest import Deployment, Leg, write_directory_csv, write_legs_csv

BASE = "/analytics/work"
TOKEN_PATH = f"{BASE}/v1/oauth/token"
EXTSUM_V2 = f"{BASE}/v2/extsum"
EXTSUM_V1 = f"{BASE}/v1/extsum"
ADMIN_LEGS = f"{BASE}/admin/v1/legs"

#: 2026-06-01T00:00:00.123Z: the servers' "now" unless a test moves it.
FIXED_NOW = 1_780_272_000.123
#: 2026-03-01 in New York is 05:00Z .. 05:00Z next day.
DAY_MS = 86_400_000
T0 = 1_772_341_200_000  # 2026-03-01T05:00:00Z = 2026-03-01 00:00:00 America/New_York

#: A window query string with the space as ``%20``, for the New York day of 1 March 2026.
NY_DAY = "startTime=2026-03-01%2000:00:00&endTime=2026-03-01%2023:59:59&timeZone=America/New_York"

SHA001 = (
    b'{"status":400,"message":"Invalid 8x8-apikey","code":"SHA001","details":[{"type":'
    b'"invalidValue","location":"header","path":["8x8-apikey"],"hint":"Please provide valid '
    b"apikey. If you don't have one, please sign up and create a developer account\"}]}"
)


class MutableClock:
    """Epoch seconds that a test sets and moves; the server reads it on every request."""

    def __init__(self, now: float = FIXED_NOW):
        self.now = now
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def set(self, now: float) -> None:
        with self._lock:
            self.now = now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds

    @contextlib.contextmanager
    def moved_to(self, now: float) -> Iterator[None]:
        """The clock at ``now`` for the block, back where it was afterwards."""
        before = self()
        self.set(now)
        try:
            yield
        finally:
            self.set(before)


@dataclass(frozen=True)
class UserSpec:
    username: str
    password: str
    customer: str = "default"
    all_pbxes: bool = False
    pbxes: tuple[str, ...] = ()


@dataclass(frozen=True)
class KeySpec:
    name: str
    customer: str = "default"
    admin: bool = False


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class Api:
    """A running server, what it was filled with, and one-line requests against it."""

    running: RunningServer
    clock: MutableClock
    tmp: Path
    #: API key secrets and ids, by the name given in :class:`KeySpec`.
    keys: dict[str, str]
    key_ids: dict[str, str]
    users: dict[str, UserSpec]
    #: The control plane's record of each user (ids), by username.
    accounts: dict[str, User]
    client: httpx.Client = field(repr=False)

    @property
    def url(self) -> str:
        return self.running.url

    @property
    def svc(self) -> Services:
        return self.running.services

    @property
    def app(self):
        return self.running.server.config.app

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.url.removeprefix("http://").rsplit(":", 1)
        return host, int(port)

    # --- requests --------------------------------------------------------------------------

    def login(
        self, username: str | None, password: str | None, *, key: str | None = "default"
    ) -> httpx.Response:
        """The form-encoded token request of 8x8's guide."""
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if key is not None:
            headers["8x8-apikey"] = self.keys.get(key, key)
        form = {}
        if username is not None:
            form["username"] = username
        if password is not None:
            form["password"] = password
        return self.client.post(TOKEN_PATH, data=form, headers=headers)

    def token(self, username: str, *, key: str = "default") -> str:
        r = self.login(username, self.users[username].password, key=key)
        assert r.status_code == 200, r.text
        return r.json()["access_token"]

    def get(
        self,
        path_and_query: str,
        *,
        token: str | None = None,
        key: str | None = "default",
        authorization: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """GET with the URL exactly as given (already percent-encoded by the test)."""
        h = {}
        if key is not None:
            h["8x8-apikey"] = self.keys.get(key, key)
        if authorization is not None:
            h["Authorization"] = authorization
        elif token is not None:
            h["Authorization"] = f"Bearer {token}"
        h.update(headers or {})
        return self.client.get(self.url + path_and_query, headers=h)

    def extsum(self, query: str, *, version: int = 2, **kw) -> httpx.Response:
        path = EXTSUM_V2 if version == 2 else EXTSUM_V1
        return self.get(f"{path}?{query}", **kw)

    def raw(self, data: bytes, *, timeout: float = 10.0) -> RawResponse | None:
        return raw_request(self.address, data, timeout=timeout)

    def stop(self) -> None:
        self.client.close()
        self.running.stop()
        self.svc.close()


def raw_request(
    address: tuple[str, int], data: bytes, *, timeout: float = 10.0
) -> RawResponse | None:
    """Send bytes as they are on a fresh connection; the parsed answer, or None when the
    server closed the connection without one (a protocol-level refusal)."""
    chunks: list[bytes] = []
    with socket.create_connection(address, timeout=timeout) as sock:
        # Read while writing: a server that refuses a huge request early closes the socket,
        # and an answer left unread would then be lost to the reset.
        reader_done = threading.Event()

        def read() -> None:
            try:
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    chunks.append(chunk)
            except OSError:
                pass
            finally:
                reader_done.set()

        thread = threading.Thread(target=read, daemon=True)
        thread.start()
        with contextlib.suppress(OSError):
            sock.sendall(data)
        reader_done.wait(timeout)
    return parse_response(b"".join(chunks))


def parse_response(data: bytes) -> RawResponse | None:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return None
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.decode("latin-1").strip().lower()] = value.decode("latin-1").strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        out, rest = b"", body
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                break
            out, rest = out + rest[:size], rest[size + 2 :]
        body = out
    elif "content-length" in headers:
        body = body[: int(headers["content-length"])]
    return RawResponse(status, headers, body)


def http_get_bytes(path_and_query: bytes, headers: dict[str, str | bytes]) -> bytes:
    """A complete HTTP/1.1 GET (``Connection: close``) from raw parts."""
    lines = [b"GET " + path_and_query + b" HTTP/1.1", b"Host: 127.0.0.1"]
    for name, value in headers.items():
        lines.append(
            name.encode() + b": " + (value if isinstance(value, bytes) else value.encode())
        )
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n"


def http_request_bytes(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: 127.0.0.1"]
    lines += [f"{n}: {v}".encode() for n, v in headers.items()]
    lines += [f"Content-Length: {len(body)}".encode(), b"Connection: close"]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def start_api(
    tmp: Path,
    *,
    legs: Iterable[Leg] = (),
    directory: Sequence[dict[str, str]] = (),
    customers: dict[str, Sequence[str]] | None = None,
    users: Sequence[UserSpec] = (),
    keys: Sequence[KeySpec] = (KeySpec("default"),),
    retention_years: int = 2,
    throttle_limits: ThrottleLimits | None = None,
    now: float = FIXED_NOW,
    control_url: str | None = None,
    deployment: Deployment | None = None,
) -> Api:
    """Open, fill and start a server on ``tmp``.

    ``customers`` maps a customer other than ``default`` to the PBXs it owns; every other PBX
    named by the legs or the directory is adopted by the default customer, as at startup.
    ``control_url`` names a shared control plane (PostgreSQL) instead of SQLite in ``tmp``;
    ``deployment`` names both it and the leg store (ClickHouse).
    """
    tmp.mkdir(parents=True, exist_ok=True)
    clock = MutableClock(now)
    settings = Settings(
        data_dir=tmp / "data",
        retention_years=retention_years,
        control_url=control_url or (deployment and deployment.control_url),
        store_url=deployment and deployment.store_url,
        cluster=deployment and deployment.cluster,
    )
    svc = Services.open(settings, clock=clock, throttle_limits=throttle_limits)
    try:
        for customer, pbxes in (customers or {}).items():
            svc.control.ensure_customer(customer)
            for pbx in pbxes:
                svc.control.add_pbx(pbx, customer)
        legs = list(legs)
        if legs:
            svc.store.ingest(open_source(write_legs_csv(tmp / "legs.csv", legs)))
        if directory:
            path = write_directory_csv(tmp / "directory.csv", directory)
            svc.store.upsert_directory(read_directory_csv(path))
        svc.control.adopt_pbxes(svc.store.pbx_ids())
        accounts = {
            u.username: svc.control.add_user(
                u.username, u.password, customer=u.customer, all_pbxes=u.all_pbxes, pbx_list=u.pbxes
            )
            for u in users
        }
        secrets, ids = {}, {}
        for k in keys:
            key, secret = svc.control.create_api_key(
                customer=k.customer, name=k.name, admin=k.admin
            )
            secrets[k.name], ids[k.name] = secret, key.id
        running = start_in_thread(settings, services=svc)
    except BaseException:
        svc.close()
        raise
    return Api(
        running=running,
        clock=clock,
        tmp=tmp,
        keys=secrets,
        key_ids=ids,
        users={u.username: u for u in users},
        accounts=accounts,
        client=httpx.Client(base_url=running.url, timeout=30),
    )


def invalid_parameter(name: str, message: str, hint: str, *, missing: bool) -> bytes:
    """The INVALID_PARAMETER body of api.md, built independently of the server's code."""
    body = {
        "status": 400,
        "message": message,
        "code": "INVALID_PARAMETER",
        "details": [
            {
                "type": "missingValue" if missing else "invalidValue",
                "location": "query",
                "path": [name],
                "hint": hint,
            }
        ],
    }
    return json.dumps(body, separators=(",", ":")).encode()


def compact(obj) -> bytes:
    """JSON as the server writes it: no spaces, keys in the given order."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def sample_legs(
    pbxes: Sequence[str], n: int = 60, *, seed: int = 7, first_call: int = 0
) -> list[Leg]:
    """Varied legs around the New York day of 1 March 2026 (some before and after it)."""
    import random

    rng = random.Random(seed)
    extensions = [None, None, "99", "100", "101", "1001", "abc"]
    legs = []
    for i in range(n):
        start = T0 - 6 * 3_600_000 + rng.randrange(0, DAY_MS + 12 * 3_600_000)
        ring = rng.choice([0, 1_000, 5_000, rng.randrange(0, 60_000)])
        answered = rng.random() < 0.6
        talk = rng.randrange(1_000, 600_000) if answered else 0
        outcome = "none" if answered else rng.choice(["none", "abandoned", "voicemail"])
        caller_ext, callee_ext = rng.choice(extensions), rng.choice(extensions)
        legs.append(
            Leg.of(
                pbx_id=pbxes[i % len(pbxes)],
                call_id=f"call{first_call + i}",
                start=start,
                ring=ring,
                talk=talk,
                answered=answered,
                outcome=outcome,
                caller_ext=caller_ext,
                callee_ext=callee_ext,
                status="Completed" if rng.random() < 0.9 else "In Progress",
            )
        )
    return legs
