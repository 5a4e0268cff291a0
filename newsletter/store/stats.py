"""Aggregate counts for /metrics and the dashboard: one GROUP BY per family, no rows loaded."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, exists, func, or_, select

from newsletter.models import OPEN_DELIVERY, DeliveryStatus
from newsletter.store.schema import deliveries, digests, item_regions, items, subscriptions


def item_counts(conn: Connection) -> dict[str, int]:
    """Items by visibility: ``{"visible": n, "hidden": m}``."""
    query = select(items.c.hidden, func.count()).group_by(items.c.hidden)
    counts = {"visible": 0, "hidden": 0}
    for hidden, number in conn.execute(query):
        counts["hidden" if hidden else "visible"] += int(number)
    return counts


def region_check_count(conn: Connection) -> int:
    """Items flagged »Region prüfen« (the admin list's filter ``pruefen=ja`` shows them)."""
    query = select(func.count()).select_from(items).where(items.c.region_check.is_(True))
    return int(conn.execute(query).scalar_one())


def digest_counts(conn: Connection) -> dict[tuple[str, str], int]:
    """Digests built per (region, kind)."""
    query = select(digests.c.region, digests.c.kind, func.count()).group_by(
        digests.c.region, digests.c.kind
    )
    return {(region, kind): int(n) for region, kind, n in conn.execute(query)}


def delivery_counts(conn: Connection) -> dict[tuple[str, str], int]:
    """Deliveries per (region, status); test sends without a digest count as region ``-``."""
    region = func.coalesce(digests.c.region, "-")
    query = (
        select(region, deliveries.c.status, func.count())
        .select_from(deliveries.outerjoin(digests, digests.c.id == deliveries.c.digest_id))
        .group_by(region, deliveries.c.status)
    )
    return {(r, status): int(n) for r, status, n in conn.execute(query)}


def retried_count(conn: Connection) -> dict[str, int]:
    """Deliveries per region that needed more than one attempt (sent, failed or waiting)."""
    region = func.coalesce(digests.c.region, "-")
    query = (
        select(region, func.count())
        .select_from(deliveries.outerjoin(digests, digests.c.id == deliveries.c.digest_id))
        .where(deliveries.c.attempts > 1)
        .group_by(region)
    )
    return {r: int(n) for r, n in conn.execute(query)}


def queue_depth(conn: Connection) -> int:
    """Deliveries still to be sent (queued, retrying or being sent)."""
    query = select(func.count()).where(deliveries.c.status.in_(OPEN_DELIVERY))
    return int(conn.execute(query).scalar_one())


def sent_since(conn: Connection, since: datetime) -> int:
    query = select(func.count()).where(
        deliveries.c.status == DeliveryStatus.SENT, deliveries.c.sent_at >= since
    )
    return int(conn.execute(query).scalar_one())


def deliveries_created_since(conn: Connection, since: datetime) -> dict[str, int]:
    """Deliveries created at or after ``since``, by status (the recent failure ratio)."""
    query = (
        select(deliveries.c.status, func.count())
        .where(deliveries.c.created_at >= since)
        .group_by(deliveries.c.status)
    )
    return {str(status): int(n) for status, n in conn.execute(query)}


def subscription_counts(conn: Connection) -> dict[tuple[str, str], int]:
    """Subscriptions per (region, status): pending, confirmed, unsubscribed."""
    query = select(subscriptions.c.region, subscriptions.c.status, func.count()).group_by(
        subscriptions.c.region, subscriptions.c.status
    )
    return {(region, status): int(n) for region, status, n in conn.execute(query)}


def new_item_count(conn: Connection, region: str, after: datetime | None, until: datetime) -> int:
    """How many items the region's next digest would hold: the selection of
    :func:`newsletter.store.items.collected_between` (own + statewide, visible, collected in
    (after, until]), counted in the database instead of loaded.

    Written so that the collected_at index bounds the scan to the period.
    """
    own = exists().where(item_regions.c.item_id == items.c.id, item_regions.c.region == region)
    query = (
        select(func.count())
        .select_from(items)
        .where(
            items.c.collected_at <= until,
            items.c.hidden.is_(False),
            or_(items.c.statewide.is_(True), own),
        )
    )
    if after is not None:
        query = query.where(items.c.collected_at > after)
    return int(conn.execute(query).scalar_one())
