"""The dashboard's routes: the page, its static files, and what the page needs to know.

- ``GET /`` and ``GET /analytics/work/ui``: the page (``static/index.html``).
- ``GET /analytics/work/ui/static/{path}``: its scripts, styles and icon, from this package.
- ``GET /analytics/work/ui/fields.json``: the 45 fields, generated from :data:`metrics.FIELDS`
  (the page lists no field itself), with the default columns and how a totals row adds up.
- ``GET /analytics/work/ui/zones.json``: the time zones the report accepts.
- ``GET /analytics/work/ui/pbxes``: the PBXs the signed-in user may see (same API key and
  bearer token as a report, same error bodies).

None of these is part of 8x8's contract, so none is in the OpenAPI document.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from zoneinfo import available_timezones

import orjson
from fastapi import APIRouter, Depends, Request, Response
from starlette.staticfiles import StaticFiles

from workanalytics import metrics
from workanalytics.api.deps import current_user, services
from workanalytics.api.services import Services
from workanalytics.control.plane import User

#: ``api.app.BASE_PATH`` + ``/ui`` (api.app imports this module, so it is not imported here;
#: a test holds the two together).
UI_PATH = "/analytics/work/ui"
STATIC_DIR = Path(__file__).parent / "static"

router = APIRouter(include_in_schema=False)

#: Sent with the page and its files: everything comes from this server, nothing inline.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
#: Revalidate on every load (cheap: ETag and Last-Modified), so an upgrade shows at once.
_REVALIDATE = {"Cache-Control": "no-cache"}

_static = StaticFiles(directory=STATIC_DIR)
#: The page and its files answer HEAD too (load balancers, ``curl -I``).
_GET = ["GET", "HEAD"]


# --- what the page is told about the fields ---------------------------------------------------

_LABELS = {
    "PbxId": "PBX",
    "Extension": "Ext.",
    "ServiceType": "Service type",
    "FirstName": "First name",
    "LastName": "Last name",
    "UserName": "Username",
}
_UNITS = {
    "directory": "text",
    "count": "count",
    "percent": "percent",
    "duration": "ms",
    "average": "ms",
}
#: Column-chooser groups, by the part of the name that says what is counted.
_GROUPS = (
    ("External_Inbound", "External inbound"),
    ("External_Outbound", "External outbound"),
    ("Internal_Inbound", "Internal inbound"),
    ("Internal_Outbound", "Internal outbound"),
    ("Inbound_", "Inbound"),
    ("Outbound_", "Outbound"),
    ("Total_", "Totals"),
)


def _label(field: metrics.Field) -> str:
    if field.name in _LABELS:
        return _LABELS[field.name]
    words = field.name.split("_")
    if words[0] == "Percent":
        return "% " + " ".join(w if w == "VM" else w.lower() for w in words[1:])
    return " ".join(w if i == 0 or w == "VM" else w.lower() for i, w in enumerate(words))


def _group(field: metrics.Field) -> str:
    if field.kind == "directory":
        return "Directory"
    if field.kind in ("duration", "average"):
        return "Times"
    for part, group in _GROUPS:
        if part in field.name:
            return group
    raise AssertionError(field.name)


def _total(field: metrics.Field) -> dict | None:
    """How the totals row gets this field from the rows, or None when it cannot.

    Counts and durations add up. A ratio of two fields is recomputed from their totals
    (``floor(scale * sum(num) / sum(den))``, 0 when the divisor is 0), exactly as the engine
    computes a row. A ratio over a number the answer does not carry (Avg_Ring_Time divides by
    the legs that rang) has no total.
    """
    if field.additive:
        return {"op": "sum"}
    op, *args = field.formula
    if op == "ratio" and args[0] in metrics.FIELD_BY_NAME and args[1] in metrics.FIELD_BY_NAME:
        return {"op": "ratio", "num": args[0], "den": args[1], "scale": int(args[2])}
    return None


def fields_document() -> dict:
    """The body of ``fields.json``."""
    return {
        "version": 2,
        "fields": [
            {
                "name": f.name,
                "position": f.position,
                "kind": f.kind,
                "unit": _UNITS[f.kind],
                "label": _label(f),
                "group": _group(f),
                "inV1": f.in_v1,
                "definition": f.definition,
                "total": _total(f),
            }
            for f in metrics.FIELDS
        ],
        "defaultColumns": list(metrics.DEFAULT_TABLE_FIELDS),
    }


@cache
def _fields_json() -> bytes:
    return orjson.dumps(fields_document())


@cache
def _zones_json() -> bytes:
    return orjson.dumps(sorted(available_timezones()))


@cache
def _page() -> bytes:
    return (STATIC_DIR / "index.html").read_bytes()


# --- routes -------------------------------------------------------------------------------------


def _page_response() -> Response:
    return Response(
        _page(), media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS | _REVALIDATE
    )


@router.api_route("/", methods=_GET)
def page_at_root() -> Response:
    return _page_response()


@router.api_route(UI_PATH, methods=_GET)
def page() -> Response:
    return _page_response()


@router.api_route(UI_PATH + "/static/{path:path}", methods=_GET)
async def static_file(path: str, request: Request) -> Response:
    # StaticFiles refuses paths that leave the directory (404) and answers conditional
    # requests (304).
    response = await _static.get_response(path, request.scope)
    response.headers.update(SECURITY_HEADERS | _REVALIDATE)
    return response


@router.api_route(UI_PATH + "/fields.json", methods=_GET)
def fields_json() -> Response:
    return Response(_fields_json(), media_type="application/json", headers=_REVALIDATE)


@router.api_route(UI_PATH + "/zones.json", methods=_GET)
def zones_json() -> Response:
    return Response(_zones_json(), media_type="application/json", headers=_REVALIDATE)


@router.get(UI_PATH + "/pbxes")
def pbxes(user: User = Depends(current_user), svc: Services = Depends(services)) -> Response:
    """The signed-in user's PBXs: what ``allpbxes`` means for them."""
    body = {"username": user.username, "pbxIds": svc.control.entitled_pbxes(user)}
    return Response(orjson.dumps(body), media_type="application/json")
