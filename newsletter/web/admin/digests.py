"""Admin digests: preview per region, test send to me, send now (confirmed), progress,
history with per-recipient status and SMTP replies, retry failed.

Sends go through :mod:`newsletter.mail.sendnow` (shared with the API), the same path as the
schedule and the CLI. »Jetzt senden« runs it in a background thread and shows a page that
refreshes itself (``<meta http-equiv="refresh">``, no JavaScript) until the queue of that
digest is empty.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection

from newsletter.context import Context
from newsletter.errors import InvalidInputError
from newsletter.mail import sending, sendnow
from newsletter.mail.outbox import drain
from newsletter.mail.transports import open_transport
from newsletter.models import OPEN_DELIVERY, Digest, DigestKind, Region, joined_names
from newsletter.store import digests as digest_store
from newsletter.store import outbox as queue
from newsletter.store import outbox as queue_store
from newsletter.store import stats
from newsletter.store.db import transaction, utcnow
from newsletter.web.admin.common import (
    Pager,
    admin_page,
    draft_cutoff,
    german_duration,
    redirect,
    send_progress,
    waiting_slots,
)
from newsletter.web.auth import current_admin, record
from newsletter.web.params import PageNumber, PathId
from newsletter.web.rendering import context_of, render
from newsletter.web.security import checked_form

router = APIRouter()
PAGE_SIZE = 50


def _digest_region(ctx: Context, digest: Digest) -> Region:
    """The region of a stored digest; for a combined mail its first region's page with
    all its regions' names."""
    if digest.kind != DigestKind.COMBINED:
        return ctx.config.known_region(digest.region)
    regions = [ctx.config.known_region(key) for key in digest.regions]
    names = joined_names([r.name for r in regions])
    return Region(regions[0].key, f"{names} (gemeinsame E-Mail)", ())


@router.get("/newsletter", response_class=HTMLResponse, include_in_schema=False)
def overview(request: Request) -> HTMLResponse:
    ctx = context_of(request)
    with transaction(ctx.engine) as conn:
        history = digest_store.history(conn, limit=100)
    values = {"history": history, "running": ctx.manual_sends.snapshot()}
    return admin_page(request, "admin/digests.html", values | {"drafts": waiting_slots(request)})


@router.get("/newsletter/{region_key}", response_class=HTMLResponse, include_in_schema=False)
def region_page(request: Request, region_key: str) -> HTMLResponse:
    ctx = context_of(request)
    region = ctx.config.known_region(region_key)
    digest = sending.preview(ctx, region_key, draft_cutoff(request, region_key))
    with transaction(ctx.engine) as conn:
        recipients = queue.count_confirmed(conn, region_key)
        cutoff = digest_store.last_cutoff(conn, region_key)
        new_items = stats.new_item_count(conn, region_key, cutoff, utcnow())
    values = {
        "region": region,
        "digest": digest,
        "checks": sending.needing_check(ctx, digest) if digest else [],
        "recipients": recipients,
        "cutoff": cutoff,
        "new_items": new_items,
        "running": ctx.manual_sends.running(region_key),
        "drafts": waiting_slots(request, region_key),
    }
    return admin_page(request, "admin/digest_region.html", values)


@router.get("/vorschau/{region_key}.html", include_in_schema=False)
def preview_frame(request: Request, region_key: str) -> Response:
    """The exact HTML in a sandbox: no scripts, no same-origin access, no forms."""
    ctx = context_of(request)
    ctx.config.known_region(region_key)
    digest = sending.preview(ctx, region_key, draft_cutoff(request, region_key))
    if digest is None:
        body = "<!doctype html><html lang=de><p>Noch keine Meldungen für diese Region.</p></html>"
    else:
        body = digest.html  # with example personal links (sending.preview)
    headers = {
        "Content-Security-Policy": "sandbox; default-src 'none'; img-src https: data:; style-src 'unsafe-inline'; "
        "frame-ancestors 'self'",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }
    return HTMLResponse(body, headers=headers)


@router.post("/newsletter/{region_key}/test", include_in_schema=False)
async def test_send(request: Request, region_key: str) -> Response:
    ctx = context_of(request)
    await checked_form(request, ctx.secret_key)
    ctx.config.known_region(region_key)
    admin = current_admin(request)
    if not admin.email:
        raise InvalidInputError(
            "Für einen Testversand braucht Ihr Zugang eine E-Mail-Adresse "
            f"(newsletter admin add {admin.name} --email …).",
            field="email",
        )
    result = sending.send_region(
        ctx, region_key, to=admin.email, triggered_by=f"admin:{admin.name}"
    )
    record(request, "digest.test", region_key, to=admin.email, status=result.status)
    text = (
        f"Testversand an {admin.email} ist unterwegs."
        if result.status == "test_sent"
        else "Keine Meldungen: es gibt nichts zu senden."
    )
    return redirect(request, f"/admin/newsletter/{region_key}", text)


@router.get("/newsletter/{region_key}/senden", response_class=HTMLResponse, include_in_schema=False)
def confirm_send(request: Request, region_key: str) -> HTMLResponse:
    ctx = context_of(request)
    region = ctx.config.known_region(region_key)
    digest = sending.plan(ctx, region_key, utcnow())
    with transaction(ctx.engine) as conn:
        recipients = queue.count_confirmed(conn, region_key)
    values = {"region": region, "digest": digest, "recipients": recipients}
    return admin_page(request, "admin/digest_confirm.html", values)


@router.post("/newsletter/{region_key}/senden", include_in_schema=False)
async def send_now(request: Request, region_key: str, tasks: BackgroundTasks) -> Response:
    ctx = context_of(request)
    await checked_form(request, ctx.secret_key)
    ctx.config.known_region(region_key)
    admin = current_admin(request)
    target = f"/admin/newsletter/{region_key}/fortschritt"
    if not ctx.manual_sends.claim(region_key, admin.name):
        return redirect(request, target, "Der Versand läuft bereits.")
    with transaction(ctx.engine) as conn:
        recipients = queue.count_confirmed(conn, region_key)
    record(request, "digest.send", region_key, recipients=recipients)
    tasks.add_task(sendnow.send_claimed, ctx, region_key, f"admin:{admin.name}")
    return redirect(request, target, "Der Versand ist gestartet.")


@router.get(
    "/newsletter/{region_key}/fortschritt", response_class=HTMLResponse, include_in_schema=False
)
def progress(request: Request, region_key: str, seite: PageNumber = 1) -> HTMLResponse:
    ctx = context_of(request)
    region = ctx.config.known_region(region_key)
    with transaction(ctx.engine) as conn:
        latest = digest_store.latest_for_region(conn, region_key)
        values = _progress_values(ctx, conn, region_key, latest)
        values |= _delivery_page(conn, latest.id if latest else None, values["total"], seite)
    values |= {"region": region, "digest": latest}
    values["stand_url"] = f"/admin/newsletter/{region_key}/fortschritt/stand"
    return admin_page(request, "admin/digest_progress.html", values)


@router.get(
    "/newsletter/{region_key}/fortschritt/stand",
    response_class=HTMLResponse,
    include_in_schema=False,
)
def progress_fragment(request: Request, region_key: str) -> HTMLResponse:
    """Only the progress bar and its line (polled by admin.js instead of the whole page)."""
    ctx = context_of(request)
    ctx.config.known_region(region_key)
    with transaction(ctx.engine) as conn:
        latest = digest_store.latest_for_region(conn, region_key)
        values = _progress_values(ctx, conn, region_key, latest)
    return render(request, "admin/_send_progress.html", values | {"digest": latest})


def _delivery_page(
    conn: Connection, digest_id: int | None, total: int, page: int
) -> dict[str, Any]:
    """One page of a digest's recipients (50, newest first) with its pager."""
    pager = Pager(page, PAGE_SIZE, total)
    rows = (
        queue.list_deliveries(conn, digest_id=digest_id, limit=PAGE_SIZE, offset=pager.offset)
        if digest_id is not None
        else []
    )
    return {"deliveries": rows, "pager": pager, "filters": {}}


def _progress_values(
    ctx: Context, conn: Connection, region_key: str | None, digest: Any
) -> dict[str, Any]:
    """The counts, the bar and the estimate of ``digest``; refresh while anything is open."""
    counts, first, last = (
        stats.digest_progress(conn, digest.id, list(OPEN_DELIVERY)) if digest else ({}, None, None)
    )
    state = send_progress(counts, first, last, set(OPEN_DELIVERY))
    running = ctx.manual_sends.running(region_key) if region_key else False
    return {
        "counts": counts,
        "progress": state,
        "open": state.open,
        "total": state.total,
        "estimate": german_duration(state.seconds_left),
        "running": running,
        "refresh": running or state.open > 0,
    }


@router.get("/newsletter/versand/{digest_id}", response_class=HTMLResponse, include_in_schema=False)
def digest_detail(request: Request, digest_id: PathId, seite: PageNumber = 1) -> HTMLResponse:
    ctx = context_of(request)
    with transaction(ctx.engine) as conn:
        digest = digest_store.get(conn, digest_id)
        values = _progress_values(ctx, conn, None, digest)
        values |= _delivery_page(conn, digest_id, values["total"], seite)
    region = _digest_region(ctx, digest)
    values |= {"region": region, "digest": digest}
    values["stand_url"] = f"/admin/newsletter/versand/{digest_id}/stand"
    return admin_page(request, "admin/digest_progress.html", values)


@router.get(
    "/newsletter/versand/{digest_id}/stand", response_class=HTMLResponse, include_in_schema=False
)
def digest_fragment(request: Request, digest_id: PathId) -> HTMLResponse:
    ctx = context_of(request)
    with transaction(ctx.engine) as conn:
        digest = digest_store.get(conn, digest_id)
        values = _progress_values(ctx, conn, None, digest)
    return render(request, "admin/_send_progress.html", values | {"digest": digest})


@router.post("/newsletter/versand/{digest_id}/wiederholen", include_in_schema=False)
async def retry_failed(request: Request, digest_id: PathId, tasks: BackgroundTasks) -> Response:
    ctx = context_of(request)
    await checked_form(request, ctx.secret_key)
    with transaction(ctx.engine) as conn:
        digest_store.get(conn, digest_id)
        count = queue_store.requeue_failed(conn, digest_id, utcnow())
    record(request, "digest.retry", str(digest_id), deliveries=count)
    if count:
        tasks.add_task(_drain_in_background, ctx)
    text = (
        f"{count} fehlgeschlagene Zustellungen werden erneut versucht."
        if count
        else "Nichts zu wiederholen."
    )
    return redirect(request, f"/admin/newsletter/versand/{digest_id}", text)


def _drain_in_background(ctx: Context) -> None:
    transport = open_transport(ctx.config)
    try:
        drain(ctx, transport, f"admin-retry-{os.getpid()}")
    finally:
        transport.close()
