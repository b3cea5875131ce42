"""Access tokens: logging in, keeping a token, and knowing when to get a new one.

A token is fetched on first use and reused until ``renew_margin`` seconds before its
``expires_in`` runs out (measured on the client's clock from when the login was sent, so
never later than the server's expiry). A refused token (401) is forgotten and replaced by
one new login; the clients do that.

:class:`TokenCache` keeps tokens in memory and, optionally, in a JSON file (mode 0600, in a
directory of mode 0700) so that repeated command-line calls log in once per token lifetime.
Entries are keyed by a hash of the base URL, a hash of the API key and the username; the
password is never written anywhere.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson

from workanalytics.client.errors import APIError, error_from_response
from workanalytics.client.retry import RetryPolicy, send_with_retries
from workanalytics.client.steps import Flow

TOKEN_PATH = "/v1/oauth/token"
API_KEY_HEADER = "8x8-apikey"
#: Renew this long before expiry (8x8 suggests one to two minutes), at most a quarter of
#: the token's lifetime.
DEFAULT_RENEW_MARGIN = 90.0

Password = str | Callable[[], str]


@dataclass(frozen=True)
class Token:
    access_token: str
    #: Epoch seconds on the client's clock: when the login was sent plus ``expires_in``.
    expires_at: float
    expires_in: float

    def usable(self, now: float, margin: float = DEFAULT_RENEW_MARGIN) -> bool:
        return now < self.expires_at - min(margin, self.expires_in / 4)


def cache_key(base_url: str, api_key: str, username: str) -> str:
    """Whose token an entry is: base URL, API key (hashed) and username, hashed together."""
    key_hash = hashlib.sha256(api_key.encode()).hexdigest()
    material = "\n".join((normalize_base_url(base_url), key_hash, username))
    return hashlib.sha256(material.encode()).hexdigest()


def normalize_base_url(base_url: str) -> str:
    return base_url.rstrip("/")


def default_cache_path() -> Path:
    """``$WORKANALYTICS_TOKEN_CACHE``, else ``$XDG_CACHE_HOME/workanalytics/tokens.json``,
    else ``~/.cache/workanalytics/tokens.json``."""
    explicit = os.environ.get("WORKANALYTICS_TOKEN_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "workanalytics" / "tokens.json"


class TokenCache:
    """Tokens by :func:`cache_key`, in memory and optionally in a private file.

    A file that is not a regular file owned by this user with mode 0600 (or narrower) is
    ignored as if empty, and replaced on the next write.
    """

    def __init__(self, path: Path | str | None = None):
        self.path = Path(path).expanduser() if path is not None else None
        self._memory: dict[str, Token] = {}
        self._lock = threading.Lock()

    # --- in memory, backed by the file ----------------------------------------------------

    def get(self, key: str, now: float, margin: float = DEFAULT_RENEW_MARGIN) -> Token | None:
        with self._lock:
            token = self._memory.get(key)
            if token is None or not token.usable(now, margin):
                token = self._read_file().get(key)
                if token is not None:
                    self._memory[key] = token
            return token if token is not None and token.usable(now, margin) else None

    def put(self, key: str, token: Token, now: float) -> None:
        with self._lock:
            self._memory[key] = token
            if self.path is not None:
                entries = {k: t for k, t in self._read_file().items() if t.expires_at > now}
                entries[key] = token
                self._write_file(entries)

    def forget(self, key: str, access_token: str) -> None:
        """Drop ``access_token`` (the server refused it) wherever it is kept."""
        with self._lock:
            if (t := self._memory.get(key)) is not None and t.access_token == access_token:
                del self._memory[key]
            if self.path is not None:
                entries = self._read_file()
                if (t := entries.get(key)) is not None and t.access_token == access_token:
                    del entries[key]
                    self._write_file(entries)

    # --- the file -----------------------------------------------------------------------

    def _trusted(self) -> bool:
        assert self.path is not None
        try:
            st = self.path.lstat()
        except OSError:
            return False
        if not stat.S_ISREG(st.st_mode) or st.st_mode & 0o177:
            return False
        return not hasattr(os, "getuid") or st.st_uid == os.getuid()

    def _read_file(self) -> dict[str, Token]:
        if self.path is None or not self._trusted():
            return {}
        try:
            data = orjson.loads(self.path.read_bytes())
            tokens = data["tokens"]
            return {
                k: Token(str(v["access_token"]), float(v["expires_at"]), float(v["expires_in"]))
                for k, v in tokens.items()
            }
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            return {}  # unreadable or from another version: start afresh

    def _write_file(self, entries: dict[str, Token]) -> None:
        assert self.path is not None
        directory = self.path.parent
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            os.chmod(directory, 0o700)
        body = orjson.dumps(
            {
                "version": 1,
                "tokens": {
                    k: {
                        "access_token": t.access_token,
                        "expires_at": t.expires_at,
                        "expires_in": t.expires_in,
                    }
                    for k, t in entries.items()
                },
            }
        )
        tmp = directory / f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(body)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)  # atomic: a concurrent reader sees old or new
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def login_flow(
    base_url: str,
    api_key: str,
    username: str,
    password: Password,
    *,
    policy: RetryPolicy,
    clock: Callable[[], float],
    headers: dict[str, str],
) -> Flow[Token]:
    """``POST /v1/oauth/token`` as 8x8's guide sends it; the token, or the error raised."""
    secret = password() if callable(password) else password
    url = normalize_base_url(base_url) + TOKEN_PATH

    def build() -> httpx.Request:
        return httpx.Request(
            "POST",
            url,
            headers={**headers, API_KEY_HEADER: api_key},
            data={"username": username, "password": secret},
        )

    sent_at = clock()
    response = yield from send_with_retries(build, policy)
    if response.status_code != 200:
        raise error_from_response(response.status_code, response.content, response.headers, url=url)
    try:
        body = orjson.loads(response.content)
        access_token = body["access_token"]
        expires_in = float(body.get("expires_in", 1800))
        if not isinstance(access_token, str) or not access_token:
            raise TypeError
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        raise APIError(
            f"unexpected answer to the login at {url}: no access_token",
            status=response.status_code,
            body=response.content,
            url=url,
        ) from None
    return Token(access_token, sent_at + expires_in, expires_in)
