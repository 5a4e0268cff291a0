"""SQL for admin sessions: one row per login, found by the SHA-256 of the cookie's id.

Whether a session is still valid (idle and absolute expiry, revoked, account disabled)
is decided in :mod:`newsletter.sessions`; here are only reads and writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from newsletter.store.db import as_utc
from newsletter.store.schema import admin_sessions


@dataclass(frozen=True)
class Session:
    id: int
    admin_id: int
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None


def add(
    conn: Connection, *, id_hash: str, admin_id: int, now: datetime, expires_at: datetime
) -> int:
    values = {"id_hash": id_hash, "admin_id": admin_id, "created_at": now}
    values |= {"last_seen_at": now, "expires_at": expires_at}
    result = conn.execute(insert(admin_sessions).values(**values))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def by_hash(conn: Connection, id_hash: str) -> Session | None:
    row = conn.execute(select(admin_sessions).where(admin_sessions.c.id_hash == id_hash)).first()
    return None if row is None else _session(row._mapping)


def of_admin(conn: Connection, admin_id: int, *, live_at: datetime) -> list[Session]:
    """The admin's sessions not revoked and not past their absolute expiry, newest first."""
    query = (
        select(admin_sessions)
        .where(admin_sessions.c.admin_id == admin_id)
        .where(admin_sessions.c.revoked_at.is_(None), admin_sessions.c.expires_at > live_at)
        .order_by(admin_sessions.c.last_seen_at.desc())
    )
    return [_session(row._mapping) for row in conn.execute(query)]


def touch(conn: Connection, session_id: int, now: datetime) -> None:
    conn.execute(
        update(admin_sessions).where(admin_sessions.c.id == session_id).values(last_seen_at=now)
    )


def revoke(conn: Connection, session_id: int, now: datetime) -> None:
    conn.execute(
        update(admin_sessions)
        .where(admin_sessions.c.id == session_id, admin_sessions.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def revoke_all(conn: Connection, admin_id: int, now: datetime) -> int:
    """Revoke every open session of the admin; how many there were."""
    result = conn.execute(
        update(admin_sessions)
        .where(admin_sessions.c.admin_id == admin_id, admin_sessions.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount)


def prune(conn: Connection, now: datetime) -> int:
    """Delete the sessions past their absolute expiry (revoked or not)."""
    return int(
        conn.execute(delete(admin_sessions).where(admin_sessions.c.expires_at <= now)).rowcount
    )


def _session(row: Any) -> Session:
    return Session(
        id=row["id"],
        admin_id=row["admin_id"],
        created_at=as_utc(row["created_at"]),  # type: ignore[arg-type]
        last_seen_at=as_utc(row["last_seen_at"]),  # type: ignore[arg-type]
        expires_at=as_utc(row["expires_at"]),  # type: ignore[arg-type]
        revoked_at=as_utc(row["revoked_at"]),
    )
