"""Login throttling: too many failures for one username or one client address wait a while.

Counts live in the process; each API replica throttles on its own, which bounds guessing per
replica and needs no shared state.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ThrottleLimits:
    #: Failures allowed per username within ``window_s``.
    per_username: int = 5
    #: Failures allowed per client address within ``window_s``.
    per_address: int = 20
    window_s: float = 300.0


class LoginThrottle:
    def __init__(
        self, limits: ThrottleLimits = ThrottleLimits(), clock: Callable[[], float] = time.monotonic
    ):
        self.limits = limits
        self.clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        q = self._failures.get(key)
        if q is None:
            return deque()
        while q and now - q[0] >= self.limits.window_s:
            q.popleft()
        if not q:
            del self._failures[key]
        return q

    def retry_after(self, username: str, address: str) -> int | None:
        """Seconds to wait when either limit is used up, else None."""
        now = self.clock()
        with self._lock:
            waits = []
            for key, limit in ((("user", username), self.limits.per_username),
                               (("addr", address), self.limits.per_address)):  # fmt: skip
                q = self._recent(key, now)
                if len(q) >= limit:
                    waits.append(q[len(q) - limit] + self.limits.window_s - now)
            return max(1, math.ceil(max(waits))) if waits else None

    def failed(self, username: str, address: str) -> None:
        now = self.clock()
        with self._lock:
            for key in (("user", username), ("addr", address)):
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(("user", username), None)
