"""ClickHouse servers on loopback, as the tests, the benchmark and `local-servers` start them."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from workanalytics.localservers import clickhouse

from conftest import unavailable_server


@pytest.fixture(autouse=True)
def need_clickhouse():
    if not clickhouse.available():
        unavailable_server("ClickHouse is not installed (apt-get install clickhouse-server)")


def test_a_relative_directory_works_and_stop_frees_the_port(tmp_path, monkeypatch):
    from clickhouse_driver import Client

    monkeypatch.chdir(tmp_path)
    (server,) = clickhouse.start_cluster(Path("servers"), 1, cluster="solo")
    try:
        client = Client(host="127.0.0.1", port=server.tcp_port)
        assert client.execute("SELECT cluster, port FROM system.clusters WHERE cluster = 'solo'")
        client.disconnect()
        assert (tmp_path / "servers" / "shard1" / "data").is_dir()
    finally:
        server.stop()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", server.tcp_port), 1):
        pass
