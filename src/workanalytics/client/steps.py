"""What a request needs done, as values: the clients' shared logic is written once.

Logging in, retrying and renewing a token are generators that *yield* steps and receive
their outcomes. :class:`~workanalytics.client.sync.Client` runs the steps with blocking
calls, :class:`~workanalytics.client.async_.AsyncClient` with ``await``; neither knows what
the steps are for, so the two clients cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

T = TypeVar("T")


@dataclass(frozen=True)
class Send:
    """Send this request; the outcome is the ``httpx.Response`` (body read) or the
    ``httpx.HTTPError`` it raised."""

    request: httpx.Request


@dataclass(frozen=True)
class Sleep:
    """Wait this many seconds (the client's injectable ``sleep``); the outcome is None."""

    seconds: float


@dataclass(frozen=True)
class NeedToken:
    """A usable access token (a string) from the cache, or by logging in. ``stale`` is a
    token the server just refused: it is not handed out again."""

    stale: str | None = None


Step = Send | Sleep | NeedToken
#: A generator of steps that finally returns a ``T``.
Flow = Generator[Step, Any, T]
