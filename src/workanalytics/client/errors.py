"""The client's errors: one class per kind of answer, built from the body in one place.

The API answers errors in three shapes (``api.md``): the gateway's ``{"status", "message",
"code", "details"}`` (SHA001, INVALID_PARAMETER), OAuth's ``{"error", "error_description"}``
(invalid_grant, invalid_token, ...), and Spring's 403 map. :func:`error_from_response` reads
any of them, and whatever else a server sends, into the hierarchy below::

    WorkAnalyticsError
    ├── APIConnectionError              no answer (connection refused, reset, timeout)
    └── APIError                        an answer other than 200
        ├── AuthenticationError
        │   ├── InvalidApiKeyError      400 SHA001
        │   ├── InvalidGrantError       400 invalid_grant (and invalid_request)
        │   └── InvalidTokenError       401 invalid_token / unauthorized
        │       └── TokenExpiredError   401 "Access token expired"
        ├── AccessDeniedError           403, with .pbx_id and .username
        ├── RateLimitedError            429, with .retry_after
        ├── InvalidParameterError       400 INVALID_PARAMETER, with .parameter and .hint
        └── ServerError                 5xx

Every error carries ``status`` (None when there was no answer), ``code`` (the body's
``code`` or ``error``) and ``body`` (the raw bytes). ``str(error)`` is one line, fit for a
command line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import orjson

__all__ = [
    "APIConnectionError",
    "APIError",
    "AccessDeniedError",
    "AuthenticationError",
    "InvalidApiKeyError",
    "InvalidGrantError",
    "InvalidParameterError",
    "InvalidTokenError",
    "RateLimitedError",
    "ServerError",
    "TokenExpiredError",
    "WorkAnalyticsError",
    "error_from_response",
]


class WorkAnalyticsError(Exception):
    """Base of every error the client raises."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        body: bytes | None = None,
        url: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.body = body
        self.url = url

    @property
    def json(self) -> Any:
        """The body parsed as JSON, or None when it is not JSON."""
        if not self.body:
            return None
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError:
            return None

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status}, code={self.code!r})"


class APIConnectionError(WorkAnalyticsError):
    """The server could not be reached or did not answer, after every retry."""


class APIError(WorkAnalyticsError):
    """The server answered with an error; also the class of answers no subclass names."""


class AuthenticationError(APIError):
    """The API key, the credentials or the token were refused."""


class InvalidApiKeyError(AuthenticationError):
    """400 SHA001: the ``8x8-apikey`` is missing, unknown or revoked."""


class InvalidGrantError(AuthenticationError):
    """400 invalid_grant: unknown user or wrong password (one answer for both);
    also 400 invalid_request (username or password missing)."""


class InvalidTokenError(AuthenticationError):
    """401: the bearer token is missing, malformed, invalid or expired; the client has
    already logged in again once."""


class TokenExpiredError(InvalidTokenError):
    """401 invalid_token, "Access token expired"."""


class AccessDeniedError(APIError):
    """403: the user may not see a PBX (or it does not exist; the API does not say which)."""

    def __init__(
        self, message: str, *, pbx_id: str | None = None, username: str | None = None, **kw
    ):
        super().__init__(message, **kw)
        self.pbx_id = pbx_id
        self.username = username


class RateLimitedError(APIError):
    """429: too many requests (or failed logins). ``retry_after`` is in seconds, or None."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw):
        super().__init__(message, **kw)
        self.retry_after = retry_after


class InvalidParameterError(APIError, ValueError):
    """400 INVALID_PARAMETER, or a parameter the client refused before sending (then
    ``status`` is None). ``parameter`` is the API's name: pbxId, startTime, endTime, timeZone."""

    def __init__(
        self, message: str, *, parameter: str | None = None, hint: str | None = None, **kw
    ):
        kw.setdefault("code", "INVALID_PARAMETER")
        super().__init__(message, **kw)
        self.parameter = parameter
        self.hint = hint


class ServerError(APIError):
    """5xx: the server failed, after every retry."""


_ACCESS_DENIED = re.compile(r"user\((?P<user>.*)\) does not have access to pbxId\((?P<pbx>.*)\)")


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = datetime.now(UTC).timestamp() if now is None else now
    return max(0.0, when.timestamp() - current)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def error_from_response(
    status: int,
    body: bytes,
    headers: Mapping[str, str] | None = None,
    *,
    url: str | None = None,
) -> APIError:
    """The error an answer stands for. Reads the body first, the status second, so a
    SHA001 body is an invalid key whatever its status."""
    headers = headers or {}
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        data = None
    obj: Mapping[str, Any] = data if isinstance(data, Mapping) else {}
    code = _text(obj.get("code"))
    error = _text(obj.get("error"))
    description = _text(obj.get("error_description"))
    message = _text(obj.get("message"))
    common: dict[str, Any] = {"status": status, "body": body, "url": url}

    if code == "SHA001":
        return InvalidApiKeyError(
            f"invalid API key (SHA001): {message or 'Invalid 8x8-apikey'}", code=code, **common
        )
    if code == "INVALID_PARAMETER":
        details = obj.get("details")
        detail = details[0] if isinstance(details, list) and details else {}
        detail = detail if isinstance(detail, Mapping) else {}
        path = detail.get("path")
        parameter = path[0] if isinstance(path, list) and path else None
        hint = _text(detail.get("hint"))
        text = f"invalid parameter {parameter}: {message or 'refused'}"
        if hint:
            text += f" ({hint})"
        return InvalidParameterError(text, parameter=parameter, hint=hint, code=code, **common)
    if error in ("invalid_grant", "invalid_request"):
        return InvalidGrantError(
            f"login refused ({error}): {description or 'check the username and password'}",
            code=error,
            **common,
        )
    if error in ("invalid_token", "unauthorized") or status == 401:
        cls = TokenExpiredError if description == "Access token expired" else InvalidTokenError
        return cls(
            f"token refused ({error or status}): {description or 'unauthorized'}",
            code=error,
            **common,
        )
    if status == 403:
        text = _text(obj.get("exception")) or message or "Access Denied"
        m = _ACCESS_DENIED.search(text)
        return AccessDeniedError(
            f"access denied (HTTP 403): {text}",
            pbx_id=m.group("pbx") if m else None,
            username=m.group("user") if m else None,
            code=code or error,
            **common,
        )
    if status == 429 or error == "too_many_requests":
        retry_after = parse_retry_after(headers.get("retry-after"))
        text = f"rate limited (HTTP {status})"
        if description or message:
            text += f": {description or message}"
        if retry_after is not None and "retry after" not in text.lower():
            text += f"; retry after {retry_after:g} s"
        return RateLimitedError(text, retry_after=retry_after, code=error or code, **common)
    if status >= 500:
        snippet = message or error or body[:200].decode("utf-8", "replace").strip()
        return ServerError(
            f"server error (HTTP {status}){': ' + snippet if snippet else ''}",
            code=code or error,
            **common,
        )
    snippet = message or description or error or body[:200].decode("utf-8", "replace").strip()
    return APIError(
        f"unexpected answer (HTTP {status}){': ' + snippet if snippet else ''}",
        code=code or error,
        **common,
    )
