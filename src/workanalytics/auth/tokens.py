"""Access tokens: RS256 JWTs with the claims of api.md, signed by a rotating key ring.

``rotate`` makes a new key the signer; older keys still verify until every token they signed
has expired, then they are removed. The ring keeps its keys in a store
(:mod:`.keystore`), chosen by :func:`workanalytics.control.factory.open_keyring`:

- embedded (SQLite control plane): PEM files in ``DATA_DIR/keys``, readable by their owner
  only, so the file system's permissions protect them;
- shared (PostgreSQL control plane): rows of the control database's ``signing_keys`` table,
  so every API replica with the same ``--control`` signs and verifies with the same keys. The
  private keys are then protected by the database's access control: whoever may read that
  table can mint tokens, so grant it to the service's role only (and keep backups as secret).

A token whose kid this ring has not seen is looked up in the store before it is refused, so
a key made by another replica's rotation verifies at once.
"""

from __future__ import annotations

import re
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from workanalytics.auth.keystore import FileKeyStore, KeyStore

ISSUER = "workanalytics"
AUDIENCE = "dashboard"
TOKEN_TYPE = "access"
DEFAULT_LIFETIME_S = 1800
#: What a kid of ours looks like (``rotate`` makes ``20260601T000000Z-1a2b3c4d``); anything
#: else is refused before it gets near a file name.
KID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")

Clock = Callable[[], float]


class TokenError(Exception):
    """Base of why a token is refused; ``kind`` picks the API's error body."""

    kind = "invalid"


class MalformedToken(TokenError):
    kind = "malformed"


class ExpiredToken(TokenError):
    kind = "expired"


class InvalidToken(TokenError):
    kind = "invalid"


@dataclass(frozen=True)
class Claims:
    sub: str
    lid: str
    cid: str
    iat: int
    exp: int
    jti: str


class KeyRing:
    """The signing keys of one deployment, kept in a :class:`~.keystore.KeyStore`."""

    def __init__(
        self, store: KeyStore, *, lifetime_s: int = DEFAULT_LIFETIME_S, clock: Clock = time.time
    ):
        self.store = store
        self.lifetime_s = lifetime_s
        self.clock = clock
        self._cache: dict[str, tuple[object, object]] = {}

    @classmethod
    def in_directory(
        cls, directory: Path, *, lifetime_s: int = DEFAULT_LIFETIME_S, clock: Clock = time.time
    ) -> KeyRing:
        """A ring whose keys are files in ``directory`` (the embedded configuration)."""
        return cls(FileKeyStore(directory), lifetime_s=lifetime_s, clock=clock)

    # --- keys ----------------------------------------------------------------------------

    def ensure(self) -> str:
        """The active kid, creating the first key when there is none."""
        kid = self.store.active_kid()
        if kid is not None:
            return kid
        kid, pem = self._new_key()
        # Another replica may have made the first key meanwhile: then that one signs.
        return self.store.install(kid, pem, int(self.clock()), only_if_none=True)

    def active_kid(self) -> str | None:
        return self.store.active_kid()

    def rotate(self) -> str:
        """Make a new key the signer; returns its kid."""
        kid, pem = self._new_key()
        kid = self.store.install(kid, pem, int(self.clock()))
        self.prune()
        return kid

    def _new_key(self) -> tuple[str, bytes]:
        kid = (
            time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self.clock())) + "-" + secrets.token_hex(4)
        )
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return kid, pem

    def prune(self) -> list[str]:
        """Remove keys retired longer ago than a token lives: nothing they signed is valid."""
        now = self.clock()
        removed = [kid for kid, at in self.store.retired() if now - at > self.lifetime_s + 60]
        self.store.remove(removed)
        for kid in removed:
            self._cache.pop(kid, None)
        return removed

    def _private_key(self, kid: str):
        """``kid``'s key, parsed once and kept while the store says it is unchanged."""
        stamp = self.store.stamp(kid)
        cached = self._cache.get(kid)
        if cached is not None and stamp is not None and cached[0] == stamp:
            return cached[1]
        pem = self.store.load(kid)
        if pem is None:
            self._cache.pop(kid, None)
            return None
        key = serialization.load_pem_private_key(pem, password=None)
        self._cache[kid] = (self.store.stamp(kid), key)
        return key

    # --- tokens --------------------------------------------------------------------------

    def issue(self, *, user_id: str, username: str, customer_id: str) -> tuple[str, int]:
        """A signed token and its lifetime in seconds."""
        kid = self.ensure()
        now = int(self.clock())
        claims = {
            "sub": user_id,
            "lid": username,
            "cid": customer_id,
            "iss": ISSUER,
            "aud": AUDIENCE,
            "typ": TOKEN_TYPE,
            "iat": now,
            "exp": now + self.lifetime_s,
            "jti": str(uuid.uuid4()),
        }
        token = jwt.encode(claims, self._private_key(kid), algorithm="RS256", headers={"kid": kid})
        return token, self.lifetime_s

    def verify(self, token: str) -> Claims:
        """The claims of a valid token, else the :class:`TokenError` that says why not."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise MalformedToken() from None
        except jwt.PyJWTError:  # decodable, but e.g. a kid that is not a string
            raise InvalidToken() from None
        kid = header.get("kid")
        if (
            header.get("alg") != "RS256"
            or not isinstance(kid, str)
            or not KID_PATTERN.fullmatch(kid)
        ):
            raise InvalidToken()
        key = self._private_key(kid)
        if key is None:
            raise InvalidToken()
        try:
            claims = jwt.decode(
                token,
                key.public_key(),
                algorithms=["RS256"],
                audience=AUDIENCE,
                issuer=ISSUER,
                # Time claims are read on our clock below, not on PyJWT's wall clock.
                options={
                    "require": ["exp", "iat", "sub", "cid", "lid", "jti"],
                    "verify_exp": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidSignatureError:
            raise InvalidToken() from None
        except jwt.DecodeError:
            raise MalformedToken() from None
        except jwt.PyJWTError:
            raise InvalidToken() from None
        if claims.get("typ") != TOKEN_TYPE:
            raise InvalidToken()
        # Expiry is checked on our clock, so tests can move time.
        if int(claims["exp"]) <= self.clock():
            raise ExpiredToken()
        return Claims(
            sub=str(claims["sub"]),
            lid=str(claims["lid"]),
            cid=str(claims["cid"]),
            iat=int(claims["iat"]),
            exp=int(claims["exp"]),
            jti=str(claims["jti"]),
        )
