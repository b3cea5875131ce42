"""The Extension Summary as a library call: parameters in the API's words, rows out.

The HTTP service and the CLI both come through here, so ``pbxId`` lists and windows are
read one way everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from workanalytics.metrics import SummaryResult, fields_for
from workanalytics.store.base import LegStore
from workanalytics.timewindow import (
    DEFAULT_RETENTION_YEARS,
    Clock,
    UtcWindow,
    resolve_window,
    system_clock,
)

#: The ``pbxId`` keyword for every PBX the caller may see.
ALL_PBXES = "allpbxes"


class PbxParameterError(ValueError):
    """``pbxId`` is empty or names nothing."""

    def __init__(self, message: str, *, missing: bool):
        super().__init__(message)
        #: An empty or blank value is as missing as an absent one.
        self.missing = missing


class UnknownPbxError(LookupError):
    def __init__(self, pbx_id: str, known: Iterable[str]):
        self.pbx_id = pbx_id
        super().__init__(f"unknown PBX {pbx_id!r} (known: {', '.join(known) or 'none'})")


def parse_pbx_ids(value: str | None) -> list[str] | None:
    """Names from a ``pbxId`` value, in order, without blanks around commas or duplicates.

    ``None`` stands for ``allpbxes``.
    """
    if value is None or value.strip() == "":
        raise PbxParameterError("pbxId is required", missing=True)
    names = list(dict.fromkeys(p.strip() for p in value.split(",") if p.strip()))
    if not names:
        raise PbxParameterError("pbxId names no PBX", missing=False)
    if ALL_PBXES in names:
        return None
    return names


@dataclass(frozen=True)
class ReportRequest:
    """API-style parameters, checked: which PBXs, which UTC window, which version."""

    pbx_ids: list[str]
    window: UtcWindow
    version: int


def check_request(
    store: LegStore,
    pbx_id: str,
    start_time: str,
    end_time: str,
    time_zone: str,
    *,
    version: int = 2,
    allowed_pbx_ids: Iterable[str] | None = None,
    retention_years: int = DEFAULT_RETENTION_YEARS,
    clock: Clock = system_clock,
) -> ReportRequest:
    """Read and check the parameters in the contract's order: window first, then PBXs.

    ``allowed_pbx_ids`` is what the caller may see (default: every PBX in the store); a name
    outside it raises :class:`UnknownPbxError`, whether it exists or not.
    """
    fields_for(version)  # an unknown version fails before any work
    window = resolve_window(
        start_time, end_time, time_zone, retention_years=retention_years, clock=clock
    )
    allowed = sorted(store.pbx_ids() if allowed_pbx_ids is None else allowed_pbx_ids)
    wanted = parse_pbx_ids(pbx_id)
    if wanted is None:
        wanted = allowed
    else:
        allowed_set = set(allowed)
        for name in wanted:
            if name not in allowed_set:
                raise UnknownPbxError(name, allowed)
    return ReportRequest(wanted, window, version)


def extension_summary(store: LegStore, *args, **kwargs) -> SummaryResult:
    """The report's rows for API-style parameters (see :func:`check_request`)."""
    req = check_request(store, *args, **kwargs)
    return store.extension_summary(req.pbx_ids, req.window, version=req.version)


def extension_summary_json(store: LegStore, *args, **kwargs) -> bytes:
    """The report's body for API-style parameters, serialised by the store itself."""
    req = check_request(store, *args, **kwargs)
    return store.extension_summary_json(req.pbx_ids, req.window, version=req.version)
