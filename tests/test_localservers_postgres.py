"""The loopback PostgreSQL the tests, the benchmark and local clusters start."""

from __future__ import annotations

import socket
from pathlib import Path

import psycopg
import pytest

from workanalytics.localservers.postgres import start_postgres

from conftest import need_postgres


def test_start_connect_and_stop(tmp_path: Path):
    need_postgres()
    server = start_postgres(tmp_path / "pg", database="other_db")
    try:
        assert server.url == f"postgresql://workanalytics@127.0.0.1:{server.port}/other_db"
        with psycopg.connect(server.url) as conn:
            row = conn.execute("SELECT current_user, current_database()").fetchone()
            assert row == ("workanalytics", "other_db")
            listen = conn.execute("SHOW listen_addresses").fetchone()[0]
            assert listen == "127.0.0.1"
    finally:
        server.stop()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(server.url, connect_timeout=3)
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", server.port)) != 0  # nothing listens any more
    server.stop()  # twice is harmless


def test_a_database_name_is_checked(tmp_path: Path):
    with pytest.raises(ValueError, match="database name"):
        start_postgres(tmp_path / "pg", database='x"; DROP')
