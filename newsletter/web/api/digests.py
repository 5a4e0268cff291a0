"""API: digests (history, preview, send)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query, Request, Response
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from newsletter.errors import NotFoundError
from newsletter.mail import sending, sendnow
from newsletter.models import SendStatus
from newsletter.store import digests as digest_store
from newsletter.store.db import transaction
from newsletter.web.api.common import ConflictError, TokenFirstRoute, errors
from newsletter.web.auth import current_admin, record
from newsletter.web.rendering import context_of

router = APIRouter(route_class=TokenFirstRoute)


class DigestPreviewOut(BaseModel):
    region: str
    subject: str
    html: str = Field(description="Das HTML, wie es die Partner bekommen (Beispiel-Links)")
    text: str
    items: list[str]
    period_start: datetime | None
    period_end: datetime


class DigestHistoryOut(BaseModel):
    id: int
    region: str
    period_start: datetime | None
    period_end: datetime
    subject: str
    items: int
    triggered_by: str | None
    recipients: int
    sent: int
    failed: int


class SendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dry_run: bool = Field(default=False, description="nur zählen, nichts senden")
    to: EmailStr | None = Field(default=None, description="Testversand an diese eine Adresse")
    force: bool = Field(default=False, description="auch ohne Neues (letzten Zeitraum erneut)")


class SendOut(BaseModel):
    region: str
    status: str = Field(
        description=(
            "started (202: queued, items and recipients counted), dry_run, test_sent, "
            "nothing_new, already_sent (already_running: 409)"
        )
    )
    items: int = 0
    recipients: int = 0


@router.get("/digests", response_model=list[DigestHistoryOut])
def digest_history(
    request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[DigestHistoryOut]:
    ctx = context_of(request)
    with transaction(ctx.engine) as conn:
        rows = digest_store.history(conn, limit=limit)
    return [
        DigestHistoryOut(
            id=r.id,
            region=r.region,
            period_start=r.period_start,
            period_end=r.period_end,
            subject=r.subject,
            items=len(r.item_ids),
            triggered_by=r.triggered_by,
            recipients=r.total,
            sent=r.sent,
            failed=r.failed,
        )
        for r in rows
    ]


@router.get("/digests/{region}/preview", response_model=DigestPreviewOut, responses=errors(404))
def digest_preview(request: Request, region: str) -> DigestPreviewOut:
    context_of(request).config.known_region(region)
    digest = sending.preview(context_of(request), region)
    if digest is None:
        raise NotFoundError(f"Für »{region}« gibt es noch keine Meldungen.")
    return DigestPreviewOut(
        region=region,
        subject=digest.subject,
        html=digest.html,
        text=digest.text,
        items=list(digest.item_ids),
        period_start=digest.period_start,
        period_end=digest.period_end,
    )


@router.post(
    "/digests/{region}/send",
    response_model=SendOut,
    status_code=202,
    responses=errors(404, 409, 422)
    | {200: {"model": SendOut, "description": "Probelauf oder Testversand"}},
)
def digest_send(
    request: Request, region: str, response: Response, tasks: BackgroundTasks, body: SendIn
) -> SendOut:
    """A real send stores and enqueues the digest now (202, with its items and recipients)
    and sends in the background at the process's one pace, beside the worker (progress:
    GET /digests); the rest is 200."""
    ctx = context_of(request)
    context_of(request).config.known_region(region)
    who = f"api:{current_admin(request).name}"
    if body.dry_run or body.to:
        result = sending.send_region(
            ctx, region, dry_run=body.dry_run, to=body.to, force=body.force, triggered_by=who
        )
        response.status_code = 200
        record(request, "digest.test" if body.to else "digest.dry_run", region, via="api")
        return SendOut(
            region=region, status=result.status, items=result.items, recipients=result.recipients
        )
    if not ctx.manual_sends.claim(region, who):
        raise ConflictError(f"Für »{region}« läuft schon ein Versand.")
    queued = sendnow.enqueue_claimed(ctx, region, who)
    record(request, "digest.send", region, via="api", status=queued.status)
    if queued.status != SendStatus.QUEUED:
        response.status_code = 200
        return SendOut(region=region, status=queued.status, items=queued.items)
    tasks.add_task(sendnow.drain_claimed, ctx, region)
    return SendOut(
        region=region, status="started", items=queued.items, recipients=queued.recipients
    )
