"""SQL for admin accounts: password hashes, API token hashes, last login, disabled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from newsletter.errors import InvalidInputError, NotFoundError
from newsletter.store.db import as_utc, utcnow
from newsletter.store.schema import admins


@dataclass(frozen=True)
class Admin:
    """An admin as the pages see it: never carries the password or token hash."""

    id: int
    name: str
    email: str
    created_at: datetime | None = None
    last_login_at: datetime | None = None
    has_token: bool = False
    disabled_at: datetime | None = None

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None


def add(conn: Connection, *, name: str, email: str, password_hash: str) -> Admin:
    if conn.execute(select(admins.c.id).where(admins.c.name == name)).first() is not None:
        raise InvalidInputError.admin_exists(name)
    values = {"name": name, "email": email, "password_hash": password_hash, "created_at": utcnow()}
    result = conn.execute(insert(admins).values(**values))
    return get(conn, int(result.inserted_primary_key[0]))  # type: ignore[index]


def get(conn: Connection, admin_id: int) -> Admin:
    row = conn.execute(select(admins).where(admins.c.id == admin_id)).first()
    if row is None:
        raise NotFoundError.of("admin", admin_id)
    return _admin(row._mapping)


def by_name(conn: Connection, name: str) -> Admin | None:
    row = conn.execute(select(admins).where(admins.c.name == name)).first()
    return None if row is None else _admin(row._mapping)


def password_hash(conn: Connection, admin_id: int) -> str | None:
    """The stored argon2 hash (for verification only; never shown or logged)."""
    value = conn.execute(select(admins.c.password_hash).where(admins.c.id == admin_id)).scalar()
    return None if value is None else str(value)


def set_password_hash(conn: Connection, admin_id: int, value: str) -> None:
    conn.execute(update(admins).where(admins.c.id == admin_id).values(password_hash=value))


def all_admins(conn: Connection) -> list[Admin]:
    return [_admin(row._mapping) for row in conn.execute(select(admins).order_by(admins.c.name))]


def set_token_hash(conn: Connection, admin_id: int, token_hash: str | None) -> None:
    conn.execute(update(admins).where(admins.c.id == admin_id).values(api_token_hash=token_hash))


def by_token_hash(conn: Connection, token_hash: str) -> Admin | None:
    row = conn.execute(select(admins).where(admins.c.api_token_hash == token_hash)).first()
    return None if row is None else _admin(row._mapping)


def touch_login(conn: Connection, admin_id: int, at: datetime | None = None) -> None:
    conn.execute(update(admins).where(admins.c.id == admin_id).values(last_login_at=at or utcnow()))


def set_disabled(conn: Connection, admin_id: int, at: datetime | None) -> None:
    """Disable the account at ``at``, or enable it again with None."""
    conn.execute(update(admins).where(admins.c.id == admin_id).values(disabled_at=at))


def count(conn: Connection) -> int:
    return len(conn.execute(select(admins.c.id)).all())


def _admin(row: Any) -> Admin:
    return Admin(
        id=row["id"],
        name=row["name"],
        email=row["email"],
        created_at=as_utc(row["created_at"]),
        last_login_at=as_utc(row["last_login_at"]),
        has_token=row["api_token_hash"] is not None,
        disabled_at=as_utc(row["disabled_at"]),
    )
