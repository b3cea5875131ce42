"""Running the application on uvicorn: in the foreground, or in a thread for tests and tools."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import uvicorn

from workanalytics.api.app import create_app
from workanalytics.api.services import Services
from workanalytics.settings import Settings


def configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    for name in ("workanalytics.access", "workanalytics.error"):
        log = logging.getLogger(name)
        log.handlers[:] = [handler]
        log.setLevel(logging.INFO)
        log.propagate = False


def _config(app, host: str, port: int) -> uvicorn.Config:
    # Our access log replaces uvicorn's; h11 caps the request line, so say how big it may be.
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        access_log=False,
        log_config=None,
        log_level="warning",
        h11_max_incomplete_event_size=256 * 1024,
        server_header=False,
    )


def run_server(settings: Settings, *, host: str = "127.0.0.1", port: int = 8000) -> None:
    configure_logging()
    svc = Services.open(settings)
    try:
        sys.stderr.write(
            f"serving http://{host}:{port}/analytics/work (data dir {settings.data_dir})\n"
        )
        uvicorn.Server(_config(create_app(svc), host, port)).run()
    finally:
        svc.close()


@dataclass
class RunningServer:
    """A server started in a background thread; ``url`` ends without a slash."""

    server: uvicorn.Server
    thread: threading.Thread
    url: str
    services: Services

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def start_in_thread(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    clock: Callable[[], float] = time.time,
    services: Services | None = None,
) -> RunningServer:
    """Start a real server (by default on a free loopback port) and wait until it answers."""
    svc = services or Services.open(settings, clock=clock)
    server = uvicorn.Server(_config(create_app(svc), host, port))
    thread = threading.Thread(target=server.run, name="workanalytics-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return RunningServer(server, thread, f"http://{host}:{port}", svc)
