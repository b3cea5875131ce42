"""API keys: random secrets shown once and stored only as a hash.

A key carries 256 bits of randomness, so a single SHA-256 is enough to store it (a slow hash
protects guessable passwords, not random keys) and lets a key be found by its hash without
comparing secrets one by one.
"""

from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "wak_"


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
