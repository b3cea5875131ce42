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
from workanalytics.ingest.sources import SOURCE_FORMATS, SourceError, open_source
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
    return errors.ApiError(400, orjson.dumps({"status": 400, "code": "BAD_REQUEST", "message": message}))


def _report_body(report: IngestReport, pbxes_added: list[str]) -> bytes:
    return orjson.dumps(
        {
            "rows": report.rows_read,
            "stored": report.legs_stored,
            "replaced": report.legs_replaced,
            "rejected": report.rejected,
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
    _key: ApiKey = Depends(admin_api_key),
    svc: Services = Depends(services),
) -> Response:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    name = fmt or CONTENT_TYPES.get(media)
    if name not in SOURCE_FORMATS:
        raise _bad_request(
            f"unknown body format {fmt or media!r}; send Content-Type one of "
            f"{', '.join(sorted(CONTENT_TYPES))} or ?format= one of {', '.join(sorted(SOURCE_FORMATS))}"
        )
    tmp_dir = svc.settings.data_dir / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, raw_path = tempfile.mkstemp(prefix="upload-", suffix=_SUFFIX[name], dir=tmp_dir)
    path = Path(raw_path)
    try:
        with os.fdopen(fd, "wb") as fh:
            async for chunk in request.stream():
                fh.write(chunk)
        return await run_in_threadpool(_ingest_file, svc, path, name, skip_invalid)
    finally:
        path.unlink(missing_ok=True)


def _ingest_file(svc: Services, path: Path, fmt: str, skip_invalid: bool) -> Response:
    with svc.ingest_lock:
        try:
            source = open_source(path, fmt, known_extensions=svc.store.directory_extensions())
            report = svc.store.ingest(
                source, skip_invalid=skip_invalid, reject_path=path.with_suffix(".rejects.csv")
            )
        except IngestRejected as exc:
            body = {
                "status": 400,
                "code": "INGEST_REJECTED",
                "message": f"rejected, nothing stored: {exc.total} bad row(s)",
                "total": exc.total,
                # Row places name the upload, not a path on the server.
                "errors": [
                    {"where": e.where.replace(str(path), "body"), "reason": e.reason} for e in exc.errors
                ],
            }
            raise errors.ApiError(400, orjson.dumps(body)) from None
        except SourceError as exc:
            raise _bad_request(f"body: {exc.message}") from None
        finally:
            path.with_suffix(".rejects.csv").unlink(missing_ok=True)
        added = svc.control.adopt_pbxes(report.pbx_ids)
    return Response(_report_body(report, added), media_type="application/json")
