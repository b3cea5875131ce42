"""Real database servers started on loopback from Debian's packages.

The tests, the benchmark and ``workanalytics local-servers`` start the same servers the
same way, so what CI runs is what a developer runs and what the deployment page prints.
Each server lives in a directory of its own and stops with :meth:`stop`.
"""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port free on loopback now (the server binds it a moment later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
