"""Liveness and readiness, for load balancers and orchestrators."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from workanalytics.api.deps import services
from workanalytics.api.services import Services

router = APIRouter(tags=["Health"])


@router.get("/healthz", summary="The process answers")
def healthz() -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


@router.get("/readyz", summary="The store and the control plane answer")
def readyz(svc: Services = Depends(services)) -> Response:
    try:
        svc.store.ping()
        svc.control.ping()
    except Exception:  # any failure means "not ready"; the reason goes to the log only
        return Response(b'{"status":"unavailable"}', status_code=503, media_type="application/json")
    return Response(b'{"status":"ok"}', media_type="application/json")
