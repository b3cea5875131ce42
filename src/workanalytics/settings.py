"""Settings in one object: where data lives, which engines hold it, how long it is served.

Each setting comes, first found wins, from a command-line flag, an environment variable, a
TOML config file (``--config`` or ``WORKANALYTICS_SERVER_CONFIG``), or its default.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workanalytics.auth.throttle import ThrottleLimits
from workanalytics.timewindow import DEFAULT_RETENTION_YEARS

DATA_DIR_ENV = "WORKANALYTICS_DATA_DIR"
RETENTION_ENV = "WORKANALYTICS_RETENTION_YEARS"
TOKEN_LIFETIME_ENV = "WORKANALYTICS_TOKEN_LIFETIME"
LOGIN_LIMIT_USER_ENV = "WORKANALYTICS_LOGIN_FAILURES_PER_USER"
LOGIN_LIMIT_ADDR_ENV = "WORKANALYTICS_LOGIN_FAILURES_PER_ADDRESS"
LOGIN_WINDOW_ENV = "WORKANALYTICS_LOGIN_WINDOW"
#: The server's config file; the client's (``fetch``) is WORKANALYTICS_CONFIG.
CONFIG_ENV = "WORKANALYTICS_SERVER_CONFIG"
MEMORY_LIMIT_ENV = "WORKANALYTICS_MEMORY_LIMIT"
INGEST_MEMORY_LIMIT_ENV = "WORKANALYTICS_INGEST_MEMORY_LIMIT"
ANSWER_SLOTS_ENV = "WORKANALYTICS_ANSWER_SLOTS"
#: DuckDB's ceiling while it answers: the rollups and recent legs stay in its buffers.
DEFAULT_MEMORY_LIMIT = "2GB"
#: DuckDB's ceiling while it ingests a file; beyond it work spills to disk. 10 million legs
#: ingest as fast under 512MB as under 2GB (the sort and the write dominate), and the
#: process stays under 1.5 GB instead of 2.8 GB.
DEFAULT_INGEST_MEMORY_LIMIT = "512MB"
STORE_ENV = "WORKANALYTICS_STORE"
CLUSTER_ENV = "WORKANALYTICS_CLUSTER"
CONTROL_ENV = "WORKANALYTICS_CONTROL"
#: Keys a config file may set, and the environment variable each mirrors.
CONFIG_KEYS = {
    "data_dir": DATA_DIR_ENV,
    "store": STORE_ENV,
    "cluster": CLUSTER_ENV,
    "control": CONTROL_ENV,
    "retention_years": RETENTION_ENV,
    "memory_limit": MEMORY_LIMIT_ENV,
    "ingest_memory_limit": INGEST_MEMORY_LIMIT_ENV,
    "answer_slots": ANSWER_SLOTS_ENV,
    "token_lifetime": TOKEN_LIFETIME_ENV,
    "login_failures_per_user": LOGIN_LIMIT_USER_ENV,
    "login_failures_per_address": LOGIN_LIMIT_ADDR_ENV,
    "login_window": LOGIN_WINDOW_ENV,
}
DEFAULT_DATA_DIR = Path("workanalytics-data")


def read_config(path: Path) -> dict[str, str]:
    """A TOML config file's settings, keyed by the environment variable each stands for."""
    try:
        data: dict[str, Any] = tomllib.loads(Path(path).read_text())
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the config file: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(CONFIG_KEYS))
    if unknown:
        raise ValueError(
            f"{path}: unknown setting(s) {', '.join(unknown)}; expected some of "
            + ", ".join(CONFIG_KEYS)
        )
    return {CONFIG_KEYS[k]: str(v) for k, v in data.items()}


_SIZE = re.compile(r"[0-9]+(\.[0-9]+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)


def _env_size(name: str, default: str, *, env: dict[str, str]) -> str:
    """A memory size as DuckDB reads it, checked here so a typo is one line, not a crash."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    if not _SIZE.fullmatch(raw):
        raise ValueError(f"{name} must be a size such as 512MB or 2GB, got {raw!r}")
    return raw


def _env_int(name: str, default: int, *, minimum: int = 0, env: dict[str, str]) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=lambda: DEFAULT_DATA_DIR)
    #: Years of data served; 0 serves everything.
    retention_years: int = DEFAULT_RETENTION_YEARS
    #: DuckDB's memory ceiling; work beyond it spills to the data dir.
    memory_limit: str = DEFAULT_MEMORY_LIMIT
    ingest_memory_limit: str = DEFAULT_INGEST_MEMORY_LIMIT
    #: Answers the embedded store builds at once (the rest wait in arrival order); 0 is
    #: one per CPU this process may use. Set it to a container's CPU quota.
    answer_slots: int = 0
    #: Seconds an access token lives (``expires_in``).
    token_lifetime_s: int = 1800
    throttle_limits: ThrottleLimits = field(default_factory=ThrottleLimits)
    #: Where the legs live: ``None`` for the embedded DuckDB file in ``data_dir``, or
    #: ``clickhouse://HOST:PORT/DB``.
    store_url: str | None = field(default=None, repr=False)  # may carry a password
    #: A ClickHouse cluster name: local tables on each shard, a Distributed table over them.
    cluster: str | None = None
    #: Where customers, users, keys and signing keys live: ``None`` for SQLite in
    #: ``data_dir``, or ``postgresql://...`` shared by several API replicas.
    control_url: str | None = field(default=None, repr=False)  # may carry a password

    @property
    def store_path(self) -> Path:
        return self.data_dir / "legs.duckdb"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @classmethod
    def from_env(
        cls,
        data_dir: Path | str | None = None,
        *,
        config: Path | str | None = None,
        store: str | None = None,
        cluster: str | None = None,
        control: str | None = None,
    ) -> Settings:
        """Settings from flags (the arguments), then the environment, then a config file."""
        env = dict(os.environ)
        config = config or env.get(CONFIG_ENV)
        if config:
            env = {**read_config(Path(config)), **{k: v for k, v in env.items() if v != ""}}
        chosen = data_dir or env.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR
        return cls(
            data_dir=Path(chosen),
            retention_years=_env_int(RETENTION_ENV, DEFAULT_RETENTION_YEARS, env=env),
            memory_limit=_env_size(MEMORY_LIMIT_ENV, DEFAULT_MEMORY_LIMIT, env=env),
            ingest_memory_limit=_env_size(
                INGEST_MEMORY_LIMIT_ENV, DEFAULT_INGEST_MEMORY_LIMIT, env=env
            ),
            answer_slots=_env_int(ANSWER_SLOTS_ENV, 0, env=env),
            token_lifetime_s=_env_int(TOKEN_LIFETIME_ENV, 1800, minimum=60, env=env),
            throttle_limits=ThrottleLimits(
                per_username=_env_int(LOGIN_LIMIT_USER_ENV, 5, minimum=1, env=env),
                per_address=_env_int(LOGIN_LIMIT_ADDR_ENV, 20, minimum=1, env=env),
                window_s=_env_int(LOGIN_WINDOW_ENV, 300, minimum=1, env=env),
            ),
            store_url=store or env.get(STORE_ENV) or None,
            cluster=cluster or env.get(CLUSTER_ENV) or None,
            control_url=control or env.get(CONTROL_ENV) or None,
        )
