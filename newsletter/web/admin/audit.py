"""Admin audit log: every action of the admins, the CLI and the API, newest first, each
as a German sentence (:mod:`newsletter.web.auditlog`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from newsletter.store import audit
from newsletter.store import items as item_store
from newsletter.store.db import transaction
from newsletter.web.admin.common import admin_page
from newsletter.web.auditlog import Names, actor_name, sentence
from newsletter.web.params import PageNumber
from newsletter.web.rendering import context_of

router = APIRouter(prefix="/protokoll")
PAGE_SIZE = 100


@router.get("", response_class=HTMLResponse, include_in_schema=False)
def audit_log(request: Request, wer: str = "", seite: PageNumber = 1) -> HTMLResponse:
    ctx = context_of(request)
    page = seite
    # the CLI recorded itself as »cli« before it had a German name
    actors = ("cli", audit.CLI_ACTOR) if wer.strip().lower() == audit.CLI_ACTOR.lower() else ()
    with transaction(ctx.engine) as conn:
        entries = audit.recent(
            conn,
            actor=None if actors or not wer.strip() else wer.strip(),
            actors=actors,
            limit=PAGE_SIZE + 1,
            offset=(page - 1) * PAGE_SIZE,
        )
        item_ids = [e.target for e in entries if e.action.startswith("item.") and e.target]
        titles = item_store.titles(conn, item_ids)
    names = Names({r.key: r.name for r in ctx.config.region_list()}, titles)
    shown = entries[:PAGE_SIZE]
    values = {
        "entries": [(e, actor_name(e.actor), sentence(e, names)) for e in shown],
        "more": len(entries) > PAGE_SIZE,
        "page": page,
        "wer": wer,
    }
    return admin_page(request, "admin/audit.html", values)
