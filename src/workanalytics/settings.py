"""Settings in one object: where data lives and how long it is served."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from workanalytics.auth.throttle import ThrottleLimits
from workanalytics.timewindow import DEFAULT_RETENTION_YEARS

DATA_DIR_ENV = "WORKANALYTICS_DATA_DIR"
RETENTION_ENV = "WORKANALYTICS_RETENTION_YEARS"
TOKEN_LIFETIME_ENV = "WORKANALYTICS_TOKEN_LIFETIME"
LOGIN_LIMIT_USER_ENV = "WORKANALYTICS_LOGIN_FAILURES_PER_USER"
LOGIN_LIMIT_ADDR_ENV = "WORKANALYTICS_LOGIN_FAILURES_PER_ADDRESS"
LOGIN_WINDOW_ENV = "WORKANALYTICS_LOGIN_WINDOW"
DEFAULT_DATA_DIR = Path("workanalytics-data")


def _env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
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
    memory_limit: str = "2GB"
    #: Seconds an access token lives (``expires_in``).
    token_lifetime_s: int = 1800
    throttle_limits: ThrottleLimits = field(default_factory=ThrottleLimits)

    @property
    def store_path(self) -> Path:
        return self.data_dir / "legs.duckdb"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @classmethod
    def from_env(cls, data_dir: Path | str | None = None) -> Settings:
        chosen = data_dir or os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR
        return cls(
            data_dir=Path(chosen),
            retention_years=_env_int(RETENTION_ENV, DEFAULT_RETENTION_YEARS),
            token_lifetime_s=_env_int(TOKEN_LIFETIME_ENV, 1800, minimum=60),
            throttle_limits=ThrottleLimits(
                per_username=_env_int(LOGIN_LIMIT_USER_ENV, 5, minimum=1),
                per_address=_env_int(LOGIN_LIMIT_ADDR_ENV, 20, minimum=1),
                window_s=_env_int(LOGIN_WINDOW_ENV, 300, minimum=1),
            ),
        )
