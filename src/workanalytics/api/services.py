"""Everything a request handler needs, built once per server and reached as a dependency."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from workanalytics.auth.throttle import LoginThrottle, ThrottleLimits
from workanalytics.auth.tokens import KeyRing
from workanalytics.control.factory import open_control, open_keyring
from workanalytics.control.plane import ControlPlane
from workanalytics.settings import Settings
from workanalytics.store import LegStore, open_store


@dataclass
class Services:
    settings: Settings
    store: LegStore
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
        store = open_store(settings)
        control = None
        try:
            control = open_control(settings)
            control.ensure_customer()
            # Legs ingested before the control plane knew their PBXs: the default customer's.
            control.adopt_pbxes(store.pbx_ids())
            keys = open_keyring(settings, control, clock=clock)
            keys.ensure()
        except BaseException:
            store.close()
            if control is not None:
                control.close()
            raise
        throttle = LoginThrottle(throttle_limits or settings.throttle_limits, clock=clock)
        return cls(settings, store, control, keys, throttle, clock)

    def close(self) -> None:
        self.store.close()
        self.control.close()
