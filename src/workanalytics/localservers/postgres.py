"""A PostgreSQL server on loopback, from Debian's ``postgresql`` package.

Each server is a cluster of its own (``initdb``) with one role and one database, listening on
127.0.0.1 only, on a free port, with ``trust`` authentication for that address: it is a
throwaway server for tests, the benchmark and a local cluster, reachable from this machine
only. No Unix socket is opened, so nothing is written outside the server's directory.

PostgreSQL refuses to run as root. Run as root (CI, this workplace), every PostgreSQL
program runs as the ``postgres`` user the Debian package creates (``runuser -u postgres``),
and the server's files belong to it. When that user cannot reach ``root`` (pytest's temp
directories are private to root), the cluster lives in a private temp directory instead,
linked from ``root/data``, and :meth:`PostgresServer.stop` removes it, since nothing else
could reach it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from workanalytics.localservers import free_port

#: Where Debian installs each PostgreSQL major version's programs.
DEBIAN_ROOT = Path("/usr/lib/postgresql")
#: The unprivileged user the Debian package creates, used when we are root.
SERVICE_USER = "postgres"
DEFAULT_DATABASE = "workanalytics"
#: The role the cluster is created with (its superuser) and the URL logs in as.
ROLE = "workanalytics"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server programs here (``apt-get install postgresql``), or they would
    have to run as root with no ``postgres`` user to run them as."""


def _bin_dir() -> Path | None:
    """The newest installed major version's programs directory."""
    found = []
    for d in DEBIAN_ROOT.glob("*/bin"):
        if (d / "initdb").exists() and (d / "pg_ctl").exists() and d.parent.name.isdigit():
            found.append((int(d.parent.name), d))
    if found:
        return max(found)[1]
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    return None


def _as_root() -> bool:
    return os.geteuid() == 0


def _service_user_exists() -> bool:
    import pwd

    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        return False
    return True


def available() -> bool:
    """Whether :func:`start_postgres` can start a server on this machine."""
    if _bin_dir() is None:
        return False
    return not _as_root() or (_service_user_exists() and shutil.which("runuser") is not None)


def _command(args: list[str]) -> list[str]:
    """``args`` run as the service user when we are root (PostgreSQL refuses root)."""
    if _as_root():
        return ["runuser", "-u", SERVICE_USER, "--", *args]
    return args


def _run(args: list[str], cwd: Path, timeout_s: float) -> None:
    done = subprocess.run(
        _command(args),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{Path(args[0]).name} failed ({done.returncode}): "
            f"{(done.stderr or done.stdout).strip()[-2000:]}"
        )


def _reachable_by_service_user(path: Path) -> bool:
    done = subprocess.run(
        _command(["test", "-w", str(path), "-a", "-x", str(path)]),
        stdin=subprocess.DEVNULL,
        capture_output=True,
    )
    return done.returncode == 0


def _chown_tree(path: Path) -> None:
    import pwd

    entry = pwd.getpwnam(SERVICE_USER)
    for base, dirs, files in os.walk(path):
        for name in [base, *(os.path.join(base, n) for n in dirs + files)]:
            os.chown(name, entry.pw_uid, entry.pw_gid, follow_symlinks=False)


@dataclass
class PostgresServer:
    root: Path
    port: int
    #: ``postgresql://ROLE@127.0.0.1:PORT/DATABASE``: for ``psycopg.connect`` and ``--control``.
    url: str
    #: The cluster's own directory (``root/data``, or the private one it links to).
    home: Path | None = field(default=None, repr=False)
    bin_dir: Path | None = field(default=None, repr=False)
    #: Removed by :meth:`stop`: a private directory only this object knows of.
    remove_on_stop: bool = field(default=False, repr=False)

    def stop(self) -> None:
        """Stop the server (``pg_ctl stop -m fast``: open sessions are cut off) and wait."""
        home = self.home or (self.root / "data").resolve()
        bin_dir = self.bin_dir or _bin_dir()
        pgdata = home / "pgdata"
        if bin_dir is not None and (pgdata / "postmaster.pid").exists():
            try:
                _run(
                    [str(bin_dir / "pg_ctl"), "stop", "-D", str(pgdata), "-m", "fast", "-w"],
                    cwd=home,
                    timeout_s=60,
                )
            except RuntimeError:
                if (pgdata / "postmaster.pid").exists():
                    raise
        if self.remove_on_stop:
            shutil.rmtree(home, ignore_errors=True)


_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def start_postgres(
    root: Path, *, database: str = DEFAULT_DATABASE, timeout_s: float = 60
) -> PostgresServer:
    """Create a cluster under ``root``, start it on a free loopback port, create
    ``database`` owned by the ``workanalytics`` role, and wait until it answers."""
    if not _NAME.fullmatch(database):
        raise ValueError(f"database name {database!r}: use a-z, 0-9 and _")
    bin_dir = _bin_dir()
    if bin_dir is None:
        raise PostgresUnavailable(
            "PostgreSQL is not installed (Debian: apt-get install postgresql)"
        )
    if not available():
        raise PostgresUnavailable(
            f"PostgreSQL will not run as root and there is no {SERVICE_USER!r} user to run it as"
        )
    root = Path(root).absolute()
    root.mkdir(parents=True, exist_ok=True)
    home, remove_on_stop = root / "data", False
    home.mkdir()
    if _as_root():
        _chown_tree(home)
        if not _reachable_by_service_user(home):
            home.rmdir()
            home = Path(tempfile.mkdtemp(prefix="workanalytics-pg-"))
            remove_on_stop = True
            (root / "data").symlink_to(home, target_is_directory=True)
            _chown_tree(home)
    pgdata = home / "pgdata"
    server = PostgresServer(root, 0, "", home, bin_dir, remove_on_stop)
    try:
        _run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(pgdata),
                "-U",
                ROLE,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
            ],
            cwd=home,
            timeout_s=timeout_s,
        )
        # Only 127.0.0.1 may connect; no Unix socket, no other address.
        (pgdata / "pg_hba.conf").write_text("host all all 127.0.0.1/32 trust\n")
        last_error: Exception | None = None
        for _attempt in range(5):  # a free port can be taken before the server binds it
            port = free_port()
            with open(pgdata / "postgresql.conf", "a") as conf:
                conf.write(
                    f"\nport = {port}\n"
                    "listen_addresses = '127.0.0.1'\n"
                    "unix_socket_directories = ''\n"
                    "max_connections = 200\n"
                )
            if _as_root():
                _chown_tree(home)
            try:
                _run(
                    [
                        str(bin_dir / "pg_ctl"),
                        "start",
                        "-D",
                        str(pgdata),
                        "-l",
                        str(home / "postgres.log"),
                        "-w",
                        "-t",
                        str(int(timeout_s)),
                    ],
                    cwd=home,
                    timeout_s=timeout_s + 10,
                )
            except RuntimeError as exc:
                last_error = exc
                log = home / "postgres.log"
                if log.exists() and "could not bind" in log.read_text(errors="replace"):
                    continue
                raise
            break
        else:
            raise RuntimeError(f"PostgreSQL found no free port: {last_error}")
        server.port = port
        server.url = f"postgresql://{ROLE}@127.0.0.1:{port}/{database}"
        _create_database(server, database, timeout_s)
    except BaseException:
        server.stop()
        raise
    return server


def _create_database(server: PostgresServer, database: str, timeout_s: float) -> None:
    import psycopg

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with psycopg.connect(
                host="127.0.0.1",
                port=server.port,
                user=ROLE,
                dbname="postgres",
                autocommit=True,
                connect_timeout=5,
            ) as conn:
                exists = conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
                ).fetchone()
                if exists is None:
                    conn.execute(f'CREATE DATABASE "{database}"')
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
