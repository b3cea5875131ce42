"""Settings in one object: where data lives and how long it is served."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from workanalytics.timewindow import DEFAULT_RETENTION_YEARS

DATA_DIR_ENV = "WORKANALYTICS_DATA_DIR"
RETENTION_ENV = "WORKANALYTICS_RETENTION_YEARS"
DEFAULT_DATA_DIR = Path("workanalytics-data")


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number of years, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{name} must be >= 0 (0 disables the limit), got {value}")
    return value


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=lambda: DEFAULT_DATA_DIR)
    #: Years of data served; 0 serves everything.
    retention_years: int = DEFAULT_RETENTION_YEARS
    #: DuckDB's memory ceiling; work beyond it spills to the data dir.
    memory_limit: str = "2GB"

    @property
    def store_path(self) -> Path:
        return self.data_dir / "legs.duckdb"

    @property
    def rejects_dir(self) -> Path:
        return self.data_dir / "rejects"

    @classmethod
    def from_env(cls, data_dir: Path | str | None = None) -> Settings:
        chosen = data_dir or os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR
        return cls(
            data_dir=Path(chosen),
            retention_years=_env_int(RETENTION_ENV, DEFAULT_RETENTION_YEARS),
        )
