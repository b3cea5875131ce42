"""The control plane: customers, PBXs, users, API keys and entitlements.

Kept through SQLAlchemy Core in one of two databases (see :mod:`.database`): SQLite in the
data directory by default (so the admin CLI works while the server runs), or a PostgreSQL
named by ``--control postgresql://...``, which several stateless API replicas share so that
a login, a key or a user made on one is known to all. :func:`.factory.open_control` picks.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from workanalytics.auth.apikeys import hash_api_key, new_api_key
from workanalytics.auth.passwords import hash_password, verify_password
from workanalytics.control.database import create_engine, create_tables, redacted
from workanalytics.filelock import exclusive
from workanalytics.legs import PBX_ID_PATTERN

DEFAULT_CUSTOMER = "default"

metadata = sa.MetaData()

customers = sa.Table(
    "customers",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("created_at", sa.String(40), nullable=False),
)
pbxes = sa.Table(
    "pbxes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("customer_id", sa.String(36), sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.UniqueConstraint("customer_id", "name"),
)
users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("customer_id", sa.String(36), sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("username", sa.String(200), nullable=False),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("all_pbxes", sa.Boolean, nullable=False, default=False),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.UniqueConstraint("customer_id", "username"),
)
user_pbxes = sa.Table(
    "user_pbxes",
    metadata,
    sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("pbx_name", sa.String(64), primary_key=True),
)
api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("customer_id", sa.String(36), sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False, default=""),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("admin", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("revoked_at", sa.String(40), nullable=True),
)


class ControlError(ValueError):
    """An admin request that cannot be done (unknown customer, duplicate name...)."""


class ControlUnavailable(RuntimeError):
    """The control database cannot be reached or opened; the message names it without its
    password."""


@dataclass(frozen=True)
class Customer:
    id: str
    name: str


@dataclass(frozen=True)
class User:
    id: str
    customer_id: str
    username: str
    all_pbxes: bool
    disabled: bool


@dataclass(frozen=True)
class ApiKey:
    id: str
    customer_id: str
    name: str
    admin: bool
    created_at: str
    revoked_at: str | None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _check_pbx_name(name: str) -> str:
    import re

    if not re.fullmatch(PBX_ID_PATTERN, name):
        raise ControlError(f"PBX name {name!r} must be 1-64 characters of A-Z a-z 0-9 . _ -")
    return name


class ControlPlane:
    def __init__(self, url: str):
        """Open the control database at ``url`` (``sqlite:///PATH`` or ``postgresql://...``),
        creating its tables when missing."""
        try:
            self.engine = create_engine(url)
        except (ValueError, ImportError, sa.exc.ArgumentError) as exc:  # a URL we cannot use
            raise ControlUnavailable(
                f"cannot open the control database {redacted(url)}: {_first_line(exc)}"
            ) from None
        try:
            create_tables(self.engine, metadata)
        except sa.exc.SQLAlchemyError as exc:  # unreachable, refused, or not allowed to
            self.engine.dispose()
            reason = _first_line(getattr(exc, "orig", None) or exc)
            raise ControlUnavailable(
                f"cannot open the control database {redacted(url)}: {reason}"
            ) from None

    @property
    def shared(self) -> bool:
        """Whether other processes on other machines may share this control plane (so the
        signing keys must live in it too, not in one machine's files)."""
        return self.engine.dialect.name != "sqlite"

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> ControlPlane:
        data_dir.mkdir(parents=True, exist_ok=True)
        path = data_dir / "control.sqlite"
        if not path.exists():
            # Password and key hashes live here: readable by the owner only.
            path.touch(mode=0o600)
        os.chmod(path, 0o600)
        # A new file's switch to WAL and its tables are made by one opener at a time.
        with exclusive(data_dir / "control.sqlite.lock"):
            return cls(f"sqlite:///{path}")

    # --- customers and PBXs ------------------------------------------------------------

    def ensure_customer(self, name: str = DEFAULT_CUSTOMER) -> Customer:
        for _attempt in range(3):
            try:
                with self.engine.begin() as db:
                    row = db.execute(sa.select(customers).where(customers.c.name == name)).first()
                    if row is None:
                        cid = str(uuid.uuid4())
                        db.execute(customers.insert().values(id=cid, name=name, created_at=_now()))
                        return Customer(cid, name)
                    return Customer(row.id, row.name)
            except sa.exc.IntegrityError:
                # Another replica made it between our look and our insert: look again.
                continue
        return self.customer(name)

    def customers(self) -> list[Customer]:
        with self.engine.connect() as db:
            rows = db.execute(sa.select(customers).order_by(customers.c.name)).all()
        return [Customer(r.id, r.name) for r in rows]

    def customer(self, name: str) -> Customer:
        with self.engine.connect() as db:
            row = db.execute(sa.select(customers).where(customers.c.name == name)).first()
        if row is None:
            raise ControlError(f"unknown customer {name!r}")
        return Customer(row.id, row.name)

    def add_pbx(self, name: str, customer: str = DEFAULT_CUSTOMER) -> None:
        cust = self.customer(customer)
        _check_pbx_name(name)
        with self.engine.begin() as db:
            taken = db.execute(sa.select(pbxes.c.customer_id).where(pbxes.c.name == name)).first()
            if taken is not None:
                raise ControlError(f"PBX {name!r} already exists")
            db.execute(pbxes.insert().values(customer_id=cust.id, name=name))

    def adopt_pbxes(
        self,
        names: Iterable[str],
        customer: str = DEFAULT_CUSTOMER,
        *,
        customer_id: str | None = None,
    ) -> list[str]:
        """Create, under a customer, the PBXs that legs name and nobody owns yet."""
        cid = customer_id or self.ensure_customer(customer).id
        wanted = set(names)
        for _attempt in range(3):
            added = []
            try:
                with self.engine.begin() as db:
                    known = {r.name for r in db.execute(sa.select(pbxes.c.name))}
                    for name in sorted(wanted - known):
                        db.execute(
                            pbxes.insert().values(customer_id=cid, name=_check_pbx_name(name))
                        )
                        added.append(name)
                return added
            except sa.exc.IntegrityError:
                # Another replica adopted some of them meanwhile: adopt what is left.
                continue
        return []

    def pbx_owners(self) -> dict[str, str]:
        """Customer id of every PBX, by name."""
        with self.engine.connect() as db:
            return {
                r.name: r.customer_id
                for r in db.execute(sa.select(pbxes.c.name, pbxes.c.customer_id))
            }

    def pbx_names(self, customer_id: str) -> list[str]:
        with self.engine.connect() as db:
            rows = db.execute(
                sa.select(pbxes.c.name)
                .where(pbxes.c.customer_id == customer_id)
                .order_by(pbxes.c.name)
            )
            return [r.name for r in rows]

    # --- users ---------------------------------------------------------------------------

    def add_user(
        self,
        username: str,
        password: str,
        *,
        customer: str = DEFAULT_CUSTOMER,
        all_pbxes: bool = False,
        pbx_list: Iterable[str] = (),
    ) -> User:
        if not username or not password:
            raise ControlError("username and password must not be empty")
        cust = self.customer(customer)
        wanted = list(dict.fromkeys(pbx_list))
        if not all_pbxes and not wanted:
            raise ControlError("give --all-pbxes or --pbx P1,P2")
        owned = set(self.pbx_names(cust.id))
        missing = [p for p in wanted if p not in owned]
        if missing:
            raise ControlError(f"unknown PBX(s) for customer {customer!r}: {', '.join(missing)}")
        uid = str(uuid.uuid4())
        with self.engine.begin() as db:
            exists = db.execute(
                sa.select(users.c.id).where(
                    users.c.customer_id == cust.id, users.c.username == username
                )
            ).first()
            if exists is not None:
                raise ControlError(f"user {username!r} already exists")
            db.execute(
                users.insert().values(
                    id=uid,
                    customer_id=cust.id,
                    username=username,
                    password_hash=hash_password(password),
                    all_pbxes=all_pbxes,
                    disabled=False,
                    created_at=_now(),
                )
            )
            for p in wanted:
                db.execute(user_pbxes.insert().values(user_id=uid, pbx_name=p))
        return User(uid, cust.id, username, all_pbxes, False)

    def _user_row(self, db, username: str, customer_id: str | None):
        query = sa.select(users).where(users.c.username == username)
        if customer_id is not None:
            query = query.where(users.c.customer_id == customer_id)
        rows = db.execute(query).all()
        if len(rows) > 1:
            raise ControlError(f"user {username!r} exists for several customers; name one")
        return rows[0] if rows else None

    def set_user_disabled(self, username: str, disabled: bool, customer: str | None = None) -> None:
        cid = self.customer(customer).id if customer else None
        with self.engine.begin() as db:
            row = self._user_row(db, username, cid)
            if row is None:
                raise ControlError(f"unknown user {username!r}")
            db.execute(users.update().where(users.c.id == row.id).values(disabled=disabled))

    def set_password(self, username: str, password: str, customer: str | None = None) -> None:
        if not password:
            raise ControlError("password must not be empty")
        cid = self.customer(customer).id if customer else None
        with self.engine.begin() as db:
            row = self._user_row(db, username, cid)
            if row is None:
                raise ControlError(f"unknown user {username!r}")
            db.execute(
                users.update()
                .where(users.c.id == row.id)
                .values(password_hash=hash_password(password))
            )

    def authenticate(self, customer_id: str, username: str, password: str) -> User | None:
        """The user when the password is right; one argon2 verification whatever happens."""
        with self.engine.connect() as db:
            row = db.execute(
                sa.select(users).where(
                    users.c.customer_id == customer_id, users.c.username == username
                )
            ).first()
        ok = verify_password(row.password_hash if row is not None else None, password)
        if row is None or not ok or row.disabled:
            return None
        return User(row.id, row.customer_id, row.username, row.all_pbxes, row.disabled)

    def user(self, user_id: str) -> User | None:
        with self.engine.connect() as db:
            row = db.execute(sa.select(users).where(users.c.id == user_id)).first()
        if row is None:
            return None
        return User(row.id, row.customer_id, row.username, row.all_pbxes, row.disabled)

    def entitled_pbxes(self, user: User) -> list[str]:
        """The PBX names the user may see: all of the customer's, or their list."""
        owned = self.pbx_names(user.customer_id)
        if user.all_pbxes:
            return owned
        with self.engine.connect() as db:
            listed = {
                r.pbx_name
                for r in db.execute(
                    sa.select(user_pbxes.c.pbx_name).where(user_pbxes.c.user_id == user.id)
                )
            }
        return [p for p in owned if p in listed]

    # --- API keys ------------------------------------------------------------------------

    def create_api_key(
        self, *, customer: str = DEFAULT_CUSTOMER, name: str = "", admin: bool = False
    ) -> tuple[ApiKey, str]:
        """A new key; the secret is returned here and never again."""
        cust = self.customer(customer)
        secret = new_api_key()
        key = ApiKey(str(uuid.uuid4()), cust.id, name, admin, _now(), None)
        with self.engine.begin() as db:
            db.execute(
                api_keys.insert().values(
                    id=key.id,
                    customer_id=key.customer_id,
                    name=name,
                    key_hash=hash_api_key(secret),
                    admin=admin,
                    created_at=key.created_at,
                )
            )
        return key, secret

    def revoke_api_key(self, key_id: str) -> None:
        with self.engine.begin() as db:
            done = db.execute(
                api_keys.update()
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=_now())
            )
            if done.rowcount == 0:
                raise ControlError(f"no active API key with id {key_id!r}")

    def list_api_keys(self) -> list[tuple[ApiKey, str]]:
        """Every key with its customer's name; never the secret or its hash."""
        with self.engine.connect() as db:
            rows = db.execute(
                sa.select(api_keys, customers.c.name.label("customer"))
                .join(customers, customers.c.id == api_keys.c.customer_id)
                .order_by(api_keys.c.created_at)
            ).all()
        return [
            (ApiKey(r.id, r.customer_id, r.name, r.admin, r.created_at, r.revoked_at), r.customer)
            for r in rows
        ]

    def lookup_api_key(self, secret: str | None) -> ApiKey | None:
        """The live key for a secret, found by its hash (no secret is compared directly)."""
        if not secret:
            return None
        with self.engine.connect() as db:
            row = db.execute(
                sa.select(api_keys).where(api_keys.c.key_hash == hash_api_key(secret))
            ).first()
        if row is None or row.revoked_at is not None:
            return None
        return ApiKey(row.id, row.customer_id, row.name, row.admin, row.created_at, row.revoked_at)

    def ping(self) -> None:
        with self.engine.connect() as db:
            db.execute(sa.text("SELECT 1"))

    def close(self) -> None:
        self.engine.dispose()
