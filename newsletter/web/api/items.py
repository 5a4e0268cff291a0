"""API: items (list, get, set regions) and sources (list, collect now)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from newsletter.collect import collect_all
from newsletter.curation import explain_item, set_item_regions
from newsletter.models import Item, Source
from newsletter.store import items as item_store
from newsletter.store import sources as source_store
from newsletter.store.db import transaction
from newsletter.web.api.common import TokenFirstRoute, errors
from newsletter.web.auth import current_admin, record
from newsletter.web.params import MAX_INT
from newsletter.web.rendering import context_of

router = APIRouter(route_class=TokenFirstRoute)


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
    region_check: bool = Field(description="Region prüfen: die Regionen sind geraten")
    region_check_reasons: list[str] = Field(description="Warum (Gründe des Klassifikators)")
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
            region_check=item.region_check,
            region_check_reasons=list(item.region_check_reasons),
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
    source_id: Annotated[int | None, Query(ge=1, le=MAX_INT)] = None,
    since: datetime | None = None,
    statewide: bool | None = None,
    region_check: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
) -> list[ItemOut]:
    ctx = context_of(request)
    with transaction(ctx.engine) as conn:
        found = item_store.search(
            conn,
            region=region,
            since=since,
            source_id=source_id,
            statewide=statewide,
            region_check=region_check,
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
    why = explain_item(item, ctx.gazetteer)
    return ItemDetailOut(**base, content_html=item.content_html, explanation=why)


@router.put("/items/{item_id}/regions", response_model=ItemOut, responses=errors(400, 404, 422))
def put_regions(request: Request, item_id: str, body: RegionsIn) -> ItemOut:
    ctx = context_of(request)
    admin = current_admin(request).name
    item = set_item_regions(
        ctx, item_id, body.regions, statewide=body.statewide, auto=body.auto, actor=admin
    )
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
