"""Access tokens: RS256 JWTs with the claims of api.md, signed by a rotating key ring.

Each signing key is a PEM file in ``DATA_DIR/keys`` readable by its owner only, named by its
``kid``. ``rotate`` makes a new key the signer; older keys still verify until every token
they signed has expired, then they are removed.
"""

from __future__ import annotations

import os
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


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


class KeyRing:
    """The signing keys of one data directory."""

    def __init__(
        self, directory: Path, *, lifetime_s: int = DEFAULT_LIFETIME_S, clock: Clock = time.time
    ):
        self.directory = directory
        self.lifetime_s = lifetime_s
        self.clock = clock
        self._cache: dict[str, tuple[float, object]] = {}

    # --- files ---------------------------------------------------------------------------

    def _active_file(self) -> Path:
        return self.directory / "active"

    def ensure(self) -> str:
        """The active kid, creating the first key when there is none."""
        if not self._active_file().exists():
            return self.rotate()
        return self.active_kid()

    def active_kid(self) -> str:
        return self._active_file().read_text().strip()

    def rotate(self) -> str:
        """Make a new key the signer; returns its kid."""
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        kid = (
            time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self.clock())) + "-" + secrets.token_hex(4)
        )
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write_private(self.directory / f"{kid}.pem", pem)
        old = self._active_file().read_text().strip() if self._active_file().exists() else None
        tmp = self.directory / "active.tmp"
        tmp.write_text(kid)
        os.replace(tmp, self._active_file())
        if old:
            (self.directory / f"{old}.retired").write_text(str(int(self.clock())))
        self.prune()
        return kid

    def prune(self) -> list[str]:
        """Remove keys retired longer ago than a token lives: nothing they signed is valid."""
        removed = []
        now = self.clock()
        for marker in self.directory.glob("*.retired"):
            kid = marker.stem
            if now - int(marker.read_text().strip() or 0) > self.lifetime_s + 60:
                (self.directory / f"{kid}.pem").unlink(missing_ok=True)
                marker.unlink(missing_ok=True)
                self._cache.pop(kid, None)
                removed.append(kid)
        return removed

    def _private_key(self, kid: str):
        path = self.directory / f"{kid}.pem"
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            return None
        cached = self._cache.get(kid)
        if cached is None or cached[0] != mtime:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            self._cache[kid] = (mtime, key)
            cached = self._cache[kid]
        return cached[1]

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
