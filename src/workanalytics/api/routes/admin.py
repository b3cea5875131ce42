"""POST /admin/v1/legs: legs streamed in while reports are served (admin API keys only)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from workanalytics.api import errors
from workanalytics.api.deps import admin_api_key, services
from workanalytics.api.services import Services
from workanalytics.control.plane import ApiKey
from workanalytics.ingest.sources import SourceError, open_source
from workanalytics.store.base import IngestRejected, IngestReport

router = APIRouter(tags=["Administration"])

#: Body media types, and the ingest format each one means.
CONTENT_TYPES = {
    "text/csv": "csv",
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/vnd.apache.parquet": "parquet",
    "application/x-parquet": "parquet",
    "application/json": "8x8-json",
}
_SUFFIX = {"csv": ".csv", "jsonl": ".jsonl", "parquet": ".parquet", "8x8-json": ".json"}


def _bad_request(message: str) -> errors.ApiError:
    return errors.ApiError(
        400, orjson.dumps({"status": 400, "code": "BAD_REQUEST", "message": message})
    )


def _report_body(report: IngestReport, pbxes_added: list[str], path: Path) -> bytes:
    return orjson.dumps(
        {
            "rows": report.rows_read,
            "stored": report.legs_stored,
            "replaced": report.legs_replaced,
            "rejected": report.rejected,
            "rejectedRows": _row_errors(report.errors, path),
            "pbxIds": report.pbx_ids,
            "pbxesAdded": pbxes_added,
        }
    )


@router.post(
    "/admin/v1/legs",
    summary="Ingest call legs",
    description=(
        "Body: canonical CSV (text/csv), JSON Lines (application/x-ndjson), Parquet "
        "(application/vnd.apache.parquet) or 8x8 call-legs JSON (application/json). "
        "Atomic: a body with a bad row stores nothing unless skipInvalid=true."
    ),
)
async def ingest_legs(
    request: Request,
    fmt: str | None = Query(None, alias="format", description="override the Content-Type"),
    skip_invalid: bool = Query(False, alias="skipInvalid"),
    key: ApiKey = Depends(admin_api_key),
    svc: Services = Depends(services),
) -> Response:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    name = fmt or CONTENT_TYPES.get(media)
    # Only the formats a body can carry whole: PBX records need a zone or a folder.
    if name not in _SUFFIX:
        raise _bad_request(
            f"unknown body format {fmt or media!r}; send Content-Type one of "
            f"{', '.join(sorted(CONTENT_TYPES))} or ?format= one of {', '.join(sorted(_SUFFIX))}"
        )
    tmp_dir = svc.settings.data_dir / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, raw_path = tempfile.mkstemp(prefix="upload-", suffix=_SUFFIX[name], dir=tmp_dir)
    path = Path(raw_path)
    try:
        with os.fdopen(fd, "wb") as fh:
            async for chunk in request.stream():
                fh.write(chunk)
        return await run_in_threadpool(_ingest_file, svc, key, path, name, skip_invalid)
    finally:
        path.unlink(missing_ok=True)


def _ingest_file(svc: Services, key: ApiKey, path: Path, fmt: str, skip_invalid: bool) -> Response:
    owners = svc.control.pbx_owners()

    def only_own_pbxes(pbx_ids: list[str]) -> None:
        foreign = [p for p in pbx_ids if owners.get(p, key.customer_id) != key.customer_id]
        if foreign:
            raise _ForeignPbx(foreign)

    with svc.ingest_lock:
        rejects = path.with_suffix(".rejects.csv")
        try:
            source = open_source(path, fmt, known_extensions=svc.store.directory_extensions())
            report = svc.store.ingest(
                source, skip_invalid=skip_invalid, reject_path=rejects, check_pbx_ids=only_own_pbxes
            )
        except IngestRejected as exc:
            body = {
                "status": 400,
                "code": "INGEST_REJECTED",
                "message": f"rejected, nothing stored: {exc.total} bad row(s)",
                "total": exc.total,
                "errors": _row_errors(exc.errors, path),
            }
            raise errors.ApiError(400, orjson.dumps(body)) from None
        except _ForeignPbx as exc:
            # Same answer whether another customer owns the PBX or not: names are not probed.
            message = f"this API key may not write legs of PBX(s) {', '.join(exc.pbx_ids)}"
            raise errors.ApiError(
                403, orjson.dumps({"status": 403, "error": "Access Denied", "message": message})
            ) from None
        except SourceError as exc:
            raise _bad_request(f"body: {exc.message}") from None
        finally:
            rejects.unlink(missing_ok=True)
        added = svc.control.adopt_pbxes(report.pbx_ids, customer_id=key.customer_id)
    body = _report_body(report, added, path)
    return Response(body, media_type="application/json")


class _ForeignPbx(Exception):
    def __init__(self, pbx_ids: list[str]):
        super().__init__(pbx_ids)
        self.pbx_ids = pbx_ids


def _row_errors(rows, path: Path) -> list[dict[str, str]]:
    # Row places name the upload, not a path on the server.
    return [{"where": e.where.replace(str(path), "body"), "reason": e.reason} for e in rows]
