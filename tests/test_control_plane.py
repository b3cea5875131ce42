"""The control plane and the signing keys, on both of their databases.

Every test runs on SQLite in a data dir (keys as files) and on a real PostgreSQL (keys in
its ``signing_keys`` table), through the same factories the server and the CLI use. Two
control planes opened on the same place stand for two API replicas: what one writes, the
other must see, and a token either signs, both accept.
"""

from __future__ import annotations

import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import jwt
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import rsa

from workanalytics.auth.tokens import ExpiredToken, InvalidToken, KeyRing
from workanalytics.control.database import engine_url, redacted
from workanalytics.control.factory import open_control, open_keyring
from workanalytics.control.plane import ControlError, ControlPlane
from workanalytics.settings import Settings

from apiserver import EXTSUM_V2, NY_DAY, UserSpec, sample_legs, start_api

NOW = 1_780_272_000.0


class Clock:
    def __init__(self, now: float = NOW):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def settings(tmp_path: Path, control_url: str | None) -> Settings:
    return Settings(data_dir=tmp_path / "data", control_url=control_url)


Replica = tuple[ControlPlane, KeyRing]


@pytest.fixture
def replicas(settings: Settings) -> Iterator[Callable[..., Replica]]:
    """Opens a control plane and key ring on ``settings``, as one API replica does; each
    call is another replica (its own engine, pool and key cache)."""
    opened: list[ControlPlane] = []

    def open_replica(clock: Clock | None = None) -> Replica:
        control = open_control(settings)
        opened.append(control)
        return control, open_keyring(settings, control, clock=clock or Clock())

    yield open_replica
    for control in opened:
        control.close()


def _in_threads(n: int, work: Callable[[], object]) -> list[object]:
    """``work`` in ``n`` threads released together; their results, or the first error."""
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


# --- the control plane ------------------------------------------------------------------------


def test_customers_users_keys_and_entitlements(replicas):
    control, _ = replicas()
    default = control.ensure_customer()
    assert control.ensure_customer() == default
    control.ensure_customer("acme")
    control.add_pbx("east")
    control.add_pbx("a1", "acme")
    assert control.adopt_pbxes(["west", "east", "a1"]) == ["west"]
    assert control.pbx_owners() == {
        "east": default.id,
        "west": default.id,
        "a1": control.customer("acme").id,
    }
    alice = control.add_user("alice", "pw-a", all_pbxes=True)
    bob = control.add_user("bob", "pw-b", pbx_list=["west"])
    with pytest.raises(ControlError):
        control.add_user("bob", "again", all_pbxes=True)
    assert control.authenticate(default.id, "alice", "pw-a") == alice
    assert control.authenticate(default.id, "alice", "wrong") is None
    assert control.entitled_pbxes(alice) == ["east", "west"]
    assert control.entitled_pbxes(bob) == ["west"]
    control.set_user_disabled("bob", True)
    assert control.authenticate(default.id, "bob", "pw-b") is None

    key, secret = control.create_api_key(name="ci", admin=True)
    assert control.lookup_api_key(secret) == key
    control.revoke_api_key(key.id)
    assert control.lookup_api_key(secret) is None
    assert [(k.id, c) for k, c in control.list_api_keys()] == [(key.id, "default")]


def test_a_second_replica_sees_what_the_first_wrote(replicas):
    one, _ = replicas()
    two, _ = replicas()
    cid = one.ensure_customer().id
    one.add_pbx("east")
    one.add_user("alice", "pw", all_pbxes=True)
    _, secret = one.create_api_key()
    assert two.lookup_api_key(secret) is not None
    alice = two.authenticate(cid, "alice", "pw")
    assert alice is not None and two.entitled_pbxes(alice) == ["east"]
    two.set_password("alice", "new-pw")
    assert one.authenticate(cid, "alice", "pw") is None
    assert one.authenticate(cid, "alice", "new-pw") is not None


def test_replicas_starting_together_create_the_tables_once(settings: Settings):
    """Four processes' worth of control planes opened at the same instant on an empty
    database: none fails, and they share one default customer and each PBX once."""

    def start() -> str:
        control = open_control(settings)
        try:
            cid = control.ensure_customer().id
            control.adopt_pbxes(["east", "west"])
            return cid
        finally:
            control.close()

    ids = _in_threads(4, start)
    assert len(set(ids)) == 1
    control = open_control(settings)
    assert [c.name for c in control.customers()] == ["default"]
    assert control.pbx_names(ids[0]) == ["east", "west"]
    control.close()


# --- the signing keys -------------------------------------------------------------------------


def _token(ring: KeyRing, user: str = "u1") -> str:
    return ring.issue(user_id=user, username=user, customer_id="c1")[0]


def test_issue_verify_rotate_prune(replicas):
    clock = Clock()
    _, ring = replicas(clock)
    first = ring.ensure()
    assert ring.ensure() == first == ring.active_kid()
    old = _token(ring)
    assert ring.verify(old).sub == "u1"

    second = ring.rotate()
    assert second != first and ring.active_kid() == second
    new = _token(ring, "u2")
    assert jwt.get_unverified_header(new)["kid"] == second
    assert ring.verify(old).sub == "u1"  # the retired key still verifies what it signed
    assert ring.verify(new).sub == "u2"

    clock.now += ring.lifetime_s + 61  # every token the first key signed has expired
    assert ring.prune() == [first]
    assert ring.active_kid() == second
    with pytest.raises(InvalidToken):
        ring.verify(old)
    with pytest.raises(ExpiredToken):
        ring.verify(new)


def test_a_kid_never_made_is_invalid(replicas):
    """Looked up in the store (it might be another replica's), not found, refused."""
    _, ring = replicas()
    ring.ensure()
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = jwt.decode(_token(ring), options={"verify_signature": False})
    for kid in ("no-such-kid", ring.active_kid() + "x"):
        forged = jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": kid})
        with pytest.raises(InvalidToken):
            ring.verify(forged)


def test_two_replicas_accept_each_others_tokens_across_a_rotation(replicas):
    (_, a), (_, b) = replicas(), replicas()
    kid = a.ensure()
    assert b.ensure() == kid  # one key set: b made no key of its own
    from_a, from_b = _token(a, "from-a"), _token(b, "from-b")
    assert b.verify(from_a).sub == "from-a"
    assert a.verify(from_b).sub == "from-b"

    rotated = a.rotate()  # on a only: b must find the new key by itself
    assert b.active_kid() == rotated
    after_b = _token(b, "after-b")
    assert jwt.get_unverified_header(after_b)["kid"] == rotated
    assert a.verify(after_b).sub == "after-b"
    after_a = _token(a, "after-a")
    assert b.verify(after_a).sub == "after-a"  # a kid b had not seen: read, then accepted
    for token in (from_a, from_b):  # signed before the rotation, still valid on both
        assert a.verify(token).sub and b.verify(token).sub


def test_replicas_starting_together_make_one_signing_key(replicas, settings: Settings):
    rings = [replicas()[1] for _ in range(4)]
    it = iter(rings)
    lock = threading.Lock()

    def ensure() -> str:
        with lock:
            ring = next(it)
        return ring.ensure()

    kids = _in_threads(4, ensure)
    if settings.control_url is None:
        # Files give no such promise across processes; one of them signs, all verify.
        assert rings[0].active_kid() in kids
    else:
        assert len(set(kids)) == 1
    token = _token(rings[0])
    assert all(r.verify(token).sub == "u1" for r in rings)


def test_where_the_private_keys_are_kept(replicas, settings: Settings):
    control, ring = replicas()
    kid = ring.ensure()
    keys_dir = settings.keys_dir
    if settings.control_url is None:
        assert stat.S_IMODE(keys_dir.stat().st_mode) == 0o700
        assert stat.S_IMODE((keys_dir / f"{kid}.pem").stat().st_mode) == 0o600
        assert "signing_keys" not in sa.inspect(control.engine).get_table_names()
    else:
        assert not keys_dir.exists()  # no replica keeps a key of its own
        with control.engine.connect() as db:
            rows = db.execute(
                sa.text("SELECT kid, private_key_pem, retired_at FROM signing_keys")
            ).all()
        assert [(r.kid, r.retired_at) for r in rows] == [(kid, None)]
        assert rows[0].private_key_pem.startswith("-----BEGIN PRIVATE KEY-----")


# --- URLs -------------------------------------------------------------------------------------


def test_control_urls():
    assert engine_url("postgresql://u@h:5/db").drivername == "postgresql+psycopg"
    assert engine_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert engine_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"
    assert engine_url("sqlite:////tmp/x.sqlite").drivername == "sqlite"
    with pytest.raises(ValueError, match="postgresql://"):
        engine_url("mysql://u@h/db")
    shown = redacted("postgresql://svc:s3cret@db:5432/control")
    assert "s3cret" not in shown and "svc" in shown


# --- two API servers, one control plane -------------------------------------------------------


def test_a_token_from_one_server_works_on_another(tmp_path: Path, postgres_url: str):
    """Two real servers, each with its own data dir, share one PostgreSQL control plane: a
    login on A gives a token B accepts, also after a key rotation on A."""
    legs = sample_legs(["acme"], n=20)
    a = start_api(
        tmp_path / "a",
        legs=legs,
        users=[UserSpec("alice", "alice-pw", all_pbxes=True)],
        control_url=postgres_url,
    )
    try:
        b = start_api(tmp_path / "b", legs=legs, keys=(), control_url=postgres_url)
        try:
            b.keys.update(a.keys)
            b.users.update(a.users)
            token = a.token("alice")
            query = f"pbxId=acme&{NY_DAY}"
            on_b = b.get(f"{EXTSUM_V2}?{query}", token=token)
            assert on_b.status_code == 200, on_b.text
            assert on_b.content == a.extsum(query, token=token).content
            assert a.svc.settings.keys_dir.exists() is False

            a.svc.keys.rotate()
            rotated = a.token("alice")
            assert b.extsum(query, token=rotated).status_code == 200
            assert b.extsum(query, token=token).status_code == 200
            from_b = b.token("alice")
            assert jwt.get_unverified_header(from_b)["kid"] == a.svc.keys.active_kid()
            assert a.extsum(query, token=from_b).status_code == 200
        finally:
            b.stop()
    finally:
        a.stop()
