"""The blocking client: runs :mod:`~workanalytics.client.base`'s flows on ``httpx.Client``."""

from __future__ import annotations

import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from zoneinfo import ZoneInfo

import httpx

from workanalytics.client.base import BaseClient, PbxIds, ProgressCallback
from workanalytics.client.periods import Period
from workanalytics.client.rows import ExtensionSummaryRow
from workanalytics.client.steps import Flow, NeedToken, Send, Sleep, T
from workanalytics.client.wallclock import Bound


class Client(BaseClient):
    """A Work Analytics client (8x8's API or a workanalytics server), blocking.

    >>> with Client(api_key=KEY, username="alice", password=PW) as wa:  # doctest: +SKIP
    ...     rows = wa.extension_summary("acme", "2026-03-01 00:00:00",
    ...                                 "2026-03-01 23:59:59", "America/New_York")

    Safe to share between threads. See :class:`BaseClient` for the parameters.
    """

    _default_sleep = staticmethod(time.sleep)

    def _open(self, transport: httpx.BaseTransport | None) -> None:
        self._http = httpx.Client(transport=transport, timeout=self.timeout)
        self._token_lock = threading.Lock()

    # --- running flows --------------------------------------------------------------------

    def _run(self, flow: Flow[T]) -> T:
        outcome: object = None
        try:
            while True:
                step = flow.send(outcome)
                if isinstance(step, Send):
                    try:
                        outcome = self._http.send(step.request)
                    except httpx.HTTPError as exc:
                        outcome = exc
                elif isinstance(step, Sleep):
                    self._sleep(step.seconds)
                    outcome = None
                elif isinstance(step, NeedToken):
                    outcome = self._token(step.stale)
                else:  # pragma: no cover
                    raise TypeError(step)
        except StopIteration as done:
            return done.value

    def _token(self, stale: str | None) -> str:
        # One login at a time: requests that wait here then find the new token cached.
        with self._token_lock:
            cached = self._cached_token(stale)
            if cached is not None:
                return cached
            return self._remember(self._run(self._login_flow()))

    # --- the API --------------------------------------------------------------------------

    def access_token(self) -> str:
        """A usable access token: the cached one, or a new login."""
        return self._token(None)

    def extension_summary(
        self,
        pbx_ids: PbxIds,
        start: Bound,
        end: Bound,
        time_zone: str | ZoneInfo,
        version: int = 2,
    ) -> list[ExtensionSummaryRow]:  # type: ignore[valid-type]
        """``GET /v{version}/extsum``: one typed row per (PbxId, Extension), in the API's order.

        ``pbx_ids`` is a PBX name, a list of names, or ``"allpbxes"``. ``start`` and ``end``
        (its second included) are datetimes (aware ones are converted to ``time_zone``'s
        wall clock; naive ones are wall-clock times there), dates, or
        ``"YYYY-MM-DD HH:MM:SS"`` strings.
        """
        args = self._summary_args(pbx_ids, start, end, time_zone, version)
        return self._run(self._extsum_flow(*args))

    def extension_summary_series(
        self,
        pbx_ids: PbxIds,
        start: Bound,
        end: Bound,
        time_zone: str | ZoneInfo,
        version: int = 2,
        *,
        every: str = "day",
        concurrency: int | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> list[ExtensionSummaryRow]:  # type: ignore[valid-type]
        """One summary per local calendar period (``every``: day, week or month) of the
        window, fetched ``concurrency`` at a time; rows in period order, each with its
        ``.period``. The periods are consecutive windows, so additive fields summed over
        them equal the whole window's. ``on_progress(done, total)`` is called as periods
        arrive."""
        pbx, periods, version = self._series_plan(pbx_ids, start, end, time_zone, version, every)
        total = len(periods)
        if on_progress:
            on_progress(0, total)
        done = 0
        progress_lock = threading.Lock()

        def fetch(period: Period) -> list:
            nonlocal done
            rows = self._run(
                self._extsum_flow(
                    pbx, period.start_time, period.end_time, period.time_zone, version, period
                )
            )
            if on_progress:
                with progress_lock:
                    done += 1
                    on_progress(done, total)
            return rows

        workers = min(concurrency or self.concurrency, total)
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="workanalytics-series")
        try:
            futures = [pool.submit(fetch, p) for p in periods]
            finished, _ = wait(futures, return_when=FIRST_EXCEPTION)
            for f in futures:
                if f in finished and f.exception() is not None:
                    raise f.exception()  # type: ignore[misc]
            return [row for f in futures for row in f.result()]
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    # --- lifetime -------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
