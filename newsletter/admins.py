"""Admin accounts: argon2 password hashes, login check, bearer API tokens.

Passwords are hashed with argon2id (argon2-cffi defaults) and never logged; API tokens
are 256-bit random strings shown once, of which only the SHA-256 is stored (a token is
not a password: it has full entropy, so a fast hash is enough).
"""

from __future__ import annotations

import hashlib
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email

from newsletter.context import Context
from newsletter.errors import InvalidInputError, NotFoundError
from newsletter.store import admins as admin_store
from newsletter.store import audit
from newsletter.store.admins import Admin
from newsletter.store.db import transaction

MIN_PASSWORD = 10
_NAME = re.compile(r"^[A-Za-z0-9._@-]{2,100}$")
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(stored_hash: str | None, password: str) -> bool:
    """Verify against the stored hash (a dummy one when there is none: same timing)."""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def validate_new(name: str, email: str, password: str) -> str:
    """Check a new admin's fields; returns the normalised email (may be empty)."""
    if not _NAME.fullmatch(name):
        raise InvalidInputError(
            "Der Name darf nur Buchstaben, Ziffern und . _ @ - enthalten (2–100 Zeichen)",
            field="name",
        )
    if len(password) < MIN_PASSWORD:
        raise InvalidInputError(
            f"Das Passwort muss mindestens {MIN_PASSWORD} Zeichen lang sein", field="password"
        )
    if not email:
        return ""
    try:
        return validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidInputError(
            f"»{email}« ist keine gültige E-Mail-Adresse", field="email"
        ) from exc


def create(ctx: Context, name: str, email: str, password: str, *, actor: str = "cli") -> Admin:
    address = validate_new(name, email, password)
    with transaction(ctx.engine) as conn:
        admin = admin_store.add(
            conn, name=name, email=address, password_hash=hash_password(password)
        )
        audit.record(conn, actor, "admin.add", name, {"email": address})
    return admin


def authenticate(ctx: Context, name: str, password: str) -> Admin | None:
    """The admin if name and password match, else None; rehashes old parameters."""
    with transaction(ctx.engine) as conn:
        admin = admin_store.by_name(conn, name)
        stored = admin_store.password_hash(conn, admin.id) if admin else None
        if admin is None or not check_password(stored, password):
            return None
        if stored and _hasher.check_needs_rehash(stored):
            admin_store.set_password_hash(conn, admin.id, hash_password(password))
        admin_store.touch_login(conn, admin.id)
    return admin


def session_fingerprint(ctx: Context, admin_id: int) -> str | None:
    """Changes when the password changes, so old sessions end with it."""
    with transaction(ctx.engine) as conn:
        stored = admin_store.password_hash(conn, admin_id)
    if stored is None:
        return None
    return hashlib.sha256(f"session:{stored}".encode()).hexdigest()[:20]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_api_token(ctx: Context, name: str, *, actor: str = "cli") -> str:
    """Create (or replace) the admin's API token; the plain token is returned once."""
    token = "nl_" + secrets.token_urlsafe(32)
    with transaction(ctx.engine) as conn:
        admin = admin_store.by_name(conn, name)
        if admin is None:
            raise NotFoundError(f"Den Admin »{name}« gibt es nicht")
        admin_store.set_token_hash(conn, admin.id, token_hash(token))
        audit.record(conn, actor, "admin.token", name)
    return token


def admin_for_token(ctx: Context, token: str) -> Admin | None:
    if not token.startswith("nl_"):
        return None
    with transaction(ctx.engine) as conn:
        return admin_store.by_token_hash(conn, token_hash(token))
