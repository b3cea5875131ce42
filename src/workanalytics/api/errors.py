"""The API's error bodies, exactly as api.md writes them, as one exception type.

Bodies are pre-serialised bytes: an error is answered without walking objects, and the
SHA001 body is byte-for-byte 8x8's.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

SHA001_BODY = (
    b'{"status":400,"message":"Invalid 8x8-apikey","code":"SHA001","details":[{"type":'
    b'"invalidValue","location":"header","path":["8x8-apikey"],"hint":"Please provide valid '
    b"apikey. If you don't have one, please sign up and create a developer account\"}]}"
)


class ApiError(Exception):
    """An answer other than 200: a status, a body, and maybe headers."""

    def __init__(self, status: int, body: bytes, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def invalid_api_key() -> ApiError:
    return ApiError(400, SHA001_BODY)


def unauthorized() -> ApiError:
    return ApiError(
        401,
        orjson.dumps(
            {
                "error": "unauthorized",
                "error_description": "Full authentication is required to access this resource",
            }
        ),
    )


_TOKEN_DESCRIPTIONS = {
    "malformed": "Cannot convert access token to JSON",
    "expired": "Access token expired",
    "invalid": "Invalid access token",
}


def invalid_token(kind: str) -> ApiError:
    return ApiError(
        401,
        orjson.dumps({"error": "invalid_token", "error_description": _TOKEN_DESCRIPTIONS[kind]}),
    )


def access_denied(username: str, pbx_id: str, path: str, now: datetime | None = None) -> ApiError:
    now = (now or datetime.now(UTC)).astimezone(UTC)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}+0000"
    text = f"user({username}) does not have access to pbxId({pbx_id}) to make this request."
    return ApiError(
        403,
        orjson.dumps(
            {
                "timeStamp": stamp,
                "status": 403,
                "error": "Access Denied",
                "exception": text,
                "message": text,
                "path": path,
            }
        ),
    )


def invalid_parameter(parameter: str, message: str, hint: str, *, missing: bool) -> ApiError:
    return ApiError(
        400,
        orjson.dumps(
            {
                "status": 400,
                "message": message,
                "code": "INVALID_PARAMETER",
                "details": [
                    {
                        "type": "missingValue" if missing else "invalidValue",
                        "location": "query",
                        "path": [parameter],
                        "hint": hint,
                    }
                ],
            }
        ),
    )


def invalid_request() -> ApiError:
    return ApiError(
        400,
        orjson.dumps(
            {"error": "invalid_request", "error_description": "username and password are required"}
        ),
    )


def invalid_grant() -> ApiError:
    # Key order as 8x8 sends it.
    return ApiError(400, b'{"error_description":"USER_NOTFOUND_ERROR","error":"invalid_grant"}')


def too_many_requests(retry_after: int) -> ApiError:
    return ApiError(
        429,
        orjson.dumps(
            {
                "error": "too_many_requests",
                "error_description": f"too many failed logins; retry after {retry_after} s",
            }
        ),
        {"Retry-After": str(retry_after)},
    )


def server_error() -> ApiError:
    return ApiError(500, orjson.dumps({"status": 500, "error": "Internal Server Error"}))


def store_unavailable() -> ApiError:
    """The store (a ClickHouse server, say) did not answer: a retry may succeed."""
    return ApiError(
        503,
        orjson.dumps({"status": 503, "error": "Service Unavailable"}),
        {"Retry-After": "5"},
    )
