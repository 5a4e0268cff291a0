"""Admin audit log: every admin action, newest first."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from newsletter.store import audit
from newsletter.store.db import transaction
from newsletter.web.admin.common import admin_page
from newsletter.web.params import PageNumber
from newsletter.web.rendering import context_of

router = APIRouter(prefix="/protokoll")
PAGE_SIZE = 100


@router.get("", response_class=HTMLResponse, include_in_schema=False)
def audit_log(request: Request, wer: str = "", seite: PageNumber = 1) -> HTMLResponse:
    ctx = context_of(request)
    page = seite
    with transaction(ctx.engine) as conn:
        entries = audit.recent(
            conn, actor=wer or None, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE
        )
    values = {
        "entries": entries[:PAGE_SIZE],
        "more": len(entries) > PAGE_SIZE,
        "page": page,
        "wer": wer,
    }
    return admin_page(request, "admin/audit.html", values)
