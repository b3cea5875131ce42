"""The admin commands (PBXs, users, API keys, signing keys) and ``workanalytics serve``.

Admin commands run through click's runner; whatever needs a server talks real HTTP, either to
one started in this process on the same data dir or to ``workanalytics serve`` running as a
subprocess (which then owns the DuckDB file, as in production).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import jwt
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from workanalytics.api.server import RunningServer, start_in_thread
from workanalytics.cli import main
from workanalytics.control.factory import open_control
from workanalytics.control.plane import ControlPlane
from workanalytics.settings import CONTROL_ENV, Settings
from workanalytics.store import DuckDBStore
from workanalytics.timewindow import resolve_window

from apiserver import EXTSUM_V2, NY_DAY, SHA001, T0, TOKEN_PATH
from conftest import Leg, write_legs_csv

USER_NOT_FOUND = {"error_description": "USER_NOTFOUND_ERROR", "error": "invalid_grant"}


def cli(data: Path, *args: str, input: str | None = None):
    """The command in this process; stdout and stderr apart, never a traceback."""
    result = CliRunner(env={"COLUMNS": "400"}).invoke(
        main, ["--data-dir", str(data), *args], input=input
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


def open_plane(data: Path) -> ControlPlane:
    """The control plane the CLI edits: in ``data``, or the one ``CONTROL_ENV`` names."""
    return open_control(Settings.from_env(data))


def one_line_error(result) -> str:
    """The refusal's single stderr line (nothing on stdout)."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines
    assert result.stdout == ""
    return lines[0]


def create_key(data: Path, *extra: str) -> tuple[str, str]:
    """(id, secret) of a new API key made through the CLI."""
    result = cli(data, "apikey", "create", *extra)
    assert result.exit_code == 0, result.stderr
    secret = result.stdout.splitlines()[-1]
    control = open_plane(data)
    key = control.lookup_api_key(secret)
    control.close()
    assert key is not None
    return key.id, secret


def add_user(data: Path, username: str, password: str, *entitlement: str):
    return cli(
        data, "user", "add", username, "--password-stdin", *entitlement, input=password + "\n"
    )


@pytest.fixture
def data(tmp_path: Path, control_url: str | None, monkeypatch) -> Path:
    """An initialised data dir; its control plane in it (SQLite) or, named by the
    environment as in a deployment, in a fresh PostgreSQL database."""
    if control_url is None:
        monkeypatch.delenv(CONTROL_ENV, raising=False)
    else:
        monkeypatch.setenv(CONTROL_ENV, control_url)
    d = tmp_path / "data"
    assert cli(d, "init").exit_code == 0
    return d


@dataclass
class Live:
    """A server in this process on the data dir that the CLI edits."""

    running: RunningServer
    http: httpx.Client

    def login(self, key: str, username: str, password: str) -> httpx.Response:
        return self.http.post(
            TOKEN_PATH,
            headers={"8x8-apikey": key},
            data={"username": username, "password": password},
        )

    def token(self, key: str, username: str, password: str) -> str:
        r = self.login(key, username, password)
        assert r.status_code == 200, r.text
        return r.json()["access_token"]

    def extsum(self, key: str, token: str, pbx: str = "east") -> httpx.Response:
        return self.http.get(
            f"{EXTSUM_V2}?pbxId={pbx}&{NY_DAY}",
            headers={"8x8-apikey": key, "Authorization": f"Bearer {token}"},
        )


@pytest.fixture
def live(data: Path) -> Iterator[Live]:
    assert cli(data, "pbx", "add", "east").exit_code == 0
    running = start_in_thread(Settings.from_env(data))
    http = httpx.Client(base_url=running.url, timeout=30)
    try:
        yield Live(running, http)
    finally:
        http.close()
        running.stop()
        running.services.close()


# --- PBXs ------------------------------------------------------------------------------------


def test_pbx_add_list_and_duplicate(data: Path):
    for name in ("west", "east"):
        result = cli(data, "pbx", "add", name)
        assert result.exit_code == 0, result.stderr
    listed = cli(data, "pbx", "list", "--format", "json")
    assert listed.exit_code == 0
    assert json.loads(listed.stdout) == [{"pbx_id": "east"}, {"pbx_id": "west"}]

    again = cli(data, "pbx", "add", "east")
    assert again.exit_code == 1
    assert "east" in one_line_error(again) and "exists" in again.stderr
    bad = cli(data, "pbx", "add", "no spaces")
    assert bad.exit_code == 1
    one_line_error(bad)
    assert json.loads(cli(data, "pbx", "list", "--format", "json").stdout) == [
        {"pbx_id": "east"},
        {"pbx_id": "west"},
    ]


# --- users -----------------------------------------------------------------------------------


def test_user_add_with_all_pbxes_or_a_list(data: Path):
    for name in ("a", "b", "c"):
        assert cli(data, "pbx", "add", name).exit_code == 0
    assert add_user(data, "alice", "pw-alice", "--all-pbxes").exit_code == 0
    assert add_user(data, "bob", "pw-bob", "--pbx", "a, b").exit_code == 0

    control = open_plane(data)
    cid = control.customer("default").id
    alice = control.authenticate(cid, "alice", "pw-alice")
    bob = control.authenticate(cid, "bob", "pw-bob")
    assert alice is not None and bob is not None
    assert control.entitled_pbxes(alice) == ["a", "b", "c"]
    assert control.entitled_pbxes(bob) == ["a", "b"]
    # --all-pbxes follows the customer's PBXs; a list does not grow.
    assert cli(data, "pbx", "add", "d").exit_code == 0
    assert control.entitled_pbxes(alice) == ["a", "b", "c", "d"]
    assert control.entitled_pbxes(bob) == ["a", "b"]
    # The password read from stdin is the one stored, without its newline.
    assert control.authenticate(cid, "bob", "pw-bob\n") is None
    control.close()


def test_user_add_refuses_unknown_pbxes_and_duplicates(data: Path):
    assert cli(data, "pbx", "add", "a").exit_code == 0
    result = add_user(data, "carol", "pw", "--pbx", "a,nowhere")
    assert result.exit_code == 1
    assert "nowhere" in one_line_error(result)
    control = open_plane(data)
    cid = control.customer("default").id
    assert control.authenticate(cid, "carol", "pw") is None  # nothing half-made

    assert add_user(data, "carol", "pw", "--pbx", "a").exit_code == 0
    again = add_user(data, "carol", "other", "--all-pbxes")
    assert again.exit_code == 1
    assert "carol" in one_line_error(again)
    assert control.authenticate(cid, "carol", "pw") is not None
    control.close()


@pytest.mark.parametrize("flags", [["--all-pbxes", "--pbx", "a"], []])
def test_user_add_needs_exactly_one_entitlement(data: Path, flags: list[str]):
    assert cli(data, "pbx", "add", "a").exit_code == 0
    result = add_user(data, "dave", "pw", *flags)
    assert result.exit_code == 2
    assert "--all-pbxes" in result.stderr and "--pbx" in result.stderr
    control = open_plane(data)
    assert control.authenticate(control.customer("default").id, "dave", "pw") is None
    control.close()


def test_user_add_refuses_an_empty_password(data: Path):
    result = add_user(data, "erin", "", "--all-pbxes")
    assert result.exit_code == 2
    assert "password" in result.stderr


def test_disabled_user_gets_no_token_and_loses_the_one_held(data: Path, live: Live):
    assert add_user(data, "alice", "pw-alice", "--all-pbxes").exit_code == 0
    _, key = create_key(data)
    token = live.token(key, "alice", "pw-alice")
    assert live.extsum(key, token).status_code == 200

    result = cli(data, "user", "disable", "alice")
    assert result.exit_code == 0, result.stderr
    r = live.login(key, "alice", "pw-alice")
    assert (r.status_code, r.json()) == (400, USER_NOT_FOUND)
    assert live.extsum(key, token).status_code == 401

    unknown = cli(data, "user", "disable", "nobody")
    assert unknown.exit_code == 1
    assert "nobody" in one_line_error(unknown)


def test_user_passwd_changes_the_password(data: Path, live: Live):
    assert add_user(data, "alice", "old-pw", "--all-pbxes").exit_code == 0
    _, key = create_key(data)
    live.token(key, "alice", "old-pw")

    result = cli(data, "user", "passwd", "alice", "--password-stdin", input="new-pw\n")
    assert result.exit_code == 0, result.stderr
    r = live.login(key, "alice", "old-pw")
    assert (r.status_code, r.json()) == (400, USER_NOT_FOUND)
    assert live.extsum(key, live.token(key, "alice", "new-pw")).status_code == 200

    unknown = cli(data, "user", "passwd", "nobody", "--password-stdin", input="x\n")
    assert unknown.exit_code == 1
    assert "nobody" in one_line_error(unknown)


# --- API keys --------------------------------------------------------------------------------


def test_apikey_create_prints_only_the_key_on_stdout(data: Path, live: Live):
    assert add_user(data, "alice", "pw", "--all-pbxes").exit_code == 0
    result = cli(data, "apikey", "create", "--admin", "--name", "ci")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.endswith("\n")
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    secret = lines[0]
    assert len(secret) >= 32 and secret.strip() == secret
    control = open_plane(data)
    key = control.lookup_api_key(secret)
    control.close()
    assert key is not None and key.admin and key.name == "ci"
    assert key.id in result.stderr and secret not in result.stderr
    # The printed key is the one the server takes.
    assert live.extsum(secret, live.token(secret, "alice", "pw")).status_code == 200
    # A second key is a different one.
    other = cli(data, "apikey", "create").stdout.splitlines()[-1]
    assert other != secret


def test_apikey_list_never_shows_a_key_or_its_hash(data: Path):
    made = [create_key(data, "--admin", "--name", "ingest"), create_key(data, "--name", "dash")]
    control = open_plane(data)
    with control.engine.connect() as db:
        hashes = dict(db.execute(sa.text("SELECT id, key_hash FROM api_keys")).all())
    control.close()
    assert set(hashes) == {key_id for key_id, _ in made}
    for fmt in ("table", "json", "csv"):
        result = cli(data, "apikey", "list", "--format", fmt)
        assert result.exit_code == 0
        shown = result.stdout + result.stderr
        for key_id, secret in made:
            assert key_id in shown
            assert secret not in shown
            assert secret.split("_", 1)[-1] not in shown  # nor without its prefix
            assert hashes[key_id] not in shown
    rows = {r["id"]: r for r in json.loads(cli(data, "apikey", "list", "--format", "json").stdout)}
    assert rows[made[0][0]]["name"] == "ingest" and rows[made[0][0]]["admin"] == "yes"
    assert rows[made[1][0]]["name"] == "dash" and rows[made[1][0]]["admin"] == "no"
    assert set(rows[made[0][0]]) == {"id", "customer", "name", "admin", "created_at", "revoked_at"}


def test_apikey_revoke_refuses_the_key_at_once(data: Path, live: Live):
    assert add_user(data, "alice", "pw", "--all-pbxes").exit_code == 0
    key_id, key = create_key(data)
    kept_id, kept = create_key(data)
    token = live.token(key, "alice", "pw")
    assert live.extsum(key, token).status_code == 200

    result = cli(data, "apikey", "revoke", key_id)
    assert result.exit_code == 0, result.stderr
    r = live.login(key, "alice", "pw")
    assert (r.status_code, r.content) == (400, SHA001)
    r = live.extsum(key, token)
    assert (r.status_code, r.content) == (400, SHA001)
    # Only that key: the other one still works.
    assert live.extsum(kept, live.token(kept, "alice", "pw")).status_code == 200
    listed = {
        r["id"]: r for r in json.loads(cli(data, "apikey", "list", "--format", "json").stdout)
    }
    assert listed[key_id]["revoked_at"] != "" and listed[kept_id]["revoked_at"] == ""

    for unknown in ("no-such-id", key_id):  # unknown, or already revoked
        again = cli(data, "apikey", "revoke", unknown)
        assert again.exit_code == 1
        assert unknown in one_line_error(again)


# --- signing keys ----------------------------------------------------------------------------


def test_keys_rotate_keeps_old_tokens_and_signs_with_the_new_key(data: Path, live: Live):
    assert add_user(data, "alice", "pw", "--all-pbxes").exit_code == 0
    _, key = create_key(data)
    before = live.token(key, "alice", "pw")
    old_kid = jwt.get_unverified_header(before)["kid"]

    result = cli(data, "keys", "rotate")
    assert result.exit_code == 0, result.stderr
    new_kid = result.stdout.split()[-1]
    assert new_kid != old_kid
    assert live.running.services.keys.active_kid() == new_kid

    assert live.extsum(key, before).status_code == 200  # signed by the old key, still valid
    after = live.token(key, "alice", "pw")
    assert jwt.get_unverified_header(after)["kid"] == new_kid
    assert live.extsum(key, after).status_code == 200

    keys_dir = data / "keys"
    if Settings.from_env(data).control_url is None:
        assert (keys_dir / "active").read_text().strip() == new_kid
        assert keys_dir.stat().st_mode & 0o777 == 0o700
        pems = sorted(p.stem for p in keys_dir.glob("*.pem"))
        assert pems == sorted([old_kid, new_kid])
        for pem in keys_dir.glob("*.pem"):
            assert pem.stat().st_mode & 0o777 == 0o600, pem
    else:  # in the shared control database, where every replica finds them
        assert not keys_dir.exists()
        control = open_plane(data)
        with control.engine.connect() as db:
            rows = db.execute(sa.text("SELECT kid, retired_at FROM signing_keys")).all()
        control.close()
        assert sorted((kid, at is None) for kid, at in rows) == sorted(
            [(old_kid, False), (new_kid, True)]
        )


# --- serve -----------------------------------------------------------------------------------


@dataclass
class Served:
    """``workanalytics serve`` in a subprocess; ``log`` collects its stderr lines."""

    proc: subprocess.Popen
    url: str = ""
    log: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM; the exit code if it ended in time (then killed if not)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            code = None
        if self.reader is not None:
            self.reader.join(5)
        return code


def start_serve(data: Path) -> Served:
    proc = subprocess.Popen(
        [sys.executable, "-m", "workanalytics", "--data-dir", str(data), "serve", "--port", "0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    served = Served(proc)
    ready = threading.Event()

    def read() -> None:
        for line in proc.stderr:
            served.log.append(line.rstrip("\n"))
            if line.startswith("serving http://"):
                served.url = line.split()[1].removesuffix("/analytics/work")
                ready.set()
        ready.set()

    served.reader = threading.Thread(target=read, daemon=True)
    served.reader.start()
    if not ready.wait(30) or not served.url:
        served.stop()
        pytest.fail("serve did not start:\n" + "\n".join(served.log))
    assert served.url.startswith("http://127.0.0.1:")
    return served


@dataclass
class ServeSetup:
    data: Path
    served: Served
    admin_key: str
    plain_key: str
    http: httpx.Client

    def token(self, key: str, username: str = "ann", password: str = "ann-secret-pw") -> str:
        r = self.http.post(
            TOKEN_PATH,
            headers={"8x8-apikey": key},
            data={"username": username, "password": password},
        )
        assert r.status_code == 200, r.text
        return r.json()["access_token"]

    def extsum(self, pbx: str, key: str | None = None) -> httpx.Response:
        key = key or self.plain_key
        return self.http.get(
            f"{EXTSUM_V2}?pbxId={pbx}&{NY_DAY}",
            headers={"8x8-apikey": key, "Authorization": f"Bearer {self.token(key)}"},
        )


def _setup(data: Path) -> tuple[str, str]:
    assert cli(data, "init").exit_code == 0
    assert cli(data, "pbx", "add", "east").exit_code == 0
    assert add_user(data, "ann", "ann-secret-pw", "--all-pbxes").exit_code == 0
    return create_key(data, "--admin")[1], create_key(data)[1]


@pytest.fixture(scope="module")
def serving(tmp_path_factory) -> Iterator[ServeSetup]:
    data = tmp_path_factory.mktemp("serve") / "data"
    admin_key, plain_key = _setup(data)
    served = start_serve(data)
    http = httpx.Client(base_url=served.url, timeout=30)
    try:
        yield ServeSetup(data, served, admin_key, plain_key, http)
    finally:
        http.close()
        served.stop()


def test_serve_health_access_log_and_sigterm(tmp_path: Path):
    data = tmp_path / "data"
    admin_key, key = _setup(data)
    served = start_serve(data)
    try:
        with httpx.Client(base_url=served.url, timeout=30) as http:
            for path in ("/healthz", "/readyz"):
                r = http.get(path)
                assert (r.status_code, r.json()) == (200, {"status": "ok"}), path
            r = http.post(
                TOKEN_PATH,
                headers={"8x8-apikey": key},
                data={"username": "ann", "password": "ann-secret-pw"},
            )
            assert r.status_code == 200, r.text
            token = r.json()["access_token"]
            auth = {"8x8-apikey": key, "Authorization": f"Bearer {token}"}
            assert http.get(f"{EXTSUM_V2}?pbxId=east&{NY_DAY}", headers=auth).status_code == 200
            # Secrets in a query string stay out of the log too.
            leak = f"{EXTSUM_V2}?pbxId=east&{NY_DAY}&apikey={key}&t={token}&p=ann-secret-pw"
            assert http.get(leak, headers=auth).status_code == 200
            r = http.post(TOKEN_PATH, headers={"8x8-apikey": admin_key}, data={"username": "ann"})
            assert r.status_code == 400
        started = time.monotonic()
        code = served.stop(timeout=8)
        assert code == 0, "\n".join(served.log)
        assert time.monotonic() - started < 8
    finally:
        served.stop()

    text = "\n".join(served.log)
    for secret in (key, admin_key, "ann-secret-pw", token):
        assert secret not in text
    entries = [json.loads(line) for line in served.log if line.startswith("{")]
    others = [line for line in served.log if not line.startswith("{")]
    assert all(line.startswith("serving http://") for line in others), others
    for entry in entries:
        assert {"method", "path", "status", "ms", "client"} <= set(entry), entry
        assert isinstance(entry["ms"], int | float) and entry["ms"] >= 0
        assert entry["client"] == "127.0.0.1"
    seen = [(e["method"], e["path"], e["status"]) for e in entries]
    assert seen == [
        ("GET", "/healthz", 200),
        ("GET", "/readyz", 200),
        ("POST", TOKEN_PATH, 200),
        ("GET", EXTSUM_V2, 200),
        ("GET", EXTSUM_V2, 200),
        ("POST", TOKEN_PATH, 400),
    ]


def test_serve_refuses_an_address_in_use(serving: ServeSetup, tmp_path: Path):
    port = serving.served.url.rsplit(":", 1)[1]
    data = tmp_path / "other"
    assert cli(data, "init").exit_code == 0
    done = subprocess.run(
        [sys.executable, "-m", "workanalytics", "--data-dir", str(data), "serve", "--port", port],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert f"error: the server did not start on 127.0.0.1:{port}" in done.stderr


HOUR = 3_600_000


def remote_legs(pbx: str) -> list[Leg]:
    """A few calls of 1 March 2026 in New York (T0 is its midnight)."""
    t = T0 + 10 * HOUR
    return [
        Leg(pbx_id=pbx, call_id=f"{pbx}-1", start_time=t, connect_time=t + 2_000,
            end_time=t + 62_000, callee="1001", callee_ext="1001"),
        Leg(pbx_id=pbx, call_id=f"{pbx}-2", start_time=t + HOUR, end_time=t + HOUR + 8_000,
            callee="1001", callee_ext="1001", abandoned=True),
        Leg(pbx_id=pbx, call_id=f"{pbx}-3", start_time=t + 2 * HOUR,
            connect_time=t + 2 * HOUR + 1_000, end_time=t + 2 * HOUR + 31_000,
            caller="1002", caller_ext="1002", callee="+15550001111", callee_ext=None),
    ]  # fmt: skip


def engine_json(tmp: Path, legs_csv: Path, pbx: str) -> bytes:
    """The library's answer for the NY day of 1 March 2026 over just these legs."""
    from workanalytics.ingest import open_source

    window = resolve_window(
        "2026-03-01 00:00:00",
        "2026-03-01 23:59:59",
        "America/New_York",
        clock=lambda: datetime.now(UTC),
    )
    with DuckDBStore(tmp / "engine" / "legs.duckdb") as store:
        store.ingest(open_source(legs_csv))
        return store.extension_summary([pbx], window).to_json()


def test_direct_ingest_while_served_names_the_server_option(serving: ServeSetup, tmp_path: Path):
    legs = write_legs_csv(tmp_path / "legs.csv", remote_legs("direct"))
    result = cli(serving.data, "ingest", str(legs))
    assert result.exit_code != 0
    assert "in use" in result.stderr and "--server" in result.stderr
    assert "Traceback" not in result.stderr
    # Nothing got in by another way.
    r = serving.extsum("direct")
    assert r.status_code == 403


def test_ingest_through_the_server(serving: ServeSetup, tmp_path: Path):
    legs = write_legs_csv(tmp_path / "legs.csv", remote_legs("remote"))
    assert serving.extsum("remote").status_code == 403  # not there yet
    result = cli(
        serving.data,
        "ingest",
        "--server",
        serving.served.url,
        "--api-key",
        serving.admin_key,
        "--output-format",
        "json",
        str(legs),
    )
    assert result.exit_code == 0, result.stderr
    [report] = json.loads(result.stdout)
    assert report == {"file": str(legs), "rows": 3, "stored": 3, "replaced": 0, "rejected": 0}
    r = serving.extsum("remote")
    assert r.status_code == 200, r.text
    rows = r.json()
    assert {row["Extension"] for row in rows} >= {"1001", "1002"}
    assert r.content == engine_json(tmp_path, legs, "remote")


def test_ingest_through_the_server_needs_an_admin_key(serving: ServeSetup, tmp_path: Path):
    legs = write_legs_csv(tmp_path / "legs.csv", remote_legs("plain"))
    args = ["ingest", "--server", serving.served.url, str(legs)]
    result = cli(serving.data, *args, "--api-key", serving.plain_key)
    assert result.exit_code == 1
    line = one_line_error(result)
    assert "admin" in line and str(legs) in line and "403" in line
    assert serving.plain_key not in result.stderr

    result = cli(serving.data, *args, "--api-key", "wak_not_a_key")
    assert result.exit_code == 1
    assert "8x8-apikey" in one_line_error(result)

    missing = CliRunner(env={"WORKANALYTICS_API_KEY": ""}).invoke(
        main, ["--data-dir", str(serving.data), *args]
    )
    assert missing.exit_code == 2
    assert "--api-key" in missing.stderr
    assert serving.extsum("plain").status_code == 403  # nothing stored


def test_ingest_through_the_server_names_the_bad_line(serving: ServeSetup, tmp_path: Path):
    legs = write_legs_csv(tmp_path / "legs.csv", remote_legs("badfile"))
    lines = legs.read_text().splitlines()
    lines[2] = lines[2].replace(str(T0 + 11 * HOUR), "not-a-time", 1)  # the 2nd leg, line 3
    assert "not-a-time" in lines[2]
    legs.write_text("\n".join(lines) + "\n")
    result = cli(
        serving.data, "ingest", "--server", serving.served.url, "--api-key", serving.admin_key,
        str(legs),
    )  # fmt: skip
    assert result.exit_code == 1
    assert f"{legs}:3" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert serving.extsum("badfile").status_code == 403  # the whole file refused


def test_customers_are_added_explicitly_never_by_a_typo(tmp_path):
    from click.testing import CliRunner

    from workanalytics.cli import main

    d = str(tmp_path / "d")
    runner = CliRunner()
    assert runner.invoke(main, ["--data-dir", d, "init"]).exit_code == 0
    typo = runner.invoke(main, ["--data-dir", d, "pbx", "add", "p1", "--customer", "defualt"])
    assert typo.exit_code == 1 and "unknown customer 'defualt'" in typo.output
    listed = runner.invoke(main, ["--data-dir", d, "customer", "list", "--format", "csv"])
    assert [line.split(",")[0] for line in listed.output.splitlines()] == ["name", "default"]
    assert runner.invoke(main, ["--data-dir", d, "customer", "add", "acme"]).exit_code == 0
    again = runner.invoke(main, ["--data-dir", d, "customer", "add", "acme"])
    assert again.exit_code == 1
    assert (
        runner.invoke(main, ["--data-dir", d, "pbx", "add", "p1", "--customer", "acme"]).exit_code
        == 0
    )
    listed = runner.invoke(
        main, ["--data-dir", d, "pbx", "list", "--customer", "acme", "--format", "csv"]
    )
    assert listed.output.splitlines() == ["pbx_id", "p1"]
