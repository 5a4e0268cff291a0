"""SQL for bounces read from the bounce mailbox, and the deliveries they are about."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, case, delete, exists, func, insert, or_, select, update

from newsletter.models import Bounce, BounceKind, DeliveryStatus
from newsletter.store.db import as_utc
from newsletter.store.schema import bounces, deliveries, subscribers, subscriptions


class Target(NamedTuple):
    """The delivery a bounce is about."""

    delivery_id: int
    subscriber_id: int | None
    address: str


def delivery(conn: Connection, delivery_id: int) -> Target | None:
    row = conn.execute(
        select(deliveries.c.id, deliveries.c.subscriber_id, deliveries.c.address).where(
            deliveries.c.id == delivery_id
        )
    ).first()
    return Target(*row) if row is not None else None


def delivery_by_message_id(conn: Connection, delivery_id: int, message_id: str) -> Target | None:
    """The delivery ``delivery_id`` if it was sent with exactly ``message_id``."""
    row = conn.execute(
        select(deliveries.c.id, deliveries.c.subscriber_id, deliveries.c.address).where(
            deliveries.c.id == delivery_id, deliveries.c.message_id == message_id
        )
    ).first()
    return Target(*row) if row is not None else None


def subscriber_by_address(conn: Connection, address: str) -> int | None:
    found = conn.execute(
        select(subscribers.c.id).where(func.lower(subscribers.c.email) == address.lower())
    ).scalar()
    return int(found) if found is not None else None


def known(conn: Connection, message_hash: str, address: str) -> bool:
    """Whether this message's bounce for ``address`` is recorded already."""
    query = select(bounces.c.id).where(
        bounces.c.message_hash == message_hash, bounces.c.address == address
    )
    return conn.execute(query).first() is not None


def record(conn: Connection, **values: Any) -> int:
    """Store one bounce (columns of ``bounces``); returns its id."""
    result = conn.execute(insert(bounces).values(**values))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def set_action(conn: Connection, bounce_id: int, action: str) -> None:
    conn.execute(update(bounces).where(bounces.c.id == bounce_id).values(action=action))


def fail_delivery(conn: Connection, delivery_id: int, reply: str) -> None:
    """A sent delivery that bounced later is failed after all, with the bounce as its reply."""
    conn.execute(
        update(deliveries)
        .where(deliveries.c.id == delivery_id, deliveries.c.status == DeliveryStatus.SENT)
        .values(status=DeliveryStatus.FAILED, last_reply=reply[:1000])
    )


_COUNTED = (BounceKind.HARD, BounceKind.SOFT)


def recent_bounced(conn: Connection, subscriber_id: int, limit: int) -> list[bool]:
    """For the subscriber's latest ``limit`` handed-over deliveries since its latest
    confirmation (a new confirmation starts afresh), newest first, whether a hard or soft
    bounce is recorded for each."""
    bounced = exists().where(bounces.c.delivery_id == deliveries.c.id, bounces.c.kind.in_(_COUNTED))
    confirmed = (
        select(func.max(subscriptions.c.confirmed_at))
        .where(subscriptions.c.subscriber_id == subscriber_id)
        .scalar_subquery()
    )
    query = (
        select(bounced)
        .where(
            deliveries.c.subscriber_id == subscriber_id,
            deliveries.c.sent_at.is_not(None),
            or_(confirmed.is_(None), deliveries.c.created_at >= confirmed),
        )
        .order_by(deliveries.c.id.desc())
        .limit(limit)
    )
    return [bool(value) for value in conn.execute(query).scalars()]


class AddressSummary(NamedTuple):
    """One address on the admin page: its bounces by kind, the latest, suspension."""

    address: str
    subscriber_id: int | None
    hard: int
    soft: int
    complaint: int
    policy: int
    last_at: datetime | None
    suspended_reason: str | None


def per_address(conn: Connection, limit: int, offset: int = 0) -> list[AddressSummary]:
    """Addresses with bounces, the most recent first."""
    counts = [
        func.sum(case((bounces.c.kind == kind.value, 1), else_=0)).label(kind.value)
        for kind in (BounceKind.HARD, BounceKind.SOFT, BounceKind.COMPLAINT, BounceKind.POLICY)
    ]
    last = func.max(bounces.c.received_at).label("last_at")
    query = (
        select(
            bounces.c.address,
            func.max(bounces.c.subscriber_id),
            *counts,
            last,
            func.max(subscribers.c.suspended_reason),
        )
        .select_from(bounces.outerjoin(subscribers, subscribers.c.id == bounces.c.subscriber_id))
        .group_by(bounces.c.address)
        .order_by(last.desc(), bounces.c.address)
        .limit(limit)
        .offset(offset)
    )
    return [
        AddressSummary(
            address=row[0],
            subscriber_id=row[1],
            hard=int(row[2] or 0),
            soft=int(row[3] or 0),
            complaint=int(row[4] or 0),
            policy=int(row[5] or 0),
            last_at=as_utc(row[6]),
            suspended_reason=row[7],
        )
        for row in conn.execute(query)
    ]


def of_address(conn: Connection, address: str, limit: int = 200) -> list[Bounce]:
    query = (
        select(bounces)
        .where(func.lower(bounces.c.address) == address.lower())
        .order_by(bounces.c.received_at.desc(), bounces.c.id.desc())
        .limit(limit)
    )
    return [_bounce(row._mapping) for row in conn.execute(query)]


def get(conn: Connection, bounce_id: int) -> Bounce | None:
    row = conn.execute(select(bounces).where(bounces.c.id == bounce_id)).first()
    return _bounce(row._mapping) if row is not None else None


def recent(conn: Connection, limit: int = 50) -> list[Bounce]:
    query = select(bounces).order_by(bounces.c.id.desc()).limit(limit)
    return [_bounce(row._mapping) for row in conn.execute(query)]


def of_person(conn: Connection, address: str) -> list[dict[str, Any]]:
    """An address's bounces for its DSGVO Art. 15 export (newest first)."""
    return [
        {
            "received_at": b.received_at,
            "kind": b.kind.value,
            "status": b.status,
            "diagnostic": b.diagnostic,
            "reporter": b.reporter,
            "action": b.action,
            "message": b.raw,
        }
        for b in of_address(conn, address, limit=10_000)
    ]


def forget(conn: Connection, address: str) -> int:
    """Delete every bounce of ``address`` (DSGVO Art. 17), matched or not."""
    query = delete(bounces).where(func.lower(bounces.c.address) == address.lower())
    return int(conn.execute(query).rowcount or 0)


def purge(conn: Connection, before: datetime) -> int:
    """Delete bounces received before ``before`` (they hold addresses)."""
    return int(conn.execute(delete(bounces).where(bounces.c.received_at < before)).rowcount or 0)


def _bounce(row: Any) -> Bounce:
    return Bounce(
        id=row["id"],
        received_at=as_utc(row["received_at"]) or row["received_at"],
        address=row["address"],
        kind=BounceKind(row["kind"]),
        status=row["status"],
        diagnostic=row["diagnostic"],
        subscriber_id=row["subscriber_id"],
        delivery_id=row["delivery_id"],
        reporter=row["reporter"],
        action=row["action"],
        raw=row["raw"],
    )
