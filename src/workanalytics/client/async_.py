"""The asyncio client: the same flows as :class:`~workanalytics.client.sync.Client`, awaited
on ``httpx.AsyncClient``."""

from __future__ import annotations

import asyncio
from zoneinfo import ZoneInfo

import httpx

from workanalytics.client.base import BaseClient, PbxIds, ProgressCallback
from workanalytics.client.periods import Period
from workanalytics.client.rows import ExtensionSummaryRow
from workanalytics.client.steps import Flow, NeedToken, Send, Sleep, T
from workanalytics.client.wallclock import Bound


class AsyncClient(BaseClient):
    """A Work Analytics client for asyncio, with :class:`Client`'s methods as coroutines.

    >>> async with AsyncClient(api_key=KEY, username="alice", password=PW) as wa:  # doctest: +SKIP
    ...     rows = await wa.extension_summary("acme", day_start, day_end, "Europe/London")

    ``sleep`` is an async function (default ``asyncio.sleep``). A ``password`` callable is
    called synchronously. See :class:`BaseClient` for the parameters.
    """

    _default_sleep = staticmethod(asyncio.sleep)

    def _open(self, transport: httpx.AsyncBaseTransport | None) -> None:
        self._http = httpx.AsyncClient(transport=transport, timeout=self.timeout)
        self._token_lock = asyncio.Lock()

    # --- running flows --------------------------------------------------------------------

    async def _run(self, flow: Flow[T]) -> T:
        outcome: object = None
        try:
            while True:
                step = flow.send(outcome)
                if isinstance(step, Send):
                    try:
                        outcome = await self._http.send(step.request)
                    except httpx.HTTPError as exc:
                        outcome = exc
                elif isinstance(step, Sleep):
                    await self._sleep(step.seconds)
                    outcome = None
                elif isinstance(step, NeedToken):
                    outcome = await self._token(step.stale)
                else:  # pragma: no cover
                    raise TypeError(step)
        except StopIteration as done:
            return done.value

    async def _token(self, stale: str | None) -> str:
        async with self._token_lock:
            cached = self._cached_token(stale)
            if cached is not None:
                return cached
            return self._remember(await self._run(self._login_flow()))

    # --- the API --------------------------------------------------------------------------

    async def access_token(self) -> str:
        """A usable access token: the cached one, or a new login."""
        return await self._token(None)

    async def extension_summary(
        self,
        pbx_ids: PbxIds,
        start: Bound,
        end: Bound,
        time_zone: str | ZoneInfo,
        version: int = 2,
    ) -> list[ExtensionSummaryRow]:  # type: ignore[valid-type]
        """As :meth:`Client.extension_summary`."""
        args = self._summary_args(pbx_ids, start, end, time_zone, version)
        return await self._run(self._extsum_flow(*args))

    async def extension_summary_series(
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
        """As :meth:`Client.extension_summary_series`: at most ``concurrency`` requests in
        flight; the first error cancels the rest and is raised."""
        pbx, periods, version = self._series_plan(pbx_ids, start, end, time_zone, version, every)
        total = len(periods)
        if on_progress:
            on_progress(0, total)
        gate = asyncio.Semaphore(concurrency or self.concurrency)
        done = 0

        async def fetch(period: Period) -> list:
            nonlocal done
            async with gate:
                rows = await self._run(
                    self._extsum_flow(
                        pbx, period.start_time, period.end_time, period.time_zone, version, period
                    )
                )
            done += 1
            if on_progress:
                on_progress(done, total)
            return rows

        tasks = [asyncio.ensure_future(fetch(p)) for p in periods]
        try:
            finished, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for t in tasks:
                if t in finished and t.exception() is not None:
                    raise t.exception()  # type: ignore[misc]
            return [row for t in tasks for row in t.result()]
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    # --- lifetime -------------------------------------------------------------------------

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.aclose()
