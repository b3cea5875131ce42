"""The dummy hash that makes a login for an unknown user cost a full verification."""

from __future__ import annotations

import subprocess
import sys

from workanalytics.api.app import create_app
from workanalytics.auth import passwords


def test_importing_the_control_plane_hashes_nothing():
    # Every command that opens the control plane (an ingest...) imports this: hashing at
    # import cost each of them 0.1 s.
    code = (
        "import workanalytics.control.plane, workanalytics.auth.passwords as p; "
        "print(p._dummy_hash.cache_info().currsize)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"


def test_a_server_makes_the_dummy_hash_before_any_login():
    # Else the first login for an unknown user would take a hash longer than the others.
    passwords._dummy_hash.cache_clear()
    create_app(svc=None)  # type: ignore[arg-type] (the app only keeps it)
    assert passwords._dummy_hash.cache_info().currsize == 1
    assert not passwords.verify_password(None, "workanalytics-dummy-password")


def test_an_empty_hash_matches_no_password():
    assert not passwords.verify_password("", "workanalytics-dummy-password")
    assert passwords.verify_password(passwords.hash_password("pw-1"), "pw-1")
