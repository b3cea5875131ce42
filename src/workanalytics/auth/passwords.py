"""Password hashing with argon2id, and a dummy verification so unknown users cost the same."""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so a login for an unknown username
    takes as long as one with a wrong password. Made when a server starts (see
    :func:`prepare_logins`), not on import: hashing takes 0.1 s, which every command that
    touches the control plane (an ingest...) paid."""
    return _HASHER.hash("workanalytics-dummy-password")


def prepare_logins() -> None:
    """Make the dummy hash now, so that no login, not even the first, pays for it."""
    _dummy_hash()


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; always does one full argon2 verification. No hash
    (None, or empty) matches nothing, not even the dummy's password."""
    try:
        return _HASHER.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
