"""Form protection shared by the public and admin pages: CSRF tokens and rate limits.

Rate limits are counted in the database (:func:`rate_verdict`), so they hold across all web
processes; :mod:`newsletter.web.limits` decides which counters a request increments.

CSRF uses a signed double submit: a random, HttpOnly, SameSite=Lax cookie ``nl_csrf``
and a form field ``csrf_token`` = HMAC(secret, cookie). A cross-site page can neither
read the cookie nor compute the HMAC. :func:`render` sets the cookie when it is missing.
RFC 8058 one-click unsubscribe POSTs are exempt by design (the link token is the proof).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request
from starlette.datastructures import FormData
from starlette.responses import Response

from newsletter.errors import PermissionDeniedError
from newsletter.store import ratelimits
from newsletter.store.db import transaction, utcnow
from newsletter.web import limits
from newsletter.web.state import state_of

CSRF_COOKIE = "nl_csrf"
CSRF_FIELD = "csrf_token"


def csrf_cookie_value(request: Request) -> tuple[str, bool]:
    """The browser's CSRF cookie, or a new one (then ``True``: it must be set)."""
    current = request.cookies.get(CSRF_COOKIE, "")
    if len(current) == 43:
        return current, False
    cached = getattr(request.state, "new_csrf_cookie", None)
    if cached:
        return str(cached), True
    fresh = secrets.token_urlsafe(32)
    request.state.new_csrf_cookie = fresh
    return fresh, True


def csrf_token(secret: str, cookie: str) -> str:
    return hmac.new(secret.encode(), f"csrf:{cookie}".encode(), hashlib.sha256).hexdigest()


def set_csrf_cookie(request: Request, response: Response, cookie: str) -> None:
    response.set_cookie(
        CSRF_COOKIE,
        cookie,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


async def checked_form(request: Request, secret: str) -> FormData:
    """Read the POSTed form and verify its CSRF field against the cookie (else 403)."""
    form = await request.form()
    cookie = request.cookies.get(CSRF_COOKIE, "")
    submitted = str(form.get(CSRF_FIELD, ""))
    if not cookie or not hmac.compare_digest(submitted, csrf_token(secret, cookie)):
        raise PermissionDeniedError(
            "Das Formular ist abgelaufen oder wurde nicht von dieser Seite gesendet. "
            "Bitte laden Sie die Seite neu und versuchen Sie es noch einmal."
        )
    return form


def rate_verdict(request: Request, action: limits.Action, target: str) -> limits.Verdict:
    """Count this request against the limits of ``action`` (in the database) and judge it."""
    ctx = state_of(request.app).context
    counted = limits.counters(
        action,
        limits.rules(action, ctx.config),
        client_ip(request),
        limits.target_key(ctx.secret_key, target),
        utcnow(),
    )
    with transaction(ctx.engine) as conn:
        counts = ratelimits.hit_all(conn, [(c.key, c.window_start) for c in counted])
    return limits.verdict(counted, counts)


def client_ip(request: Request) -> str:
    """The peer address (uvicorn applies X-Forwarded-For only from trusted proxies)."""
    return request.client.host if request.client else "unknown"
