"""Admin bounces: addresses with bounces and complaints, and per address each bounce with
the remote server's reply and the raw message (read-only; the job acts, see
:mod:`newsletter.mail.bounces`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from newsletter.models import BOUNCE_KIND_NAMES
from newsletter.store import bounces as store
from newsletter.store.db import transaction
from newsletter.web.admin.common import admin_page
from newsletter.web.params import PageNumber
from newsletter.web.rendering import context_of

router = APIRouter(prefix="/ruecklaeufer")
PAGE_SIZE = 100


@router.get("", response_class=HTMLResponse, include_in_schema=False)
def bounces_page(request: Request, adresse: str = "", seite: PageNumber = 1) -> HTMLResponse:
    ctx = context_of(request)
    address = adresse.strip()[:320]
    with transaction(ctx.engine) as conn:
        if address:
            found = store.of_address(conn, address)
            values = {"address": address, "bounces": found, "kinds": BOUNCE_KIND_NAMES}
            return admin_page(request, "admin/bounce_address.html", values)
        rows = store.per_address(conn, PAGE_SIZE + 1, (seite - 1) * PAGE_SIZE)
    listing: dict[str, Any] = {
        "rows": rows[:PAGE_SIZE],
        "more": len(rows) > PAGE_SIZE,
        "page": seite,
        "mailbox": ctx.config.bounces.mailbox,
        "verp": ctx.config.bounces.verp,
    }
    return admin_page(request, "admin/bounces.html", listing)
