"""Everything a request handler needs, built once per server and reached as a dependency."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from workanalytics.auth.throttle import LoginThrottle, ThrottleLimits
from workanalytics.auth.tokens import KeyRing
from workanalytics.control.plane import ControlPlane
from workanalytics.settings import Settings
from workanalytics.store.duckdb_store import DuckDBStore


@dataclass
class Services:
    settings: Settings
    store: DuckDBStore
    control: ControlPlane
    keys: KeyRing
    throttle: LoginThrottle
    #: Epoch seconds; injectable so tests can move time (token expiry, retention).
    clock: Callable[[], float] = time.time
    #: One writer at a time into the store.
    ingest_lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        throttle_limits: ThrottleLimits | None = None,
    ) -> Services:
        store = DuckDBStore(settings.store_path, memory_limit=settings.memory_limit)
        control = ControlPlane.for_data_dir(settings.data_dir)
        control.ensure_customer()
        # Legs ingested before the control plane knew their PBXs belong to the default customer.
        control.adopt_pbxes(store.pbx_ids())
        keys = KeyRing(settings.keys_dir, lifetime_s=settings.token_lifetime_s, clock=clock)
        keys.ensure()
        throttle = LoginThrottle(throttle_limits or settings.throttle_limits, clock=clock)
        return cls(settings, store, control, keys, throttle, clock)

    def close(self) -> None:
        self.store.close()
        self.control.close()
