"""Admin login: session cookie, login form, logout, and the guards for /admin and /api/v1.

The session lives on the server (:mod:`newsletter.sessions`): the cookie ``nl_admin``
(itsdangerous-signed and timestamped; HttpOnly, SameSite=Lax, Secure under https) carries
only its random id, so logout, a password change or ``admin disable`` end it for every
copy of the cookie. Every /admin route except the login form depends on
:func:`require_admin` (no session → 303 to ``/admin/anmelden``); every API route depends
on :func:`require_token` (no valid bearer token → 401 JSON).

The password check (argon2, 0.1–0.4 s of CPU) runs in a small bounded pool of worker
threads (:mod:`newsletter.web.hashpool`), never on the event loop: a burst of logins
queues there while feeds and ``/healthz`` keep answering; when the queue is full the
login is answered 503 at once. A failed login's name is logged only if it is an admin's.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from newsletter import admins, sessions
from newsletter.context import Context
from newsletter.store import audit
from newsletter.store.admins import Admin
from newsletter.store.db import transaction
from newsletter.web.hashpool import BoundedPool, PoolFull
from newsletter.web.rendering import context_of, render
from newsletter.web.security import checked_form, client_ip, rate_verdict
from newsletter.web.state import state_of

log = logging.getLogger("newsletter.web.auth")

SESSION_COOKIE = "nl_admin"
SESSION_SECONDS = int(sessions.ABSOLUTE.total_seconds())
LOGIN_PATH = "/admin/anmelden"
LOGIN_WORKERS = 2  # password checks at once (each uses a core for 0.1–0.4 s)
LOGIN_WAITING = 16  # more wait behind them; beyond that: 503 at once
BUSY = (
    "Gerade melden sich sehr viele gleichzeitig an. "
    "Bitte versuchen Sie es in einigen Sekunden noch einmal."
)

router = APIRouter()


def _serializer(ctx: Context) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(ctx.secret_key, salt="newsletter-admin-session")


def now_of(request: Request) -> datetime:
    """The time for session decisions: the app's clock (a test may set its own)."""
    return state_of(request.app).clock()


def _session_id(request: Request) -> str | None:
    """The session id from a validly signed cookie, or None."""
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        value = _serializer(context_of(request)).loads(raw, max_age=SESSION_SECONDS)
    except (BadSignature, ValueError, TypeError):
        return None
    return value if isinstance(value, str) else None


def session_admin(request: Request) -> Admin | None:
    """The admin of a live session, or None."""
    session_id = _session_id(request)
    if session_id is None:
        return None
    return sessions.resume(context_of(request), session_id, now_of(request))


def require_admin(request: Request) -> Admin:
    """Dependency of every admin page: the logged-in admin, else a redirect to the login."""
    admin = session_admin(request)
    if admin is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        location = f"{LOGIN_PATH}?weiter={quote(target, safe='')}"
        raise HTTPException(303, "Bitte melden Sie sich an.", headers={"Location": location})
    request.state.admin = admin
    return admin


def require_token(request: Request) -> Admin:
    """Dependency of every API route: ``Authorization: Bearer <token>``, else 401."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    admin = None
    if scheme.lower() == "bearer" and token.strip():
        admin = admins.admin_for_token(context_of(request), token.strip())
    if admin is None:
        raise HTTPException(
            401,
            "Ein gültiger API-Schlüssel fehlt (Authorization: Bearer …).",
            headers={"WWW-Authenticate": 'Bearer realm="newsletter"'},
        )
    request.state.admin = admin
    return admin


def current_admin(request: Request) -> Admin:
    """The admin the guard put on the request (only inside guarded routes)."""
    admin: Admin = request.state.admin
    return admin


def record(request: Request, action: str, target: str | None = None, **detail: Any) -> None:
    """Write one audit entry for the current admin."""
    ctx = context_of(request)
    with transaction(ctx.engine) as conn:
        audit.record(conn, current_admin(request).name, action, target, detail)


def safe_next(value: str | None) -> str:
    """Only local admin paths: no open redirect."""
    if value and value.startswith("/admin") and "//" not in value and "\\" not in value:
        return value
    return "/admin"


@router.get(LOGIN_PATH, response_class=HTMLResponse, include_in_schema=False)
def login_form(request: Request, weiter: str | None = None) -> Response:
    if session_admin(request) is not None:
        return RedirectResponse(safe_next(weiter), status_code=303)
    return render(request, "admin/login.html", {"weiter": safe_next(weiter), "error": None})


@router.post(LOGIN_PATH, response_class=HTMLResponse, include_in_schema=False)
async def login(request: Request) -> Response:
    ctx = context_of(request)
    ip = client_ip(request)
    form = await checked_form(request, ctx.secret_key)
    name = str(form.get("name", "")).strip()
    if not rate_verdict(request, "login", name).ok:
        log.warning("admin login rate limited ip=%s", ip)
        raise HTTPException(
            429,
            "Zu viele Anmeldeversuche. Bitte warten Sie eine Minute.",
            headers={"Retry-After": "60"},
        )
    target = safe_next(str(form.get("weiter", "")))
    password = str(form.get("password", ""))
    try:
        started = await state_of(request.app).login_pool.run(
            _attempt, ctx, name, password, ip, now_of(request)
        )
    except PoolFull:
        log.warning("admin login refused, password checks busy ip=%s", ip)
        raise HTTPException(503, BUSY, headers={"Retry-After": "5"}) from None
    if started is None:
        values = {"weiter": target, "error": "Name oder Passwort stimmen nicht.", "name": name}
        return render(request, "admin/login.html", values, status=401)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        str(_serializer(ctx).dumps(started)),
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


def login_pool() -> BoundedPool:
    """The pool for password checks, one per app (:class:`newsletter.web.state.WebState`)."""
    return BoundedPool(LOGIN_WORKERS, LOGIN_WAITING, "login")


def _attempt(ctx: Context, name: str, password: str, ip: str, now: datetime) -> str | None:
    """In a worker thread: check the password, audit and log the outcome; the new
    session's id, or None."""
    admin = admins.authenticate(ctx, name, password)
    if admin is None:
        shown = admins.loggable_name(ctx, name)
        with transaction(ctx.engine) as conn:
            audit.record(conn, shown, "login.failed", None, {"ip": ip})
        log.warning("admin login failed name=%s ip=%s", shown, ip)
        return None
    with transaction(ctx.engine) as conn:
        audit.record(conn, admin.name, "login", None, {"ip": ip})
    log.info("admin login name=%s ip=%s", admin.name, ip)
    return sessions.start(ctx, admin, now)


@router.post("/admin/abmelden", include_in_schema=False)
async def logout(request: Request) -> Response:
    ctx = context_of(request)
    await checked_form(request, ctx.secret_key)
    admin = session_admin(request)
    session_id = _session_id(request)
    if admin is not None and session_id is not None:
        sessions.end(ctx, session_id, now_of(request))
        with transaction(ctx.engine) as conn:
            audit.record(conn, admin.name, "logout")
    response = RedirectResponse(f"{LOGIN_PATH}?abgemeldet=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
