"""The whole scale-out stack on one machine, the way CI runs it: one PostgreSQL for the
control plane and ClickHouse servers as the shards of one cluster, all on loopback."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from workanalytics.localservers import clickhouse, postgres


@dataclass
class LocalStack:
    postgres: postgres.PostgresServer
    shards: list[clickhouse.ClickHouseServer] = field(default_factory=list)
    cluster: str = clickhouse.DEFAULT_CLUSTER
    database: str = "workanalytics"

    @property
    def store_url(self) -> str:
        return f"clickhouse://127.0.0.1:{self.shards[0].tcp_port}/{self.database}"

    def config_toml(self) -> str:
        """A config file (``--config``) naming this stack, for every replica."""
        return (
            f'store = "{self.store_url}"\n'
            f'cluster = "{self.cluster}"\n'
            f'control = "{self.postgres.url}"\n'
        )

    def stop(self) -> None:
        for shard in self.shards:
            shard.stop()
        self.postgres.stop()


def start_stack(root: Path, *, shards: int = 2) -> LocalStack:
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    pg = postgres.start_postgres(root / "postgres")
    try:
        servers = clickhouse.start_cluster(root / "clickhouse", shards)
    except BaseException:
        pg.stop()
        raise
    return LocalStack(pg, servers)
