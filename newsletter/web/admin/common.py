"""Shared helpers of the admin pages: the page frame, flash notices, form values."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import FormData

from newsletter.errors import InvalidInputError
from newsletter.history import age_text, trigger_label
from newsletter.localtime import german_long, german_medium, german_short
from newsletter.models import Draft
from newsletter.store import drafts as draft_store
from newsletter.store.db import transaction, utcnow
from newsletter.web.auth import current_admin
from newsletter.web.rendering import context_of, render

FLASH_COOKIE = "nl_flash"
NAV = (
    ("/admin", "Übersicht"),
    ("/admin/meldungen", "Meldungen"),
    ("/admin/newsletter", "Newsletter"),
    ("/admin/abonnenten", "Abonnenten"),
    ("/admin/protokoll", "Protokoll"),
)


def _flash_signer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(context_of(request).secret_key, salt="newsletter-flash")


def admin_page(
    request: Request, template: str, values: dict[str, Any] | None = None, *, status: int = 200
) -> HTMLResponse:
    """Render an admin page with the nav, the admin, dates helpers and a pending notice."""
    ctx = context_of(request)
    tz = ZoneInfo(ctx.config.site.timezone)
    notice = _read_flash(request)
    page_values: dict[str, Any] = {
        "admin": current_admin(request),
        "nav": NAV,
        "notice": notice,
        "when": lambda v: german_short(v, tz),
        "when_long": lambda v: german_long(v, tz),
        "when_medium": lambda v: german_medium(v, tz),
        "region_names": {r.key: r.name for r in ctx.config.region_list()},
        "trigger_label": trigger_label,
        "draft_age": lambda draft: age_text(draft.created_at, utcnow()),
    }
    response = render(request, template, page_values | (values or {}), status=status)
    if notice is not None:
        response.delete_cookie(FLASH_COOKIE, path="/admin")
    return response


def _read_flash(request: Request) -> str | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        return str(_flash_signer(request).loads(raw, max_age=300))
    except BadSignature:
        return None


def redirect(request: Request, url: str, notice: str | None = None) -> RedirectResponse:
    """303 to ``url`` (Post/Redirect/Get), with a German notice shown on the next page."""
    response = RedirectResponse(url, status_code=303)
    if notice:
        value = str(_flash_signer(request).dumps(notice))
        response.set_cookie(
            FLASH_COOKIE,
            value,
            max_age=300,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/admin",
        )
    return response


def field(form: FormData, name: str) -> str:
    return str(form.get(name, "")).strip()


def region_keys(request: Request, form: FormData, name: str = "region") -> list[str]:
    """The checked regions, each a configured key (else a German input error)."""
    known = {r.key for r in context_of(request).config.region_list()}
    chosen = [str(v) for v in form.getlist(name)]
    for key in chosen:
        if key not in known:
            raise InvalidInputError(f"Unbekannte Region »{key}«", field=name)
    return sorted(set(chosen))


def waiting_drafts(request: Request, region: str | None = None) -> list[Draft]:
    """Drafted digests waiting for »Freigeben und senden« (``schedule.approval = manual``)."""
    with transaction(context_of(request).engine) as conn:
        return draft_store.waiting(conn, region)


def draft_cutoff(request: Request, region: str) -> datetime | None:
    """The cut-off of the region's newest waiting draft: what »Freigeben und senden« sends,
    so previews show that period (None: no draft waits, preview up to now)."""
    waiting = waiting_drafts(request, region)
    return waiting[-1].period_end if waiting else None
