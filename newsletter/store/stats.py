"""Aggregate counts for /metrics and the dashboard: one GROUP BY per family, no rows loaded."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import pairwise

from sqlalchemy import Connection, and_, case, exists, func, or_, select

from newsletter.models import OPEN_DELIVERY, DeliveryStatus
from newsletter.store.db import as_utc
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


def subscriptions_at(conn: Connection, moments: Sequence[datetime]) -> dict[str, list[int]]:
    """Per region, how many subscriptions were confirmed and not yet ended at each of the
    ascending ``moments``. One statement: each row falls into the first moment it counts at
    and the first it no longer counts at; the database groups by those, Python adds up."""
    confirmed, ended = subscriptions.c.confirmed_at, subscriptions.c.unsubscribed_at
    n = len(moments)
    first = case(*((confirmed < at, k) for k, at in enumerate(moments)), else_=n)
    gone = case((ended.is_(None), n), *((ended < at, k) for k, at in enumerate(moments)), else_=n)
    query = (
        select(subscriptions.c.region, first, gone, func.count())
        .where(confirmed.is_not(None))
        .group_by(subscriptions.c.region, first, gone)
    )
    out: dict[str, list[int]] = {}
    for region, start, stop, number in conn.execute(query):
        counts = out.setdefault(region, [0] * n)
        for k in range(int(start), int(stop)):
            counts[k] += int(number)
    return out


def items_per_period(conn: Connection, bounds: Sequence[datetime]) -> dict[str, list[int]]:
    """Visible items published in each period [bounds[i], bounds[i+1]) per region; the
    statewide ones under ``""`` (two statements, bounded by the published_at index)."""
    periods = list(pairwise(bounds))
    published = items.c.published_at
    sums = [func.sum(case((and_(published >= a, published < b), 1), else_=0)) for a, b in periods]
    visible = and_(items.c.hidden.is_(False), published >= bounds[0], published < bounds[-1])
    regional = (
        select(item_regions.c.region, *sums)
        .join(items, items.c.id == item_regions.c.item_id)
        .where(visible)
        .group_by(item_regions.c.region)
    )
    out = {row[0]: [int(n or 0) for n in row[1:]] for row in conn.execute(regional)}
    statewide = select(*sums).where(visible, items.c.statewide.is_(True))
    row = conn.execute(statewide).one()
    out[""] = [int(n or 0) for n in row]
    return out


def digest_progress(
    conn: Connection, digest_id: int, open_statuses: Sequence[str] = ()
) -> tuple[dict[str, int], datetime | None, datetime | None]:
    """A digest's deliveries per status (on the (digest_id, status) index) and, while any
    is in ``open_statuses``, its first and last ``sent_at`` (for the rate)."""
    query = (
        select(deliveries.c.status, func.count())
        .where(deliveries.c.digest_id == digest_id)
        .group_by(deliveries.c.status)
    )
    counts = {status: int(number) for status, number in conn.execute(query)}
    if not any(counts.get(s) for s in open_statuses):
        return counts, None, None
    span = select(func.min(deliveries.c.sent_at), func.max(deliveries.c.sent_at)).where(
        deliveries.c.digest_id == digest_id, deliveries.c.status == DeliveryStatus.SENT
    )
    first, last = conn.execute(span).one()
    return counts, as_utc(first), as_utc(last)
