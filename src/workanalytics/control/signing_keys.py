"""The token signing keys as a table of the shared control database.

With a PostgreSQL control plane, API replicas keep no state of their own: a token signed on
one must verify on every other, and a ``keys rotate`` run against any of them must reach all.
So the keys live beside the users and API keys, one row per key:

- ``kid``: the key's id, as in the tokens' header;
- ``private_key_pem``: the PKCS#8 private key. It is as secret as a password database:
  anyone who can read this table can sign tokens. It is protected by the database's access
  control (the roles granted ``SELECT`` on it), not by file modes as in the embedded setup;
- ``created_at``: epoch second it was made;
- ``retired_at``: epoch second another key replaced it; NULL for the one key that signs.

Installing a key retires the signer and inserts the new one in one transaction, behind an
advisory lock on PostgreSQL, so two replicas rotating (or creating the first key) at once
still leave exactly one signer.
"""

from __future__ import annotations

import sqlalchemy as sa

from workanalytics.control.database import create_tables

#: ``pg_advisory_xact_lock`` key held while the signer changes.
SIGNER_LOCK_KEY = 0x77A1_5167

metadata = sa.MetaData()

signing_keys = sa.Table(
    "signing_keys",
    metadata,
    sa.Column("kid", sa.String(64), primary_key=True),
    sa.Column("private_key_pem", sa.Text, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("retired_at", sa.BigInteger, nullable=True),
)


class DatabaseKeyStore:
    """Signing keys in the control database, shared by every process that opens it."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        create_tables(engine, metadata)
        #: Kids read before: a key's PEM never changes, so these need no second read.
        self._seen: set[str] = set()

    def _lock_signer(self, db: sa.Connection) -> None:
        if self.engine.dialect.name == "postgresql":
            db.execute(sa.select(sa.func.pg_advisory_xact_lock(SIGNER_LOCK_KEY)))

    @staticmethod
    def _signer(db: sa.Connection) -> str | None:
        return db.execute(
            sa.select(signing_keys.c.kid)
            .where(signing_keys.c.retired_at.is_(None))
            .order_by(signing_keys.c.created_at.desc(), signing_keys.c.kid.desc())
            .limit(1)
        ).scalar()

    def active_kid(self) -> str | None:
        with self.engine.connect() as db:
            return self._signer(db)

    def install(self, kid: str, pem: bytes, now: int, *, only_if_none: bool = False) -> str:
        with self.engine.begin() as db:
            self._lock_signer(db)
            if only_if_none:
                current = self._signer(db)
                if current is not None:
                    return current
            db.execute(
                signing_keys.update()
                .where(signing_keys.c.retired_at.is_(None))
                .values(retired_at=now)
            )
            db.execute(
                signing_keys.insert().values(
                    kid=kid, private_key_pem=pem.decode("ascii"), created_at=now, retired_at=None
                )
            )
        return kid

    def stamp(self, kid: str) -> object | None:
        # A kid's PEM never changes, so one read is enough. A key another replica pruned
        # stays in this cache, but everything it signed has expired by then: still refused.
        return 0 if kid in self._seen else None

    def load(self, kid: str) -> bytes | None:
        with self.engine.connect() as db:
            pem = db.execute(
                sa.select(signing_keys.c.private_key_pem).where(signing_keys.c.kid == kid)
            ).scalar()
        if pem is None:
            self._seen.discard(kid)
            return None
        self._seen.add(kid)
        return pem.encode("ascii")

    def retired(self) -> list[tuple[str, int]]:
        with self.engine.connect() as db:
            rows = db.execute(
                sa.select(signing_keys.c.kid, signing_keys.c.retired_at).where(
                    signing_keys.c.retired_at.is_not(None)
                )
            ).all()
        return [(r.kid, int(r.retired_at)) for r in rows]

    def remove(self, kids: list[str]) -> None:
        if not kids:
            return
        with self.engine.begin() as db:
            db.execute(signing_keys.delete().where(signing_keys.c.kid.in_(kids)))
        self._seen.difference_update(kids)
