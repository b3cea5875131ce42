"""The ASGI application: routers, error bodies, access log.

Every answer other than a report is one of :mod:`workanalytics.api.errors`' bodies; no
request, however malformed, sees a stack trace.
"""

from __future__ import annotations

import logging
import time

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workanalytics import __version__, ui
from workanalytics.api import errors
from workanalytics.api.routes import admin, extsum, health, token
from workanalytics.api.services import Services
from workanalytics.auth import passwords
from workanalytics.store import StoreError

BASE_PATH = "/analytics/work"
access_log = logging.getLogger("workanalytics.access")
error_log = logging.getLogger("workanalytics.error")


def _error_response(exc: errors.ApiError) -> Response:
    return Response(
        exc.body, status_code=exc.status, headers=exc.headers, media_type="application/json"
    )


async def _on_api_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.ApiError)
    return _error_response(exc)


async def _on_validation_error(_request: Request, exc: Exception) -> Response:
    """FastAPI's 422 becomes 8x8's 400 INVALID_PARAMETER, naming the first bad parameter."""
    assert isinstance(exc, RequestValidationError)
    problems = [e for e in exc.errors() if len(e.get("loc", ())) >= 2]
    order = list(extsum.PARAMETER_HINTS)
    problems.sort(key=lambda e: order.index(e["loc"][1]) if e["loc"][1] in order else len(order))
    if problems:
        name = str(problems[0]["loc"][1])
        missing = problems[0].get("type") == "missing"
        message = f"{name} is required" if missing else f"{name} is malformed"
        hint = extsum.PARAMETER_HINTS.get(name, "see the API documentation")
        return _error_response(errors.invalid_parameter(name, message, hint, missing=missing))
    return _error_response(errors.ApiError(400, b'{"status":400,"message":"malformed request"}'))


async def _on_http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    body = orjson.dumps({"status": exc.status_code, "message": exc.detail})
    return Response(body, status_code=exc.status_code, media_type="application/json")


async def _on_store_error(request: Request, exc: StoreError) -> Response:
    # The reason goes to the log (it names the server, never a password), not to the client.
    error_log.error("store unavailable on %s %s: %s", request.method, request.url.path, exc)
    return _error_response(errors.store_unavailable())


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    error_log.exception("unhandled error on %s %s", request.method, request.url.path)
    return _error_response(errors.server_error())


class AccessLog:
    """One JSON line per request: never headers, bodies or the query string's values."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            client = scope.get("client") or ("", 0)
            access_log.info(
                orjson.dumps(
                    {
                        "method": scope.get("method"),
                        "path": scope.get("path", "")[:300],
                        "status": status,
                        "ms": round((time.perf_counter() - started) * 1000, 2),
                        "client": client[0],
                    }
                ).decode()
            )


def _as_served(doc: dict) -> dict:
    """FastAPI's document, corrected to what the app does.

    - An operation needs every scheme it names together (8x8-apikey *and* the bearer token);
      FastAPI lists one requirement object per scheme, which OpenAPI reads as alternatives.
    - No 422: a malformed request is answered 400 (INVALID_PARAMETER or another 400 body).
    """
    for item in doc.get("paths", {}).values():
        for op in item.values():
            security = op.get("security")
            if security and len(security) > 1:
                op["security"] = [{k: v for req in security for k, v in req.items()}]
            op.get("responses", {}).pop("422", None)
    schemas = doc.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    return doc


def create_app(svc: Services) -> FastAPI:
    app = FastAPI(
        title="workanalytics: Work Analytics Historical",
        version=__version__,
        description="8x8's Work Analytics Historical API (Extension Summary), self-hosted.",
        openapi_url=f"{BASE_PATH}/openapi.json",
        docs_url=None,  # served below from local files: the docs work offline
        redoc_url=None,
    )
    app.state.services = svc
    passwords.prepare_logins()
    for router in (token.router, extsum.router, admin.router):
        app.include_router(router, prefix=BASE_PATH)
    app.include_router(health.router)
    app.include_router(ui.router)  # the dashboard at / (docs/dashboard.md)
    app.add_exception_handler(errors.ApiError, _on_api_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(StoreError, _on_store_error)
    app.add_exception_handler(Exception, _on_unexpected)
    app.add_middleware(AccessLog)

    fastapi_openapi = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = _as_served(fastapi_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    _mount_docs(app)
    return app


def _mount_docs(app: FastAPI) -> None:
    """Interactive docs at BASE_PATH/docs with Swagger UI's files from the installed package."""
    import swagger_ui_bundle
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles

    assets = f"{BASE_PATH}/docs-assets"
    app.mount(assets, StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-assets")

    @app.get(f"{BASE_PATH}/docs", include_in_schema=False)
    def docs() -> Response:
        return get_swagger_ui_html(
            openapi_url=f"{BASE_PATH}/openapi.json",
            title="workanalytics API",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon-32x32.png",
        )
