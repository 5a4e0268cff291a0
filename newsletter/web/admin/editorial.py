"""Admin »Redaktion«: the editor's word for the next digest of a region or of all regions
(introduction in Markdown, items pinned to the top or left out), with the digest's preview
beside the form at desktop width, at 375 px and in dark mode; and »Freigeben und senden«
for drafted digests (``schedule.approval = "manual"``).

The word is checked and stored by :mod:`newsletter.editor`; approval goes through
:mod:`newsletter.mail.approval` and the same »Jetzt senden« claim as a manual send.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import HTMLResponse, Response

from newsletter import editor
from newsletter.context import Context
from newsletter.editorial import MAX_INTRO_CHARS, scope_name
from newsletter.mail import approval, sending, sendnow
from newsletter.models import ALL_REGIONS, Item, Region
from newsletter.store import digests as digest_store
from newsletter.store import drafts as draft_store
from newsletter.store import items as item_store
from newsletter.store.db import transaction, utcnow
from newsletter.web.admin.common import admin_page, draft_cutoff, field, redirect
from newsletter.web.auth import current_admin
from newsletter.web.params import PathId
from newsletter.web.rendering import context_of
from newsletter.web.security import checked_form

router = APIRouter()
ALL_SLUG = "alle"  # /admin/redaktion/alle: the word for every region
_DARK_QUERY = re.compile(r"@media\s*\(\s*prefers-color-scheme\s*:\s*dark\s*\)", re.IGNORECASE)
PREVIEW_HEADERS = {
    "Content-Security-Policy": "sandbox; default-src 'none'; img-src https: data:; "
    "style-src 'unsafe-inline'; frame-ancestors 'self'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def _scope(ctx: Context, slug: str) -> str:
    if slug == ALL_SLUG:
        return ALL_REGIONS
    return ctx.config.known_region(slug).key


def _preview_region(ctx: Context, scope: str, wanted: str | None) -> Region:
    """The region whose digest the page previews (for »alle« the chosen or the first)."""
    key = scope if scope != ALL_REGIONS else (wanted or ctx.config.region_list()[0].key)
    return ctx.config.known_region(key)


def _next_items(ctx: Context, region: str, until: datetime | None) -> list[Item]:
    """The items the region's next digest would hold before the editor's choices (up to a
    waiting draft's cut-off, else up to now)."""
    with transaction(ctx.engine) as conn:
        cutoff = digest_store.last_cutoff(conn, region)
        return item_store.collected_between(conn, region, cutoff, until or utcnow())


@router.get("/redaktion/{slug}", response_class=HTMLResponse, include_in_schema=False)
def editorial_page(request: Request, slug: str, vorschau: str | None = None) -> HTMLResponse:
    ctx = context_of(request)
    scope = _scope(ctx, slug)
    region = _preview_region(ctx, scope, vorschau)
    word = editor.current(ctx, scope)
    names = {r.key: r.name for r in ctx.config.region_list()}
    values: dict[str, Any] = {
        "slug": slug,
        "scope_label": scope_name(scope, names),
        "all_regions": scope == ALL_REGIONS,
        "word": word,
        "in_use": word.updated_at is not None and editor.in_use(ctx, word, region.key),
        "preview_region": region,
        "items": _next_items(ctx, region.key, draft_cutoff(request, region.key)),
        "max_chars": MAX_INTRO_CHARS,
        "frame": f"/admin/redaktion/vorschau/{region.key}.html",
    }
    return admin_page(request, "admin/editorial.html", values)


@router.post("/redaktion/{slug}", include_in_schema=False)
async def save_editorial(request: Request, slug: str) -> Response:
    ctx = context_of(request)
    form = await checked_form(request, ctx.secret_key)
    scope = _scope(ctx, slug)
    editor.save(
        ctx,
        scope,
        str(form.get("einleitung", "")),
        pinned=[str(v) for v in form.getlist("anheften")],
        excluded=[str(v) for v in form.getlist("weglassen")],
        actor=current_admin(request).name,
    )
    back = f"/admin/redaktion/{slug}"
    if field(form, "vorschau"):
        back += f"?vorschau={_preview_region(ctx, scope, field(form, 'vorschau')).key}"
    return redirect(request, back, "Gespeichert: die Vorschau zeigt den nächsten Newsletter damit.")


@router.get("/redaktion/vorschau/{region_key}.html", include_in_schema=False)
def preview_frame(request: Request, region_key: str, modus: str = "hell") -> Response:
    """The next digest's exact HTML in a sandbox; ``modus=dunkel`` applies its dark-mode
    rules as a mail client in dark mode would."""
    ctx = context_of(request)
    ctx.config.known_region(region_key)
    digest = sending.preview(ctx, region_key, draft_cutoff(request, region_key))
    if digest is None:
        body = "<!doctype html><html lang=de><p>Noch keine Meldungen für diese Region.</p></html>"
    else:
        body = dark_variant(digest.html) if modus == "dunkel" else digest.html
    return HTMLResponse(body, headers=PREVIEW_HEADERS)


def dark_variant(html: str) -> str:
    """The mail as a client in dark mode shows it: its dark-mode rules always apply."""
    return _DARK_QUERY.sub("@media all", html)


@router.post("/newsletter/entwurf/{draft_id}/freigeben", include_in_schema=False)
async def approve_draft(request: Request, draft_id: PathId, tasks: BackgroundTasks) -> Response:
    """»Freigeben und senden«: store and enqueue the digests of the draft's slot (combined
    mails where a subscriber has several of its regions), send them in the background (the
    audit log names the admin)."""
    ctx = context_of(request)
    await checked_form(request, ctx.secret_key)
    admin = current_admin(request)
    with transaction(ctx.engine) as conn:
        slot = approval.slot_of(ctx, conn, draft_store.get(conn, draft_id))
    back = f"/admin/newsletter/{slot.regions[0]}" if len(slot.regions) == 1 else "/admin/newsletter"
    if not sendnow.claim_all(ctx, slot.regions, admin.name):
        return redirect(request, back, "Der Versand läuft bereits.")
    try:
        result = approval.approve(ctx, draft_id, admin.name)
    except BaseException:
        sendnow.release_all(ctx, slot.regions)
        raise
    if not result.queued:
        sendnow.release_all(ctx, slot.regions)
        text = "Dieser Zeitraum ist schon versandt oder ohne Meldungen: nichts zu senden."
        return redirect(request, back, text)
    tasks.add_task(sendnow.drain_claimed, ctx, *slot.regions)
    mails = f"{result.mails} E-Mail" + ("" if result.mails == 1 else "s")
    text = f"Freigegeben und eingereiht: {mails} an die Abonnenten."
    if len(slot.regions) == 1:
        return redirect(request, f"{back}/fortschritt", text)
    return redirect(request, back, text)
