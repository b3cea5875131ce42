"""Open the control plane and the signing keys the settings name.

Every command and the server open them here, so the choice is made in one place:

- no ``control_url``: SQLite in the data dir (``control.sqlite``, mode 0600) and the signing
  keys as files in ``DATA_DIR/keys``: one machine, nothing else to run;
- ``control_url = postgresql://...``: customers, users, API keys, entitlements *and* the
  signing keys in that database, so API replicas on several machines share one login and one
  key set, and an admin command run anywhere reaches them all.
"""

from __future__ import annotations

import time

from workanalytics.auth.tokens import Clock, KeyRing
from workanalytics.control.plane import ControlPlane
from workanalytics.settings import Settings


def open_control(settings: Settings) -> ControlPlane:
    """The control plane of ``settings``: its ``control_url``, else SQLite in the data dir."""
    if settings.control_url:
        return ControlPlane(settings.control_url)
    return ControlPlane.for_data_dir(settings.data_dir)


def open_keyring(settings: Settings, control: ControlPlane, *, clock: Clock = time.time) -> KeyRing:
    """The signing keys: in the control database when it is shared, else files in the data
    dir (a SQLite control plane is one machine's, and so are its keys)."""
    if control.shared:
        from workanalytics.control.signing_keys import DatabaseKeyStore

        return KeyRing(
            DatabaseKeyStore(control.engine), lifetime_s=settings.token_lifetime_s, clock=clock
        )
    return KeyRing.in_directory(
        settings.keys_dir, lifetime_s=settings.token_lifetime_s, clock=clock
    )
