"""JSON API under /api/v1 (bearer token: ``newsletter admin token NAME``).

The same actions as the admin pages: items (list, get, set regions), sources (list,
collect now), digests (preview, send, history), subscribers (list, add). Every route
depends on :func:`newsletter.web.auth.require_token`; errors are the one JSON error body
``{"error": {"status": …, "message": …}}``. The OpenAPI document is /api/v1/openapi.json.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

from newsletter import sending, subscriptions
from newsletter.collect import collect_all
from newsletter.curation import set_item_regions
from newsletter.errors import NewsletterError, NotFoundError
from newsletter.models import Item, Source, Subscriber
from newsletter.store import digests as digest_store
from newsletter.store import items as item_store
from newsletter.store import sources as source_store
from newsletter.store import subscribers as subscriber_store
from newsletter.store.db import as_utc, transaction
from newsletter.web.admin_digests import claim_send, send_in_background
from newsletter.web.admin_items import explanation
from newsletter.web.admin_subscribers import matches
from newsletter.web.auth import current_admin, record, require_token
from newsletter.web.rendering import context_of


class ConflictError(NewsletterError):
    """The action is already under way (409)."""

    http_status = 409


class ErrorBody(BaseModel):
    status: int
    message: str


class ErrorOut(BaseModel):
    error: ErrorBody


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    texts = {
        400: "Ungültige Eingabe",
        401: "API-Schlüssel fehlt oder ist ungültig",
        404: "Nicht gefunden",
        409: "Konflikt",
        422: "Eingabe passt nicht zum Schema",
    }
    return {code: {"model": ErrorOut, "description": texts[code]} for code in (401, *codes)}


MAX_ID = 2**31 - 1  # database integers are 32-bit on both SQLite and PostgreSQL here
router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_token)], responses=errors())


class ItemOut(BaseModel):
    id: str
    title: str
    url: str | None
    published_at: datetime
    collected_at: datetime
    regions: list[str] = Field(description="Effektive Regionen; leer = landesweit")
    classified_regions: list[str]
    region_override: list[str] | None
    statewide: bool
    hidden: bool
    source: str | None
    summary_html: str

    @classmethod
    def of(cls, item: Item) -> ItemOut:
        return cls(
            id=item.id,
            title=item.title,
            url=item.url,
            published_at=item.published_at,
            collected_at=item.collected_at,
            regions=list(item.regions),
            classified_regions=list(item.classified_regions),
            region_override=None if item.region_override is None else list(item.region_override),
            statewide=item.statewide,
            hidden=item.hidden,
            source=item.source_name,
            summary_html=item.summary_html,
        )


class ItemDetailOut(ItemOut):
    content_html: str
    explanation: dict[str, Any] = Field(description="Warum der Klassifikator diese Regionen fand")


class RegionsIn(BaseModel):
    """Exactly one of: ``regions`` (non-empty), ``statewide: true``, ``auto: true``."""

    model_config = ConfigDict(extra="forbid")

    regions: list[str] = Field(default_factory=list, description="Regionen festlegen")
    statewide: bool = Field(default=False, description="landesweit festlegen")
    auto: bool = Field(default=False, description="Festlegung aufheben (Klassifikator)")

    @model_validator(mode="after")
    def _exactly_one(self) -> RegionsIn:
        if sum((bool(self.regions), self.statewide, self.auto)) != 1:
            raise ValueError("genau eines angeben: regions, statewide oder auto")
        return self


@router.get("/items", response_model=list[ItemOut], responses=errors(400, 422))
def list_items(
    request: Request,
    region: str | None = None,
    source_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    since: datetime | None = None,
    statewide: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> list[ItemOut]:
    ctx = context_of(request)
    with transaction(ctx.engine) as conn:
        found = item_store.search(
            conn,
            region=region,
            since=since,
            source_id=source_id,
            statewide=statewide,
            limit=limit,
            offset=offset,
        )
    return [ItemOut.of(item) for item in found]


@router.get("/items/{item_id}", response_model=ItemDetailOut, responses=errors(404))
def get_item(request: Request, item_id: str) -> ItemDetailOut:
    ctx = context_of(request)
    with transaction(ctx.engine) as conn:
        item = item_store.get(conn, item_id)
    base = ItemOut.of(item).model_dump()
    why = explanation(item, ctx.gazetteer)
    return ItemDetailOut(**base, content_html=item.content_html, explanation=why)


@router.put("/items/{item_id}/regions", response_model=ItemOut, responses=errors(400, 404, 422))
def put_regions(request: Request, item_id: str, body: RegionsIn) -> ItemOut:
    ctx = context_of(request)
    item = set_item_regions(ctx, item_id, body.regions, statewide=body.statewide, auto=body.auto)
    record(request, "item.regions", item_id, regions=list(item.regions), via="api")
    return ItemOut.of(item)


class SourceOut(BaseModel):
    id: int
    name: str
    kind: str
    location: str
    region: str | None
    enabled: bool
    last_status: str
    last_error: str | None
    error_count: int
    last_fetched_at: datetime | None
    last_success_at: datetime | None

    @classmethod
    def of(cls, source: Source) -> SourceOut:
        fields = {name: getattr(source, name) for name in cls.model_fields}
        return cls(**fields)


class CollectIn(BaseModel):
    sources: list[str] | None = Field(default=None, description="Nur diese Quellen (Namen)")


class CollectOut(BaseModel):
    sources: int
    new: int
    changed: int
    failed: int
    not_modified: int


@router.get("/sources", response_model=list[SourceOut])
def list_sources(request: Request) -> list[SourceOut]:
    ctx = context_of(request)
    with transaction(ctx.engine) as conn:
        return [SourceOut.of(s) for s in source_store.all_sources(conn)]


@router.post("/sources/collect", response_model=CollectOut, responses=errors(422))
async def collect_now(request: Request, body: CollectIn | None = None) -> CollectOut:
    ctx = context_of(request)
    names = body.sources if body else None
    summary = await asyncio.to_thread(collect_all, ctx, names=names)
    record(request, "sources.collect", ", ".join(names) if names else "alle", via="api")
    return CollectOut(**summary.detail())


# --- digests ----------------------------------------------------------------------------


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
        description="started, dry_run, test_sent, nothing_new (already_running: 409)"
    )
    items: int = 0
    recipients: int = 0


def _aware(value: datetime) -> datetime:
    aware = as_utc(value)
    assert aware is not None
    return aware


def _known_region(request: Request, region: str) -> None:
    if context_of(request).config.region(region) is None:
        raise NotFoundError(f"Die Region »{region}« gibt es nicht.")


@router.get("/digests", response_model=list[DigestHistoryOut])
def digest_history(
    request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[DigestHistoryOut]:
    ctx = context_of(request)
    with transaction(ctx.engine) as conn:
        rows = digest_store.history(conn, limit=limit)
    return [
        DigestHistoryOut(
            id=r["id"],
            region=r["region"],
            period_start=as_utc(r["period_start"]),
            period_end=_aware(r["period_end"]),
            subject=r["subject"],
            items=len(r["item_ids"] or ()),
            triggered_by=r["triggered_by"],
            recipients=int(r["total"] or 0),
            sent=int(r["sent"] or 0),
            failed=int(r["failed"] or 0),
        )
        for r in rows
    ]


@router.get("/digests/{region}/preview", response_model=DigestPreviewOut, responses=errors(404))
def digest_preview(request: Request, region: str) -> DigestPreviewOut:
    _known_region(request, region)
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
    """Real sends start in the background (202; progress: GET /digests); the rest is 200."""
    ctx = context_of(request)
    _known_region(request, region)
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
    if not claim_send(region, who):
        raise ConflictError(f"Für »{region}« läuft schon ein Versand.")
    record(request, "digest.send", region, via="api")
    tasks.add_task(send_in_background, ctx, region, who)
    return SendOut(region=region, status="started")


# --- subscribers ------------------------------------------------------------------------


class SubscriberOut(BaseModel):
    id: int
    email: str
    name: str
    organisation: str
    source: str
    created_at: datetime | None
    bounce_count: int
    suspended: bool
    subscriptions: dict[str, str] = Field(description="Region → pending, confirmed, unsubscribed")

    @classmethod
    def of(cls, subscriber: Subscriber) -> SubscriberOut:
        fields = {name: getattr(subscriber, name) for name in cls.model_fields}
        return cls(**fields)


class SubscriberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    regions: list[str] = Field(min_length=1)
    name: str = Field(default="", max_length=200)
    organisation: str = Field(default="", max_length=200)
    confirmed_reason: str | None = Field(
        default=None,
        max_length=500,
        description="Nachweis einer schon vorliegenden Einwilligung; sonst Bestätigungs-E-Mail",
    )


class SubscriberAddOut(BaseModel):
    outcome: str = Field(description="confirm_sent, manage_sent oder suppressed")


@router.get("/subscribers", response_model=list[SubscriberOut], responses=errors(422))
def list_subscribers(
    request: Request,
    region: str | None = None,
    status: Literal["pending", "confirmed", "unsubscribed"] | None = None,
    search: str = "",
) -> list[SubscriberOut]:
    ctx = context_of(request)
    with transaction(ctx.engine) as conn:
        found = subscriber_store.list_subscribers(conn, region=region, status=status)
    return [SubscriberOut.of(s) for s in found if matches(s, search.strip())]


@router.post(
    "/subscribers", response_model=SubscriberAddOut, status_code=201, responses=errors(400, 422)
)
def add_subscriber(request: Request, body: SubscriberIn) -> SubscriberAddOut:
    ctx = context_of(request)
    outcome = subscriptions.admin_add(
        ctx,
        email=body.email,
        regions=body.regions,
        name=body.name,
        organisation=body.organisation,
        confirmed_reason=body.confirmed_reason,
        actor=current_admin(request).name,
    )
    record(request, "subscriber.add", None, regions=body.regions, via="api")
    return SubscriberAddOut(outcome=outcome)
