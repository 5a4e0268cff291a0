"""SQL for subscribers, their per-region subscriptions, the consent log and suppressions.

Addresses are matched case-insensitively (``Anna@pirna.de`` and ``anna@pirna.de`` are one
subscriber) while the stored spelling is kept. The consent log is append-only: the only
change ever made to a row is :func:`redact_consent` (IP and user agent) on erasure.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, or_, select, update

from newsletter.errors import NotFoundError
from newsletter.models import Subscriber
from newsletter.store.db import as_utc, utcnow
from newsletter.store.schema import (
    consent_log,
    deliveries,
    subscribers,
    subscriptions,
    suppressions,
)

_STAMPS = {
    "confirmed": "confirmed_at",
    "unsubscribed": "unsubscribed_at",
    "pending": "requested_at",
}


def find_by_email(conn: Connection, email: str) -> Subscriber | None:
    query = select(subscribers).where(func.lower(subscribers.c.email) == email.lower())
    row = conn.execute(query.order_by(subscribers.c.id)).first()
    return None if row is None else _subscriber(conn, row._mapping)


def get(conn: Connection, subscriber_id: int) -> Subscriber:
    row = conn.execute(select(subscribers).where(subscribers.c.id == subscriber_id)).first()
    if row is None:
        raise NotFoundError("Dieses Abonnement gibt es nicht (mehr).")
    return _subscriber(conn, row._mapping)


def create(
    conn: Connection,
    *,
    email: str,
    name: str,
    organisation: str,
    source: str,
    ags: str | None = None,
) -> int:
    result = conn.execute(
        insert(subscribers).values(
            email=email,
            name=name,
            organisation=organisation,
            source=source,
            ags=ags,
            created_at=utcnow(),
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def update_profile(conn: Connection, subscriber_id: int, **values: str | None) -> None:
    """Set ``name``, ``organisation`` and/or ``ags``."""
    allowed = {k: v for k, v in values.items() if k in ("name", "organisation", "ags")}
    if allowed:
        conn.execute(update(subscribers).where(subscribers.c.id == subscriber_id).values(allowed))


def clear_suspension(conn: Connection, subscriber_id: int) -> None:
    """A confirmed click proves the mailbox works again: bounce count back to zero."""
    conn.execute(
        update(subscribers)
        .where(subscribers.c.id == subscriber_id)
        .values(bounce_count=0, suspended_at=None, suspended_reason=None)
    )


def set_status(
    conn: Connection, subscriber_id: int, regions: Iterable[str], status: str, at: datetime
) -> None:
    """Set the status of some regions (rows are created as needed) with its time stamp."""
    for region in regions:
        key = (subscriptions.c.subscriber_id == subscriber_id) & (subscriptions.c.region == region)
        values: dict[str, Any] = {"status": status, _STAMPS[status]: at}
        if conn.execute(update(subscriptions).where(key).values(**values)).rowcount == 0:
            values.setdefault("requested_at", at)
            conn.execute(
                insert(subscriptions).values(subscriber_id=subscriber_id, region=region, **values)
            )


def subscription_rows(conn: Connection, subscriber_id: int) -> list[dict[str, Any]]:
    """Every region row with its times (for the DSGVO Art. 15 export)."""
    query = (
        select(subscriptions)
        .where(subscriptions.c.subscriber_id == subscriber_id)
        .order_by(subscriptions.c.region)
    )
    return [dict(row._mapping) for row in conn.execute(query)]


def log_consent(conn: Connection, **values: Any) -> None:
    """Append one event to the consent log (never updated, never deleted by us)."""
    conn.execute(insert(consent_log).values(at=utcnow(), **values))


def consent_events(conn: Connection, email_hash: str) -> list[dict[str, Any]]:
    query = (
        select(consent_log).where(consent_log.c.email_hash == email_hash).order_by(consent_log.c.id)
    )
    return [dict(row._mapping) for row in conn.execute(query)]


def redact_consent(conn: Connection, email_hash: str) -> None:
    """Erasure (Art. 17): drop IP and user agent; event, time, regions and wording stay."""
    conn.execute(
        update(consent_log)
        .where(consent_log.c.email_hash == email_hash)
        .values(ip=None, user_agent=None)
    )


def list_subscribers(
    conn: Connection, *, region: str | None = None, status: str | None = None
) -> list[Subscriber]:
    query = select(subscribers).order_by(subscribers.c.email)
    if region is not None or status is not None:
        inner = select(subscriptions.c.subscriber_id)
        if region is not None:
            inner = inner.where(subscriptions.c.region == region)
        if status is not None:
            inner = inner.where(subscriptions.c.status == status)
        query = query.where(subscribers.c.id.in_(inner))
    return [_subscriber(conn, row._mapping) for row in conn.execute(query)]


def delivery_log(conn: Connection, subscriber_id: int) -> list[dict[str, Any]]:
    """The mails queued or sent to a subscriber (kind, status, times): part of Art. 15."""
    query = (
        select(
            deliveries.c.kind,
            deliveries.c.status,
            deliveries.c.created_at,
            deliveries.c.sent_at,
        )
        .where(deliveries.c.subscriber_id == subscriber_id)
        .order_by(deliveries.c.id)
    )
    return [dict(row._mapping) for row in conn.execute(query)]


def delete_subscriber(conn: Connection, subscriber_id: int, email: str) -> None:
    """Delete the subscriber, its subscriptions and every outbox row carrying its address."""
    conn.execute(
        delete(deliveries).where(
            or_(
                deliveries.c.subscriber_id == subscriber_id,
                func.lower(deliveries.c.address) == email.lower(),
            )
        )
    )
    conn.execute(delete(subscriptions).where(subscriptions.c.subscriber_id == subscriber_id))
    conn.execute(delete(subscribers).where(subscribers.c.id == subscriber_id))


def suppress(conn: Connection, email_hash: str, reason: str) -> None:
    if not is_suppressed(conn, email_hash):
        conn.execute(insert(suppressions).values(email_hash=email_hash, reason=reason, at=utcnow()))


def unsuppress(conn: Connection, email_hash: str) -> bool:
    """Lift a suppression (the person confirmed a new subscription themselves)."""
    query = delete(suppressions).where(suppressions.c.email_hash == email_hash)
    return bool(conn.execute(query).rowcount)


def is_suppressed(conn: Connection, email_hash: str) -> bool:
    query = select(suppressions.c.email_hash).where(suppressions.c.email_hash == email_hash)
    return conn.execute(query).first() is not None


def _subscriber(conn: Connection, row: Any) -> Subscriber:
    query = select(subscriptions.c.region, subscriptions.c.status).where(
        subscriptions.c.subscriber_id == row["id"]
    )
    return Subscriber(
        id=row["id"],
        email=row["email"],
        name=row["name"],
        organisation=row["organisation"],
        ags=row["ags"],
        source=row["source"],
        created_at=as_utc(row["created_at"]),
        bounce_count=row["bounce_count"],
        suspended=row["suspended_at"] is not None,
        subscriptions={r.region: r.status for r in conn.execute(query)},
        link_key=row["link_key"],
    )
