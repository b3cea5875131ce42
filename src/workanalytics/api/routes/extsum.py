"""GET /v2/extsum and /v1/extsum: the Extension Summary."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response

from workanalytics.api import errors
from workanalytics.api.deps import current_user, services
from workanalytics.api.services import Services
from workanalytics.control.plane import User
from workanalytics.report import PbxParameterError, UnknownPbxError, extension_summary_json
from workanalytics.timewindow import TIME_FORMAT_HINT, ZONE_HINT, WindowError

router = APIRouter(tags=["Extension Summary"])

PBX_HINT = "expected a PBX name, a comma-separated list of names, or allpbxes"
#: Hints of the INVALID_PARAMETER body, by query parameter.
PARAMETER_HINTS = {
    "pbxId": PBX_HINT,
    "startTime": TIME_FORMAT_HINT,
    "endTime": TIME_FORMAT_HINT,
    "timeZone": ZONE_HINT,
}

_RESPONSES = {
    200: {"description": "JSON array, one object per (PbxId, Extension), fields in spec order"},
    400: {"description": "SHA001 (API key) or INVALID_PARAMETER"},
    401: {"description": "unauthorized or invalid_token"},
    403: {"description": "Access Denied: a named PBX the user may not see, or that does not exist"},
}


def _answer(
    request: Request, svc: Services, user: User, version: int,
    pbx_id: str, start_time: str, end_time: str, time_zone: str,
) -> Response:  # fmt: skip
    try:
        body = extension_summary_json(
            svc.store,
            pbx_id,
            start_time,
            end_time,
            time_zone,
            version=version,
            allowed_pbx_ids=svc.control.entitled_pbxes(user),
            retention_years=svc.settings.retention_years,
            clock=svc.now,
        )
    except WindowError as exc:
        raise errors.invalid_parameter(
            exc.parameter, exc.message, exc.hint, missing=exc.missing
        ) from None
    except PbxParameterError as exc:
        raise errors.invalid_parameter("pbxId", str(exc), PBX_HINT, missing=exc.missing) from None
    except UnknownPbxError as exc:
        raise errors.access_denied(user.username, exc.pbx_id, request.url.path, svc.now()) from None
    return Response(body, media_type="application/json")


def _endpoint(version: int):
    """The handler of one version; both versions take the same query and auth."""

    def extsum(
        request: Request,
        pbx_id: str = Query(
            ..., alias="pbxId", description="PBX name, comma-separated names, or allpbxes"
        ),
        start_time: str = Query(..., alias="startTime", description="YYYY-MM-DD HH:MM:SS, local"),
        end_time: str = Query(
            ..., alias="endTime", description="YYYY-MM-DD HH:MM:SS, its second included"
        ),
        time_zone: str = Query(..., alias="timeZone", description="IANA zone, e.g. Europe/London"),
        user: User = Depends(current_user),
        svc: Services = Depends(services),
    ) -> Response:
        return _answer(request, svc, user, version, pbx_id, start_time, end_time, time_zone)

    extsum.__name__ = f"extsum_v{version}"
    return extsum


router.add_api_route(
    "/v2/extsum", _endpoint(2), methods=["GET"], summary="Extension Summary", responses=_RESPONSES
)
router.add_api_route(
    "/v1/extsum",
    _endpoint(1),
    methods=["GET"],
    summary="Extension Summary (deprecated v1)",
    deprecated=True,
    responses=_RESPONSES,
)
