"""How the ClickHouse store reaches ClickHouse: a server over the native protocol, or chdb.

The store speaks three verbs (a command, a select into Arrow, an insert from Arrow) so the
same SQL runs on Debian's ClickHouse 18.16 server and on chdb, the current engine embedded
in-process, which the tests use to check that the SQL still holds on today's releases.
Parameters are substituted on the client, by the driver's own escaping, for both.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any, Protocol

import pyarrow as pa
from clickhouse_driver.util.escape import escape_params

from workanalytics.legs import q
from workanalytics.store.base import StoreError

_ARROW_TYPES = {
    "String": pa.string(),
    "Int64": pa.int64(),
    "Int8": pa.int8(),
    "UInt8": pa.uint8(),
    "UInt16": pa.uint16(),
    "UInt64": pa.uint64(),
}


# The driver logs a failed connection with its traceback; our error says it in one line.
logging.getLogger("clickhouse_driver").addHandler(logging.NullHandler())

#: Rows per insert block sent to a server.
INSERT_BLOCK_ROWS = 50_000


class Backend(Protocol):
    def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None: ...

    def select(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table: ...

    def insert(self, table: str, data: pa.Table) -> None: ...

    def for_shard(self, host: str, port: int) -> Backend: ...

    def close(self) -> None: ...


def first_line(exc: BaseException) -> str:
    """The driver's message on one line, without the server's stack trace."""
    text = " ".join(str(exc).split("Stack trace")[0].split())
    return text or type(exc).__name__


class NativeBackend:
    """A ClickHouse server over the native protocol: a client per thread (the driver's are
    not thread-safe)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        user: str = "default",
        password: str = "",
        settings: Mapping[str, Any] | None = None,
        label: str = "",
    ):
        from clickhouse_driver import Client

        self._new_client = lambda: Client(
            host=host,
            port=port,
            # Every statement names its database, which may not exist yet.
            database="default",
            user=user,
            password=password,
            settings=dict(settings or {}),
        )
        self._args = (user, password, dict(settings or {}), label)
        # Idle clients, shared by whichever threads need one (the driver's are not
        # thread-safe): as many as ran at once, however many threads come and go.
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        self._closed = False
        self.label = label or f"clickhouse://{host}:{port}"

    def _run(self, sql: str, params=None, **kwargs):
        with self._lock:
            client = self._idle.pop() if self._idle else None
        if client is None:
            client = self._new_client()
        try:
            result = client.execute(sql, params, **kwargs)
        except Exception as exc:  # the driver's: network, authentication, the server's own
            client.disconnect()  # its state is unknown: never reused
            raise StoreError(f"{self.label}: {first_line(exc)}") from None
        with self._lock:
            if self._closed:
                client.disconnect()
            else:
                self._idle.append(client)
        return result

    def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self._run(sql, params)

    def select(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        rows, types = self._run(sql, params, columnar=True, with_column_types=True)
        if not rows:
            rows = [[] for _ in types]
        return pa.table(
            {
                name: pa.array(values, _ARROW_TYPES.get(_unwrap(ch_type)))
                for values, (name, ch_type) in zip(rows, types, strict=True)
            }
        )

    def insert(self, table: str, data: pa.Table) -> None:
        columns = ", ".join(q(c) for c in data.column_names)
        # The driver takes Python lists: a block at a time keeps them small.
        for block in data.to_batches(max_chunksize=INSERT_BLOCK_ROWS):
            if block.num_rows:
                self._run(
                    f"INSERT INTO {table} ({columns}) VALUES",
                    [col.to_pylist() for col in block.columns],
                    columnar=True,
                )

    def for_shard(self, host: str, port: int) -> NativeBackend:
        user, password, settings, _ = self._args
        return NativeBackend(host, port, user=user, password=password, settings=settings)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for client in idle:
            client.disconnect()


class ChdbBackend:
    """chdb: the current ClickHouse engine in this process, one session at a time."""

    def __init__(self, path: str | None = None):
        from chdb import session

        self._session = session.Session(path) if path else session.Session()
        self._lock = threading.Lock()
        self.label = "chdb"

    def _query(self, sql: str, params=None, fmt: str = "CSV"):
        if params:
            sql = sql % escape_params(params, None)
        try:
            with self._lock:
                return self._session.query(sql, fmt)
        except Exception as exc:
            raise StoreError(f"chdb: {first_line(exc)}") from None

    def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self._query(sql, params)

    def select(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        return self._query(sql, params, "ArrowTable")

    def insert(self, table: str, data: pa.Table) -> None:
        if data.num_rows == 0:
            return
        columns = ", ".join(q(c) for c in data.column_names)
        # chdb reads the Arrow table by its variable's name in this frame.
        wa_rows = data  # noqa: F841
        self._query(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM Python(wa_rows)")

    def for_shard(self, host: str, port: int) -> ChdbBackend:
        raise StoreError("chdb is one process: it has no cluster")

    def close(self) -> None:
        self._session.close()


def _unwrap(ch_type: str) -> str:
    for wrapper in ("Nullable(", "LowCardinality("):
        if ch_type.startswith(wrapper):
            ch_type = ch_type[len(wrapper) : -1]
    return ch_type
