"""Where settings come from: flags, then the environment, then a TOML config file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from workanalytics.settings import CONFIG_ENV, CONTROL_ENV, STORE_ENV, Settings
from workanalytics.store import StoreError, open_store


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in (CONFIG_ENV, STORE_ENV, CONTROL_ENV, "WORKANALYTICS_CLUSTER",
                 "WORKANALYTICS_DATA_DIR", "WORKANALYTICS_RETENTION_YEARS",
                 "WORKANALYTICS_MEMORY_LIMIT", "WORKANALYTICS_INGEST_MEMORY_LIMIT"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "workanalytics.toml"
    path.write_text(text)
    return path


def test_defaults_are_the_embedded_deployment():
    s = Settings.from_env()
    assert (s.store_url, s.cluster, s.control_url) == (None, None, None)


def test_a_config_file_names_the_engines(tmp_path):
    config = write_config(
        tmp_path,
        'store = "clickhouse://ch1:9000/calls"\ncluster = "main"\n'
        'control = "postgresql://wa@pg/wa"\ndata_dir = "/srv/wa"\nretention_years = 3\n',
    )
    s = Settings.from_env(config=config)
    assert s.store_url == "clickhouse://ch1:9000/calls"
    assert s.cluster == "main"
    assert s.control_url == "postgresql://wa@pg/wa"
    assert s.data_dir == Path("/srv/wa")
    assert s.retention_years == 3


def test_env_beats_the_config_file_and_flags_beat_both(tmp_path, monkeypatch):
    config = write_config(tmp_path, 'store = "clickhouse://from-file/db"\n')
    monkeypatch.setenv(CONFIG_ENV, str(config))
    assert Settings.from_env().store_url == "clickhouse://from-file/db"
    monkeypatch.setenv(STORE_ENV, "clickhouse://from-env/db")
    assert Settings.from_env().store_url == "clickhouse://from-env/db"
    assert Settings.from_env(store="clickhouse://from-flag/db").store_url == (
        "clickhouse://from-flag/db"
    )


def test_an_unknown_key_is_named(tmp_path):
    config = write_config(tmp_path, 'stroe = "clickhouse://x/db"\n')
    with pytest.raises(ValueError, match=r"workanalytics.toml: unknown setting\(s\) stroe"):
        Settings.from_env(config=config)


def test_a_broken_file_is_named(tmp_path):
    config = write_config(tmp_path, "store = \n")
    with pytest.raises(ValueError, match=r"workanalytics\.toml: not valid TOML"):
        Settings.from_env(config=config)
    with pytest.raises(ValueError, match="cannot read the config file"):
        Settings.from_env(config=tmp_path / "missing.toml")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://x/db", "expected clickhouse://HOST:PORT/DB"),
        ("clickhouse://host:port/db", "the port is not a number"),
        ("clickhouse://host:9000/bad-name", "must be [A-Za-z0-9_]"),
    ],
)
def test_a_bad_store_url_says_what_was_expected(tmp_path, url, message):
    with pytest.raises(StoreError, match=message.replace("[", r"\[").replace("]", r"\]")):
        open_store(Settings(data_dir=tmp_path, store_url=url))


def test_a_cluster_needs_clickhouse(tmp_path):
    with pytest.raises(StoreError, match="--cluster needs a ClickHouse store"):
        open_store(Settings(data_dir=tmp_path, cluster="main"))


def test_an_unreachable_clickhouse_is_one_line_without_the_password(tmp_path):
    port = _closed_port()
    url = f"clickhouse://wa:s3cret@127.0.0.1:{port}/calls"
    with pytest.raises(StoreError) as info:
        open_store(Settings(data_dir=tmp_path, store_url=url))
    assert f"clickhouse://127.0.0.1:{port}/calls" in str(info.value)
    assert "s3cret" not in str(info.value)


def test_the_cli_reads_its_config_file(tmp_path):
    config = write_config(tmp_path, f'store = "clickhouse://127.0.0.1:{_closed_port()}/calls"\n')
    r = subprocess.run(
        [sys.executable, "-m", "workanalytics.cli", "--config", str(config),
         "--data-dir", str(tmp_path / "d"), "init"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode != 0
    assert "error: clickhouse://127.0.0.1" in r.stderr
    assert "Traceback" not in r.stderr


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_memory_limit_comes_from_env_or_file(tmp_path, monkeypatch):
    s = Settings.from_env()
    assert (s.memory_limit, s.ingest_memory_limit) == ("2GB", "512MB")
    config = write_config(tmp_path, 'memory_limit = "1GB"\ningest_memory_limit = "256MB"\n')
    s = Settings.from_env(config=config)
    assert (s.memory_limit, s.ingest_memory_limit) == ("1GB", "256MB")
    monkeypatch.setenv("WORKANALYTICS_INGEST_MEMORY_LIMIT", "300MB")
    assert Settings.from_env(config=config).ingest_memory_limit == "300MB"


def test_answer_slots_come_from_env_or_file_and_reach_the_store(tmp_path, monkeypatch):
    assert Settings.from_env().answer_slots == 0  # one per CPU
    config = write_config(tmp_path, "answer_slots = 3\n")
    settings = Settings.from_env(tmp_path / "data", config=config)
    assert settings.answer_slots == 3
    with open_store(settings) as store:
        assert store._slots._free == 3
    monkeypatch.setenv("WORKANALYTICS_ANSWER_SLOTS", "-1")
    with pytest.raises(ValueError, match="WORKANALYTICS_ANSWER_SLOTS must be >= 0"):
        Settings.from_env(config=config)
    monkeypatch.setenv("WORKANALYTICS_ANSWER_SLOTS", "0")
    with open_store(Settings.from_env(tmp_path / "data")) as store:
        assert store._slots._free == len(os.sched_getaffinity(0))


@pytest.mark.parametrize("value", ["lots", "2", "GB", "-1GB"])
def test_a_bad_memory_limit_is_named(monkeypatch, value):
    monkeypatch.setenv("WORKANALYTICS_INGEST_MEMORY_LIMIT", value)
    with pytest.raises(ValueError, match="WORKANALYTICS_INGEST_MEMORY_LIMIT must be a size"):
        Settings.from_env()


@pytest.mark.parametrize(
    "url",
    ["clickhouse://wa:s3cret@host:90x0/calls", "clickhouse://wa:s3cret@host:9000/bad-name",
     "clickhous://wa:s3cret@host/calls"],
)  # fmt: skip
def test_a_bad_store_url_never_shows_its_password(tmp_path, url):
    with pytest.raises(StoreError) as info:
        open_store(Settings(data_dir=tmp_path, store_url=url))
    assert "s3cret" not in str(info.value) and "wa:***@host" in str(info.value)
