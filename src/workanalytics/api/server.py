"""Running the application on uvicorn: in the foreground, or in a thread for tests and tools."""

from __future__ import annotations

import logging
import signal
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


class ServerStartError(RuntimeError):
    """uvicorn could not listen (address in use, no permission...); it logged why."""


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


def run_server(settings: Settings, *, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve in the foreground until Ctrl-C or SIGTERM, then finish open requests and close."""
    configure_logging()
    running = start_in_thread(settings, host=host, port=port)

    def announce() -> None:
        sys.stderr.write(
            f"serving {running.url}/analytics/work (data dir {settings.data_dir}); Ctrl-C stops\n"
        )
        sys.stderr.flush()

    wait_until_stopped(running, on_ready=announce)


def wait_until_stopped(
    running: RunningServer, *, on_ready: Callable[[], None] | None = None
) -> None:
    """Block the main thread until the server ends or a stop signal arrives.

    ``on_ready`` runs once SIGTERM is handled, so whoever waits for its message may stop the
    server at once and still get a clean exit.
    """

    def stop(_signum, _frame) -> None:
        running.server.should_exit = True

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        if on_ready is not None:
            on_ready()
        while running.thread.is_alive():
            running.thread.join(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        running.stop()
        running.services.close()


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
            server.should_exit = True
            if services is None:  # ours to close: the store stays locked otherwise
                svc.close()
            raise ServerStartError(
                f"the server did not start on {host}:{port} (is the address in use?)"
            )
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return RunningServer(server, thread, f"http://{host}:{port}", svc)
