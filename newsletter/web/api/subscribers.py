"""API: subscribers (list, add)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from newsletter.models import Subscriber, SubscriptionStatus
from newsletter.store import subscribers as subscriber_store
from newsletter.store.db import transaction
from newsletter.subscriptions import service as subscriptions
from newsletter.web.api.common import TokenFirstRoute, errors
from newsletter.web.auth import current_admin, record
from newsletter.web.rendering import context_of

router = APIRouter(route_class=TokenFirstRoute)


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
    status: SubscriptionStatus | None = None,
    search: str = "",
    limit: Annotated[int, Query(ge=1, le=5000, description="höchstens so viele")] = 1000,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="so viele überspringen")] = 0,
) -> list[SubscriberOut]:
    """Subscribers by address, searched (address, name, organisation, any case) and
    filtered in the database, one page of ``limit`` from ``offset``."""
    ctx = context_of(request)
    where = subscriber_store.SubscriberFilter(search.strip(), region, status)
    with transaction(ctx.engine) as conn:
        found = subscriber_store.search(conn, where, limit=limit, offset=offset)
    return [SubscriberOut.of(s) for s in found]


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
