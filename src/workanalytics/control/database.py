"""The control database's engine and schema: SQLite in the data dir, or a shared PostgreSQL.

Both dialects go through SQLAlchemy Core, so the control plane and the signing-key store are
written once. What differs is kept here: the URL (``postgresql://`` is taken as psycopg 3),
SQLite's pragmas, and table creation: several replicas (or the CLI and the server) may start
at the same moment, and two processes each finding a table missing and creating it would
collide, so creation waits its turn, behind a transaction-scoped advisory lock on
PostgreSQL and SQLite's write lock.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url

#: ``pg_advisory_xact_lock`` key held while tables are created (any constant; ours).
SCHEMA_LOCK_KEY = 0x77A1_C0DE


def engine_url(url: str) -> sa.URL:
    """``url`` for SQLAlchemy: ``postgresql://`` and ``postgres://`` mean psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError(
            f"control database {parsed.get_backend_name()!r}: use postgresql://... "
            "(or leave it unset for SQLite in the data dir)"
        )
    return parsed


def redacted(url: str) -> str:
    """``url`` fit for a message or a log: its password, if any, hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL says nothing of its parts either
        return "<unparsable URL>"


def create_engine(url: str) -> sa.Engine:
    """An engine for the control database, set up for its dialect."""
    parsed = engine_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = sa.create_engine(parsed)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # A replica outlives database restarts and idle-connection reaping: test before use.
    return sa.create_engine(parsed, pool_pre_ping=True)


def create_tables(engine: sa.Engine, metadata: sa.MetaData) -> None:
    """Create ``metadata``'s missing tables; safe with several processes doing it at once."""
    with engine.connect() as db:
        if engine.dialect.name == "postgresql":
            # DDL is transactional in PostgreSQL: the lock is held until the tables commit,
            # and the next replica then finds them and creates nothing.
            db.execute(sa.select(sa.func.pg_advisory_xact_lock(SCHEMA_LOCK_KEY)))
        elif engine.dialect.name == "sqlite":
            # The driver opens no transaction for DDL by itself: take the write lock first
            # (busy_timeout waits for it), so the look for tables and their creation are one.
            db.exec_driver_sql("BEGIN IMMEDIATE")
        metadata.create_all(db)
        db.commit()


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cur = dbapi_connection.cursor()
    # busy_timeout first: switching a new file to WAL takes a lock that several processes
    # opening it at once must wait for. WAL lets the admin CLI write while the server reads.
    cur.execute("PRAGMA busy_timeout=5000")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
