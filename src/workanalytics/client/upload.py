"""Send a legs file to a running server's online ingest endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson

from workanalytics.ingest.sources import detect_format

INGEST_PATH = "/analytics/work/admin/v1/legs"
#: The Content-Type that tells the server each format.
FORMAT_CONTENT_TYPES = {
    "csv": "text/csv",
    "jsonl": "application/x-ndjson",
    "parquet": "application/vnd.apache.parquet",
    "8x8-json": "application/json",
}


class UploadError(Exception):
    """The server refused the file; ``body`` is its JSON answer when it sent one."""

    def __init__(self, message: str, status: int | None = None, body: object = None):
        super().__init__(message)
        self.status = status
        self.body = body


def _chunks(path: Path, size: int = 1 << 20) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        while chunk := fh.read(size):
            yield chunk


def upload_legs(
    base_url: str,
    api_key: str,
    path: Path,
    *,
    fmt: str | None = None,
    skip_invalid: bool = False,
    timeout: float = 600.0,
    transport: httpx.BaseTransport | None = None,
) -> dict:
    """Stream ``path`` to the server; returns its ingest report."""
    path = Path(path)
    name = fmt or detect_format(path)
    if name not in FORMAT_CONTENT_TYPES:
        raise UploadError(f"{path}: format {name!r} cannot be sent to a server")
    url = base_url.rstrip("/")
    if not url.endswith(INGEST_PATH):
        url = url.removesuffix("/analytics/work") + INGEST_PATH
    params = {"skipInvalid": "true"} if skip_invalid else {}
    headers = {"8x8-apikey": api_key, "Content-Type": FORMAT_CONTENT_TYPES[name]}
    try:
        with httpx.Client(timeout=timeout, transport=transport) as http:
            response = http.post(url, params=params, headers=headers, content=_chunks(path))
    except httpx.HTTPError as exc:
        raise UploadError(f"{url}: {exc}") from None
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = None
    if response.status_code != 200:
        detail = body.get("message") if isinstance(body, dict) else response.text[:200]
        errors = body.get("errors", []) if isinstance(body, dict) else []
        lines = [f"{path}: {detail} (HTTP {response.status_code})"]
        lines += [f"{e['where'].replace('body', str(path), 1)}: {e['reason']}" for e in errors]
        raise UploadError("\n".join(lines), response.status_code, body)
    return body
