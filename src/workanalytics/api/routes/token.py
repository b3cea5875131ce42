"""POST /v1/oauth/token: an access token for a user, against an API key."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Depends, Form, Request, Response

from workanalytics.api import errors
from workanalytics.api.deps import api_key, services
from workanalytics.api.services import Services
from workanalytics.control.plane import ApiKey

router = APIRouter(tags=["Authentication"])


@router.post(
    "/v1/oauth/token",
    summary="Get an access token",
    responses={
        200: {"description": '{"access_token": JWT, "token_type": "bearer", "expires_in": 1800}'},
        400: {"description": "SHA001 (API key), invalid_request or invalid_grant"},
        429: {"description": "too many failed logins; see Retry-After"},
    },
)
def issue_token(
    request: Request,
    key: ApiKey = Depends(api_key),
    username: str | None = Form(None),
    password: str | None = Form(None),
    svc: Services = Depends(services),
) -> Response:
    if not username or not password:
        raise errors.invalid_request()
    address = request.client.host if request.client else "unknown"
    wait = svc.throttle.retry_after(username, address)
    if wait is not None:
        raise errors.too_many_requests(wait)
    user = svc.control.authenticate(key.customer_id, username, password)
    if user is None:
        svc.throttle.failed(username, address)
        raise errors.invalid_grant()
    svc.throttle.succeeded(username)
    token, lifetime = svc.keys.issue(
        user_id=user.id, username=user.username, customer_id=user.customer_id
    )
    body = {"access_token": token, "token_type": "bearer", "expires_in": lifetime}
    return Response(orjson.dumps(body), media_type="application/json")
