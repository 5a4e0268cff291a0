"""Admin login: session cookie, login form, logout, and the guards for /admin and /api/v1.

The session is a signed, timestamped cookie ``nl_admin`` (itsdangerous; HttpOnly,
SameSite=Lax, Secure under https) holding the admin id and a fingerprint of the password
hash, so a password change ends every session. Every /admin route except the login form
depends on :func:`require_admin` (no session → 303 to ``/admin/anmelden``); every API
route depends on :func:`require_token` (no valid bearer token → 401 JSON).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from newsletter import admins
from newsletter.context import Context
from newsletter.store import admins as admin_store
from newsletter.store import audit
from newsletter.store.admins import Admin
from newsletter.store.db import transaction
from newsletter.web.rendering import context_of, render
from newsletter.web.security import checked_form, client_ip, rate_verdict

log = logging.getLogger("newsletter.web.auth")

SESSION_COOKIE = "nl_admin"
SESSION_SECONDS = 12 * 3600
LOGIN_PATH = "/admin/anmelden"

router = APIRouter()


def _serializer(ctx: Context) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(ctx.secret_key, salt="newsletter-admin-session")


def session_value(ctx: Context, admin: Admin) -> str:
    fingerprint = admins.session_fingerprint(ctx, admin.id)
    return str(_serializer(ctx).dumps([admin.id, fingerprint]))


def session_admin(request: Request) -> Admin | None:
    """The admin of a valid session cookie, or None."""
    ctx = context_of(request)
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        admin_id, fingerprint = _serializer(ctx).loads(raw, max_age=SESSION_SECONDS)
    except (BadSignature, ValueError, TypeError):
        return None
    if not isinstance(admin_id, int) or fingerprint != admins.session_fingerprint(ctx, admin_id):
        return None
    with transaction(ctx.engine) as conn:
        return admin_store.get(conn, admin_id)


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
    admin = admins.authenticate(ctx, name, str(form.get("password", "")))
    if admin is None:
        return _login_failed(request, ctx, name, ip, target)
    with transaction(ctx.engine) as conn:
        audit.record(conn, admin.name, "login", None, {"ip": ip})
    log.info("admin login name=%s ip=%s", admin.name, ip)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_value(ctx, admin),
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


def _login_failed(request: Request, ctx: Context, name: str, ip: str, target: str) -> Response:
    with transaction(ctx.engine) as conn:
        audit.record(conn, name or "(leer)", "login.failed", None, {"ip": ip})
    log.warning("admin login failed name=%s ip=%s", name, ip)
    message = "Name oder Passwort stimmen nicht."
    values = {"weiter": target, "error": message, "name": name}
    return render(request, "admin/login.html", values, status=401)


@router.post("/admin/abmelden", include_in_schema=False)
async def logout(request: Request) -> Response:
    ctx = context_of(request)
    await checked_form(request, ctx.secret_key)
    admin = session_admin(request)
    if admin is not None:
        with transaction(ctx.engine) as conn:
            audit.record(conn, admin.name, "logout")
    response = RedirectResponse(f"{LOGIN_PATH}?abgemeldet=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
