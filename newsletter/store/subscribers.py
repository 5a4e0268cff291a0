"""SQL for subscribers, their per-region subscriptions, the consent log and suppressions."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from newsletter.errors import NotFoundError
from newsletter.models import Subscriber
from newsletter.store.db import as_utc, utcnow
from newsletter.store.schema import consent_log, subscribers, subscriptions, suppressions


def find_by_email(conn: Connection, email: str) -> Subscriber | None:
    row = conn.execute(select(subscribers).where(subscribers.c.email == email)).first()
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


def update_profile(conn: Connection, subscriber_id: int, *, name: str, organisation: str) -> None:
    conn.execute(
        update(subscribers)
        .where(subscribers.c.id == subscriber_id)
        .values(name=name, organisation=organisation)
    )


def set_status(
    conn: Connection, subscriber_id: int, regions: Iterable[str], status: str, at: datetime
) -> None:
    """Set the status of some regions (rows are created as needed)."""
    for region in regions:
        key = (subscriptions.c.subscriber_id == subscriber_id) & (subscriptions.c.region == region)
        stamp = {"confirmed": "confirmed_at", "unsubscribed": "unsubscribed_at"}.get(status)
        values: dict[str, Any] = {"status": status} | ({stamp: at} if stamp else {})
        if conn.execute(update(subscriptions).where(key).values(**values)).rowcount == 0:
            conn.execute(
                insert(subscriptions).values(
                    subscriber_id=subscriber_id, region=region, requested_at=at, **values
                )
            )
        if status == "pending":
            conn.execute(update(subscriptions).where(key).values(requested_at=at))


def log_consent(conn: Connection, **values: Any) -> None:
    """Append one event to the consent log (never updated, never deleted by us)."""
    conn.execute(insert(consent_log).values(at=utcnow(), **values))


def consent_events(conn: Connection, email_hash: str) -> list[dict[str, Any]]:
    query = (
        select(consent_log).where(consent_log.c.email_hash == email_hash).order_by(consent_log.c.id)
    )
    return [dict(row._mapping) for row in conn.execute(query)]


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


def delete_subscriber(conn: Connection, subscriber_id: int) -> None:
    conn.execute(delete(subscribers).where(subscribers.c.id == subscriber_id))


def suppress(conn: Connection, email_hash: str, reason: str) -> None:
    if not is_suppressed(conn, email_hash):
        conn.execute(insert(suppressions).values(email_hash=email_hash, reason=reason, at=utcnow()))


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
    )
