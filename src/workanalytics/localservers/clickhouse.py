"""ClickHouse servers on loopback: one, or several as the shards of one cluster.

Debian ships ClickHouse 18.16; its server takes an XML config. Each server gets its own
directory (data, logs, config) and ports, and a ``remote_servers`` section naming every
shard, so a Distributed table on any of them fans a query out to all.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

from workanalytics.localservers import free_port

SERVER_BINARY = "clickhouse-server"
DEFAULT_CLUSTER = "workanalytics"


class ClickHouseUnavailable(RuntimeError):
    """No ClickHouse server binary here (``apt-get install clickhouse-server``)."""


def _config(root: Path, tcp_port: int, http_port: int, shards: list[int], cluster: str) -> str:
    replicas = "".join(
        f"<shard><replica><host>127.0.0.1</host><port>{p}</port></replica></shard>" for p in shards
    )
    return f"""<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>{escape(str(root / "log" / "server.log"))}</log>
        <errorlog>{escape(str(root / "log" / "error.log"))}</errorlog>
        <size>100M</size>
        <count>2</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>{tcp_port}</tcp_port>
    <http_port>{http_port}</http_port>
    <max_connections>256</max_connections>
    <max_concurrent_queries>100</max_concurrent_queries>
    <mark_cache_size>536870912</mark_cache_size>
    <uncompressed_cache_size>536870912</uncompressed_cache_size>
    <path>{escape(str(root / "data"))}/</path>
    <tmp_path>{escape(str(root / "tmp"))}/</tmp_path>
    <user_files_path>{escape(str(root / "user_files"))}/</user_files_path>
    <format_schema_path>{escape(str(root / "format_schemas"))}/</format_schema_path>
    <users_config>{escape(str(root / "users.xml"))}</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <remote_servers><{cluster}>{replicas}</{cluster}></remote_servers>
</yandex>
"""


_USERS = """<?xml version="1.0"?>
<yandex>
    <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
        <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time>
    </interval></default></quotas>
</yandex>
"""


@dataclass
class ClickHouseServer:
    root: Path
    tcp_port: int
    http_port: int
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"clickhouse://127.0.0.1:{self.tcp_port}/default"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_cluster(
    root: Path, shards: int = 1, *, cluster: str = DEFAULT_CLUSTER, timeout_s: float = 60
) -> list[ClickHouseServer]:
    """Start ``shards`` servers under ``root``, each knowing all as ``cluster``; wait until
    each answers."""
    binary = shutil.which(SERVER_BINARY) or (
        "/usr/bin/clickhouse" if Path("/usr/bin/clickhouse").exists() else None
    )
    if binary is None:
        raise ClickHouseUnavailable(
            "clickhouse-server is not installed (Debian: apt-get install clickhouse-server)"
        )
    ports = [(free_port(), free_port()) for _ in range(shards)]
    servers = []
    try:
        for i, (tcp, http) in enumerate(ports):
            # Absolute: the server runs in its own directory and reads these from there.
            home = Path(root).resolve() / f"shard{i + 1}"
            for sub in ("data", "tmp", "log", "user_files", "format_schemas"):
                (home / sub).mkdir(parents=True, exist_ok=True)
            (home / "config.xml").write_text(
                _config(home, tcp, http, [p for p, _ in ports], cluster)
            )
            (home / "users.xml").write_text(_USERS)
            args = [binary, f"--config-file={home / 'config.xml'}"]
            if Path(binary).name == "clickhouse":
                args.insert(1, "server")
            log = open(home / "log" / "stdout.log", "ab")  # noqa: SIM115 - kept by the process
            process = subprocess.Popen(
                args, cwd=home, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            servers.append(ClickHouseServer(home, tcp, http, process))
        for server in servers:
            _wait_ready(server, timeout_s)
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers


def _wait_ready(server: ClickHouseServer, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process is not None and server.process.poll() is not None:
            raise RuntimeError(f"ClickHouse server in {server.root} exited: {_last_words(server)}")
        try:
            with socket.create_connection(("127.0.0.1", server.tcp_port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"ClickHouse server in {server.root} did not start in {timeout_s} s")


def _last_words(server: ClickHouseServer) -> str:
    """The end of the server's error log, else of its stdout (where a bad config goes)."""
    for name in ("error.log", "stdout.log"):
        log = server.root / "log" / name
        text = log.read_text(errors="replace")[-2000:].strip() if log.exists() else ""
        if text:
            return text
    return "it left no log"


def available() -> bool:
    return shutil.which(SERVER_BINARY) is not None or os.path.exists("/usr/bin/clickhouse")
