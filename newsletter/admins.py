"""Admin accounts: argon2 password hashes, login check, bearer API tokens, disabling.

Passwords are hashed with argon2id (argon2-cffi defaults) and never logged; API tokens
are 256-bit random strings shown once, of which only the SHA-256 is stored (a token is
not a password: it has full entropy, so a fast hash is enough).
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection

from newsletter.context import Context
from newsletter.errors import InvalidInputError, NotFoundError
from newsletter.store import admins as admin_store
from newsletter.store import audit
from newsletter.store import sessions as session_store
from newsletter.store.admins import Admin
from newsletter.store.db import transaction, utcnow
from newsletter.subscriptions.rules import normalise_email

MIN_PASSWORD = 10
_NAME = re.compile(r"^[A-Za-z0-9._@-]{2,100}$")
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify unknown names against (made on first use, not at import: 0.4 s)."""
    return _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(stored_hash: str | None, password: str) -> bool:
    """Verify against the stored hash (a dummy one when there is none: same timing)."""
    try:
        return _hasher.verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def check_length(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInputError(
            f"Das Passwort muss mindestens {MIN_PASSWORD} Zeichen lang sein", field="password"
        )


def validate_new(name: str, email: str, password: str) -> str:
    """Check a new admin's fields; returns the normalised email (may be empty)."""
    if not _NAME.fullmatch(name):
        raise InvalidInputError(
            "Der Name darf nur Buchstaben, Ziffern und . _ @ - enthalten (2–100 Zeichen)",
            field="name",
        )
    check_length(password)
    return normalise_email(email) if email else ""


def create(ctx: Context, name: str, email: str, password: str, *, actor: str = "cli") -> Admin:
    address = validate_new(name, email, password)
    with transaction(ctx.engine) as conn:
        admin = admin_store.add(
            conn, name=name, email=address, password_hash=hash_password(password)
        )
        audit.record(conn, actor, "admin.add", name, {"email": address})
    return admin


def authenticate(ctx: Context, name: str, password: str) -> Admin | None:
    """The admin if name and password match, else None; rehashes old parameters.

    An unknown name is verified against a dummy hash, so it takes as long as a wrong
    password (no finding names by timing). Slow (argon2): call it from a worker thread.
    """
    with transaction(ctx.engine) as conn:
        admin = admin_store.by_name(conn, name)
        stored = admin_store.password_hash(conn, admin.id) if admin else None
    if not check_password(stored, password) or admin is None or stored is None:
        return None
    if admin.disabled:
        return None
    with transaction(ctx.engine) as conn:
        if _hasher.check_needs_rehash(stored):
            admin_store.set_password_hash(conn, admin.id, hash_password(password))
        admin_store.touch_login(conn, admin.id)
    return admin


def loggable_name(ctx: Context, name: str) -> str:
    """``name`` if it is an admin's, else a marker with its length: a failed login's name
    may be a password typed into the wrong field, so it is never logged as typed."""
    if not name:
        return "(leer)"
    with transaction(ctx.engine) as conn:
        known = admin_store.by_name(conn, name) is not None
    return name if known else f"(unbekannt, {len(name)} Zeichen)"


def named(conn: Connection, name: str) -> Admin:
    """The admin called ``name``, else NotFoundError."""
    admin = admin_store.by_name(conn, name)
    if admin is None:
        raise NotFoundError(f"Den Admin »{name}« gibt es nicht")
    return admin


def set_password(ctx: Context, name: str, password: str, *, actor: str = "cli") -> int:
    """Set a new password and end every session of the admin; how many were ended."""
    check_length(password)
    with transaction(ctx.engine) as conn:
        admin = named(conn, name)
        admin_store.set_password_hash(conn, admin.id, hash_password(password))
        ended = session_store.revoke_all(conn, admin.id, utcnow())
        audit.record(conn, actor, "admin.password", name, {"sessions_ended": ended})
    return ended


def set_disabled(ctx: Context, name: str, disabled: bool, *, actor: str = "cli") -> int:
    """Disable the account (no login, API token or session; its sessions end) or enable it
    again; how many sessions were ended."""
    now = utcnow()
    with transaction(ctx.engine) as conn:
        admin = named(conn, name)
        admin_store.set_disabled(conn, admin.id, now if disabled else None)
        ended = session_store.revoke_all(conn, admin.id, now) if disabled else 0
        action = "admin.disable" if disabled else "admin.enable"
        audit.record(conn, actor, action, name, {"sessions_ended": ended})
    return ended


def end_sessions(ctx: Context, name: str, *, actor: str = "cli") -> int:
    """End every session of the admin (the account stays usable); how many."""
    with transaction(ctx.engine) as conn:
        admin = named(conn, name)
        ended = session_store.revoke_all(conn, admin.id, utcnow())
        audit.record(conn, actor, "admin.sessions.end", name, {"sessions_ended": ended})
    return ended


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_api_token(ctx: Context, name: str, *, actor: str = "cli") -> str:
    """Create (or replace) the admin's API token; the plain token is returned once."""
    token = "nl_" + secrets.token_urlsafe(32)
    with transaction(ctx.engine) as conn:
        admin = named(conn, name)
        admin_store.set_token_hash(conn, admin.id, token_hash(token))
        audit.record(conn, actor, "admin.token", name)
    return token


def admin_for_token(ctx: Context, token: str) -> Admin | None:
    if not token.startswith("nl_"):
        return None
    with transaction(ctx.engine) as conn:
        admin = admin_store.by_token_hash(conn, token_hash(token))
    return None if admin is None or admin.disabled else admin
