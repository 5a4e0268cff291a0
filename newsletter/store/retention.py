"""SQL for housekeeping: what is old enough to go (retention rules of the config)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, exists, select

from newsletter.models import DONE_DELIVERY, SubscriptionStatus
from newsletter.store.schema import deliveries, subscribers, subscriptions


def delete_old_deliveries(conn: Connection, before: datetime) -> int:
    """Delete finished (sent or failed) delivery rows created before ``before``."""
    query = delete(deliveries).where(
        deliveries.c.status.in_(DONE_DELIVERY), deliveries.c.created_at < before
    )
    return int(conn.execute(query).rowcount or 0)


def expire_pending(conn: Connection, before: datetime) -> tuple[int, int]:
    """Drop subscription requests never confirmed since ``before``.

    Returns (requests dropped, subscribers deleted). A subscriber goes with them only when
    nothing else is left of it (no other region, confirmed or unsubscribed); the consent
    log keeps its entries (by address hash), as the proof of what happened.
    """
    dropped = conn.execute(
        delete(subscriptions).where(
            subscriptions.c.status == SubscriptionStatus.PENDING,
            subscriptions.c.requested_at < before,
        )
    ).rowcount
    has_any = exists().where(subscriptions.c.subscriber_id == subscribers.c.id)
    orphans = select(subscribers.c.id).where(~has_any, subscribers.c.created_at < before)
    ids = list(conn.execute(orphans).scalars())
    if ids:
        conn.execute(delete(subscribers).where(subscribers.c.id.in_(ids)))
    return int(dropped or 0), len(ids)
