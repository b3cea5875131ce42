"""What both clients share: settings, request building, and the flows of each call.

A flow (see :mod:`workanalytics.client.steps`) is the whole logic of a call: get a token,
send with retries, log in again once on a 401, turn an error answer into its exception,
read the rows. :class:`~workanalytics.client.sync.Client` and
:class:`~workanalytics.client.async_.AsyncClient` only run flows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import httpx
import orjson

from workanalytics import __version__
from workanalytics.client.auth import (
    API_KEY_HEADER,
    DEFAULT_RENEW_MARGIN,
    Password,
    Token,
    TokenCache,
    cache_key,
    login_flow,
    normalize_base_url,
)
from workanalytics.client.errors import APIError, InvalidParameterError, error_from_response
from workanalytics.client.periods import EVERY, Period, split_periods
from workanalytics.client.retry import RetryPolicy, send_with_retries
from workanalytics.client.rows import ExtensionSummaryRow, rows_from_answer
from workanalytics.client.steps import Flow, NeedToken
from workanalytics.client.wallclock import Bound, pbx_parameter, window

DEFAULT_BASE_URL = "https://api.8x8.com/analytics/work"
DEFAULT_TIMEOUT = 60.0
DEFAULT_CONCURRENCY = 4
EXTSUM_PATHS = {1: "/v1/extsum", 2: "/v2/extsum"}

PbxIds = str | Sequence[str]
ProgressCallback = Callable[[int, int], None]


class BaseClient:
    """Settings and flows common to :class:`Client` and :class:`AsyncClient`.

    Parameters:
        base_url: the API's root, default 8x8's (``https://api.8x8.com/analytics/work``);
            for a workanalytics server, ``http://HOST:PORT/analytics/work``.
        api_key: the ``8x8-apikey``.
        username, password: the user whose token is fetched. ``password`` may be a
            callable, called only when a login is needed (e.g. a prompt).
        retry: the :class:`RetryPolicy` (default: 3 retries, backoff from 0.5 s).
        token_cache: a :class:`TokenCache`, or a path for one kept on disk, or None for
            memory only. Several clients may share one.
        renew_margin: renew a token this many seconds before it expires (at most a
            quarter of its lifetime).
        timeout: seconds for each request (httpx's timeout).
        concurrency: requests in flight at once for a series.
        headers: extra headers sent with every request.
        transport: an httpx transport (``httpx.BaseTransport`` for :class:`Client`,
            ``httpx.AsyncBaseTransport`` for :class:`AsyncClient`): tests, proxies.
        sleep: how retries wait; default ``time.sleep``, or ``asyncio.sleep`` for
            :class:`AsyncClient` (which needs an async function).
        clock: epoch seconds, for token expiry.
    """

    #: Set by each client: how it waits by default, and its HTTP client and lock.
    _default_sleep: Callable[[float], Any]

    def _open(self, transport: Any) -> None:  # pragma: no cover - each client has its own
        raise NotImplementedError

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        api_key: str,
        username: str,
        password: Password,
        retry: RetryPolicy | None = None,
        token_cache: TokenCache | Path | str | None = None,
        renew_margin: float = DEFAULT_RENEW_MARGIN,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        concurrency: int = DEFAULT_CONCURRENCY,
        headers: dict[str, str] | None = None,
        transport: Any = None,
        sleep: Callable[[float], Any] | None = None,
        clock: Callable[[], float] = time.time,
    ):
        for name, value in (("api_key", api_key), ("username", username)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} is required")
        if not callable(password) and not isinstance(password, str):
            raise ValueError("password must be a string or a callable returning one")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.base_url = normalize_base_url(base_url)
        self.api_key = api_key
        self.username = username
        self._password = password
        self.retry = retry if retry is not None else RetryPolicy()
        self.token_cache = (
            token_cache if isinstance(token_cache, TokenCache) else TokenCache(token_cache)
        )
        self.renew_margin = renew_margin
        self.timeout = timeout
        self.concurrency = concurrency
        self.clock = clock
        self.headers = {
            "Accept": "application/json",
            "User-Agent": f"workanalytics-client/{__version__}",
            **(headers or {}),
        }
        self._cache_key = cache_key(self.base_url, api_key, username)
        self._sleep = sleep if sleep is not None else type(self)._default_sleep
        self._open(transport)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, username={self.username!r})"

    # --- tokens ---------------------------------------------------------------------------

    def _cached_token(self, stale: str | None) -> str | None:
        """A usable cached token other than ``stale``; forgets ``stale``."""
        if stale is not None:
            self.token_cache.forget(self._cache_key, stale)
        token = self.token_cache.get(self._cache_key, self.clock(), self.renew_margin)
        if token is None or token.access_token == stale:
            return None
        return token.access_token

    def _login_flow(self) -> Flow[Token]:
        return login_flow(
            self.base_url,
            self.api_key,
            self.username,
            self._password,
            policy=self.retry,
            clock=self.clock,
            headers=self.headers,
        )

    def _remember(self, token: Token) -> str:
        self.token_cache.put(self._cache_key, token, self.clock())
        return token.access_token

    # --- requests -------------------------------------------------------------------------

    def _url(self, path: str, params: dict[str, str] | None = None) -> str:
        url = self.base_url + path
        if params:
            # %20 for spaces: every server reads it; "+" is only form encoding's.
            url += "?" + urlencode(params, quote_via=quote, safe="/:,")
        return url

    def _authed_get_flow(self, path: str, params: dict[str, str]) -> Flow[httpx.Response]:
        """GET with the API key and a bearer token; one new login if the token is refused."""
        url = self._url(path, params)
        token = yield NeedToken()

        def build() -> httpx.Request:
            return httpx.Request(
                "GET",
                url,
                headers={
                    **self.headers,
                    API_KEY_HEADER: self.api_key,
                    "Authorization": f"Bearer {token}",
                },
            )

        response = yield from send_with_retries(build, self.retry)
        if response.status_code == 401:
            token = yield NeedToken(stale=token)
            response = yield from send_with_retries(build, self.retry)
        if response.status_code != 200:
            raise error_from_response(
                response.status_code, response.content, response.headers, url=self.base_url + path
            )
        return response

    def _extsum_flow(
        self,
        pbx: str,
        start_time: str,
        end_time: str,
        time_zone: str,
        version: int,
        period: Period | None = None,
    ) -> Flow[list[ExtensionSummaryRow]]:  # type: ignore[valid-type]
        path = EXTSUM_PATHS[version]
        params = {"pbxId": pbx, "startTime": start_time, "endTime": end_time, "timeZone": time_zone}
        response = yield from self._authed_get_flow(path, params)
        try:
            return rows_from_answer(orjson.loads(response.content), period=period)
        except (orjson.JSONDecodeError, TypeError, ValueError) as exc:
            raise APIError(
                f"unexpected Extension Summary answer from {self.base_url + path}: {exc}",
                status=response.status_code,
                body=response.content,
                url=self.base_url + path,
            ) from None

    @staticmethod
    def _check_version(version: int) -> int:
        if version not in EXTSUM_PATHS:
            raise ValueError(f"version must be 1 or 2, got {version!r}")
        return version

    def _summary_args(
        self, pbx_ids: PbxIds, start: Bound, end: Bound, time_zone: str | ZoneInfo, version: int
    ) -> tuple[str, str, str, str, int]:
        start_time, end_time, zone = window(start, end, time_zone)
        return pbx_parameter(pbx_ids), start_time, end_time, zone.key, self._check_version(version)

    def _series_plan(
        self,
        pbx_ids: PbxIds,
        start: Bound,
        end: Bound,
        time_zone: str | ZoneInfo,
        version: int,
        every: str,
    ) -> tuple[str, list[Period], int]:
        pbx, start_time, end_time, zone, version = self._summary_args(
            pbx_ids, start, end, time_zone, version
        )
        if every not in EVERY:
            raise ValueError(f"every must be one of {', '.join(EVERY)}, got {every!r}")
        if end_time < start_time:  # fixed-width wall-clock strings compare chronologically
            # The server's own answer for this window, given before anything is sent.
            raise InvalidParameterError(
                "invalid parameter endTime: endTime is before startTime "
                "(expected endTime >= startTime)",
                parameter="endTime",
                hint="expected endTime >= startTime",
            )
        return pbx, split_periods(start_time, end_time, zone, every), version
