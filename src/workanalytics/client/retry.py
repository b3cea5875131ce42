"""The one retry policy, used by both clients for every request (logins included).

Retried: 429 (waiting what ``Retry-After`` says), 500/502/503/504, and failures to connect
or to read an answer. Waits grow exponentially with jitter between attempts, each capped; a
``Retry-After`` longer than ``max_retry_after`` is not waited for: the error is raised at
once, carrying the wait, so a command line never hangs for minutes.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from workanalytics.client.errors import APIConnectionError, parse_retry_after
from workanalytics.client.steps import Flow, Send, Sleep

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to retry and how long to wait in between.

    The wait before retry ``n`` (1-based) is ``backoff * 2 ** (n - 1)``, capped at
    ``max_backoff``, then scaled by a random factor in ``[1 - jitter, 1]`` ("equal jitter"
    by default, so waits never collapse to zero). A ``Retry-After`` answer is waited for
    exactly, when it is at most ``max_retry_after``.
    """

    #: Retries after the first attempt; 0 disables retrying.
    max_retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 8.0
    jitter: float = 0.5
    max_retry_after: float = 60.0
    statuses: frozenset[int] = RETRY_STATUSES
    #: Where the jitter comes from: a callable returning a float in [0, 1).
    random: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be between 0 and 1")

    def backoff_for(self, retry: int) -> float:
        """The wait before retry number ``retry`` (1-based) when the server named none."""
        base = min(self.max_backoff, self.backoff * 2 ** (retry - 1))
        return base * (1 - self.jitter * self.random())

    def wait_after(self, retry: int, response: httpx.Response | None) -> float | None:
        """Seconds to wait before retry number ``retry``, or None to stop.

        ``response`` is None when the attempt got no answer (a transport error).
        """
        if retry > self.max_retries:
            return None
        if response is None:
            return self.backoff_for(retry)
        if response.status_code not in self.statuses:
            return None
        after = parse_retry_after(response.headers.get("retry-after"))
        if after is None:
            return self.backoff_for(retry)
        if after > self.max_retry_after:
            return None
        return after


NO_RETRIES = RetryPolicy(max_retries=0)

#: Failures after which the request may not have reached the server, or got no answer.
RETRYABLE_ERRORS = (httpx.TransportError,)


def send_with_retries(
    build: Callable[[], httpx.Request], policy: RetryPolicy
) -> Flow[httpx.Response]:
    """Send a request until it is answered with something not worth retrying.

    Returns the last response, whatever its status (the caller turns errors into
    exceptions). When the last attempt got no answer, returns the last answer an earlier
    attempt got (a 500 says more than the dropped connection after it), or raises
    :class:`APIConnectionError` when no attempt got one. ``build`` is called for each
    attempt, so each is a fresh request.
    """
    retry = 0
    answered: httpx.Response | None = None
    while True:
        request = build()
        outcome = yield Send(request)
        if isinstance(outcome, httpx.Response):
            answered = outcome
            wait = policy.wait_after(retry + 1, outcome)
            if wait is None:
                return outcome
        else:
            assert isinstance(outcome, httpx.HTTPError), outcome
            wait = (
                policy.wait_after(retry + 1, None)
                if isinstance(outcome, RETRYABLE_ERRORS)
                else None
            )
            if wait is None and answered is not None:
                return answered
            if wait is None:
                attempts = retry + 1
                raise APIConnectionError(
                    f"no answer from {request.url.copy_with(query=None)} after {attempts} "
                    f"attempt{'s' if attempts > 1 else ''}: {type(outcome).__name__}"
                    f"{': ' + str(outcome) if str(outcome) else ''}",
                    url=str(request.url.copy_with(query=None)),
                ) from outcome
        retry += 1
        yield Sleep(wait)
