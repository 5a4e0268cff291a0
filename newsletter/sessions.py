"""Admin sessions on the server: the cookie carries a random id, the store its SHA-256.

A session ends at logout, when its admin's password changes, when the account is disabled
(``newsletter admin disable``) or its sessions are ended (``newsletter admin
sessions NAME --end``), after :data:`IDLE` without a request and at the latest
:data:`ABSOLUTE` after the login. Every function takes ``now`` so tests use their own clock.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from newsletter.admins import named, token_hash
from newsletter.context import Context
from newsletter.store import admins as admin_store
from newsletter.store import sessions as session_store
from newsletter.store.admins import Admin
from newsletter.store.db import transaction
from newsletter.store.sessions import Session

ABSOLUTE = timedelta(hours=12)
IDLE = timedelta(hours=2)
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often


def is_live(session: Session, admin: Admin, now: datetime) -> bool:
    """Not revoked, not idle too long, not past its absolute end, the account enabled."""
    return (
        session.revoked_at is None
        and now < session.expires_at
        and now - session.last_seen_at < IDLE
        and not admin.disabled
    )


def start(ctx: Context, admin: Admin, now: datetime) -> str:
    """A new session for ``admin``; returns its id for the cookie (stored only hashed)."""
    raw = secrets.token_urlsafe(32)
    with transaction(ctx.engine) as conn:
        session_store.prune(conn, now)
        session_store.add(
            conn, id_hash=token_hash(raw), admin_id=admin.id, now=now, expires_at=now + ABSOLUTE
        )
    return raw


def resume(ctx: Context, raw: str, now: datetime) -> Admin | None:
    """The admin of a live session with id ``raw``, else None; records the activity."""
    with transaction(ctx.engine) as conn:
        session = session_store.by_hash(conn, token_hash(raw))
        if session is None:
            return None
        admin = admin_store.get(conn, session.admin_id)
        if not is_live(session, admin, now):
            return None
        if now - session.last_seen_at >= TOUCH_EVERY:
            session_store.touch(conn, session.id, now)
    return admin


def end(ctx: Context, raw: str, now: datetime) -> None:
    """Revoke the session with id ``raw`` (logout); nothing if there is none."""
    with transaction(ctx.engine) as conn:
        session = session_store.by_hash(conn, token_hash(raw))
        if session is not None:
            session_store.revoke(conn, session.id, now)


def live_sessions(ctx: Context, name: str, now: datetime) -> list[Session]:
    """The admin's sessions that would still let a request in, newest activity first."""
    with transaction(ctx.engine) as conn:
        admin = named(conn, name)
        found = session_store.of_admin(conn, admin.id, live_at=now)
    return [s for s in found if is_live(s, admin, now)]
