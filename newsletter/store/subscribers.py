"""SQL for subscribers, their per-region subscriptions, the consent log and suppressions.

Addresses are matched case-insensitively (``Anna@pirna.de`` and ``anna@pirna.de`` are one
subscriber) while the stored spelling is kept. The consent log is append-only: the only
change ever made to a row is :func:`redact_consent` (IP and user agent) on erasure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from newsletter.errors import NotFoundError
from newsletter.models import (
    ConsentEvent,
    MailRecord,
    Subscriber,
    SubscriptionRecord,
    SubscriptionStatus,
)
from newsletter.store.db import as_utc, utcnow
from newsletter.store.schema import (
    consent_log,
    deliveries,
    subscribers,
    subscriptions,
    suppressions,
)
from newsletter.store.textsearch import contains_text

_STAMPS = {
    SubscriptionStatus.CONFIRMED: "confirmed_at",
    SubscriptionStatus.UNSUBSCRIBED: "unsubscribed_at",
    SubscriptionStatus.PENDING: "requested_at",
}


def find_by_email(conn: Connection, email: str) -> Subscriber | None:
    query = select(subscribers).where(func.lower(subscribers.c.email) == email.lower())
    row = conn.execute(query.order_by(subscribers.c.id)).first()
    return None if row is None else _subscriber(conn, row._mapping)


def find_by_emails(conn: Connection, emails: Sequence[str]) -> dict[str, Subscriber]:
    """Many addresses at once (keep them to a few hundred): lower-cased address ->
    subscriber with its subscriptions, in two statements."""
    lowered = sorted({e.lower() for e in emails})
    if not lowered:
        return {}
    query = select(subscribers).where(func.lower(subscribers.c.email).in_(lowered))
    rows = [row._mapping for row in conn.execute(query.order_by(subscribers.c.id.desc()))]
    statuses = _statuses_of(conn, [row["id"] for row in rows])
    return {row["email"].lower(): _build(row, statuses.get(row["id"], {})) for row in rows}


def get(conn: Connection, subscriber_id: int) -> Subscriber:
    row = conn.execute(select(subscribers).where(subscribers.c.id == subscriber_id)).first()
    if row is None:
        raise NotFoundError.of("subscription")
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


def create_many(conn: Connection, rows: Sequence[dict[str, Any]], source: str) -> list[int]:
    """Insert subscribers (``email``, ``name``, ``organisation``, ``ags``) in one batched
    statement; their ids in the order of ``rows`` (one more statement, on the unique index)."""
    if not rows:
        return []
    now = utcnow()
    conn.execute(insert(subscribers), [dict(row, source=source, created_at=now) for row in rows])
    emails = [row["email"] for row in rows]
    query = select(subscribers.c.id, subscribers.c.email).where(subscribers.c.email.in_(emails))
    ids = {row.email: int(row.id) for row in conn.execute(query)}
    return [ids[email] for email in emails]


def update_profile(conn: Connection, subscriber_id: int, **values: str | None) -> None:
    """Set ``name``, ``organisation`` and/or ``ags``."""
    allowed = {k: v for k, v in values.items() if k in ("name", "organisation", "ags")}
    if allowed:
        conn.execute(update(subscribers).where(subscribers.c.id == subscriber_id).values(allowed))


def set_per_region(conn: Connection, subscriber_id: int, per_region: bool) -> None:
    """The preference »eine E-Mail je Region« (else one combined mail per slot)."""
    conn.execute(
        update(subscribers)
        .where(subscribers.c.id == subscriber_id)
        .values(per_region_mails=per_region)
    )


def clear_suspension(conn: Connection, subscriber_id: int) -> None:
    """A confirmed click proves the mailbox works again: bounce count back to zero."""
    conn.execute(
        update(subscribers)
        .where(subscribers.c.id == subscriber_id)
        .values(bounce_count=0, suspended_at=None, suspended_reason=None)
    )


def set_status(
    conn: Connection,
    subscriber_id: int,
    regions: Iterable[str],
    status: SubscriptionStatus,
    at: datetime,
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


def set_status_many(
    conn: Connection,
    pairs: Sequence[tuple[int, str]],
    status: SubscriptionStatus,
    at: datetime,
) -> None:
    """:func:`set_status` for many (subscriber id, region) pairs: one look-up, one batched
    update and one batched insert."""
    if not pairs:
        return
    ids = sorted({sid for sid, _ in pairs})
    have = {
        (row.subscriber_id, row.region)
        for row in conn.execute(
            select(subscriptions.c.subscriber_id, subscriptions.c.region).where(
                subscriptions.c.subscriber_id.in_(ids)
            )
        )
    }
    stamp = _STAMPS[status]
    known = [{"sid": sid, "reg": region} for sid, region in pairs if (sid, region) in have]
    if known:
        conn.execute(
            update(subscriptions)
            .where(
                subscriptions.c.subscriber_id == bindparam("sid"),
                subscriptions.c.region == bindparam("reg"),
            )
            .values({"status": status, stamp: at}),
            known,
        )
    fresh = [
        {"subscriber_id": sid, "region": region, "status": status, "requested_at": at, stamp: at}
        for sid, region in pairs
        if (sid, region) not in have
    ]
    if fresh:
        conn.execute(insert(subscriptions), fresh)


def subscription_rows(conn: Connection, subscriber_id: int) -> list[SubscriptionRecord]:
    """Every region row with its times (for the DSGVO Art. 15 export)."""
    columns = [subscriptions.c[f.name] for f in fields(SubscriptionRecord)]
    query = (
        select(*columns)
        .where(subscriptions.c.subscriber_id == subscriber_id)
        .order_by(subscriptions.c.region)
    )
    return [SubscriptionRecord(*row) for row in conn.execute(query)]


def log_consent(conn: Connection, **values: Any) -> None:
    """Append one event to the consent log (never updated, never deleted by us)."""
    conn.execute(insert(consent_log).values(at=utcnow(), **values))


def log_consents(conn: Connection, events: Sequence[dict[str, Any]]) -> None:
    """Append many events in one batched statement."""
    if events:
        now = utcnow()
        conn.execute(insert(consent_log), [dict(event, at=now) for event in events])


def consent_events(conn: Connection, email_hash: str) -> list[ConsentEvent]:
    columns = [consent_log.c[f.name] for f in fields(ConsentEvent)]
    query = (
        select(*columns).where(consent_log.c.email_hash == email_hash).order_by(consent_log.c.id)
    )
    return [
        ConsentEvent(**(row._asdict() | {"regions": tuple(row.regions or ())}))
        for row in conn.execute(query)
    ]


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
    """Two statements whatever the count (the subscriptions of all listed subscribers
    at once: one query per subscriber took 13 s for 10,000 on PostgreSQL)."""
    query = _filtered(conn, select(subscribers), SubscriberFilter(region=region, status=status))
    rows = [row._mapping for row in conn.execute(query.order_by(subscribers.c.email))]
    statuses = _statuses_where(
        conn, subscriptions.c.subscriber_id.in_(query.with_only_columns(subscribers.c.id))
    )
    return [_build(row, statuses.get(row["id"], {})) for row in rows]


@dataclass(frozen=True)
class SubscriberFilter:
    """The admin list's search: ``text`` in address, name or organisation (any case),
    subscribed to ``region`` and/or with a subscription in ``status``."""

    text: str = ""
    region: str | None = None
    status: str | None = None


def search(
    conn: Connection, where: SubscriberFilter, *, limit: int, offset: int = 0
) -> list[Subscriber]:
    """One page of the filtered list, ordered by address: two statements for the page."""
    query = _filtered(conn, select(subscribers), where).order_by(subscribers.c.email)
    rows = [row._mapping for row in conn.execute(query.limit(limit).offset(offset))]
    statuses = _statuses_of(conn, [row["id"] for row in rows])
    return [_build(row, statuses.get(row["id"], {})) for row in rows]


def search_count(conn: Connection, where: SubscriberFilter) -> int:
    query = _filtered(conn, select(func.count()).select_from(subscribers), where)
    return int(conn.execute(query).scalar_one())


def _filtered(conn: Connection, query: Select[Any], where: SubscriberFilter) -> Select[Any]:
    needle = where.text.strip()
    if needle:
        columns = (subscribers.c.email, subscribers.c.name, subscribers.c.organisation)
        query = query.where(or_(*(contains_text(conn, c, needle) for c in columns)))
    if where.region is not None or where.status is not None:
        inner = select(subscriptions.c.subscriber_id)
        if where.region is not None:
            inner = inner.where(subscriptions.c.region == where.region)
        if where.status is not None:
            inner = inner.where(subscriptions.c.status == where.status)
        query = query.where(subscribers.c.id.in_(inner))
    return query


def delivery_log(conn: Connection, subscriber_id: int) -> list[MailRecord]:
    """The mails queued or sent to a subscriber (kind, status, times): part of Art. 15."""
    columns = [deliveries.c[f.name] for f in fields(MailRecord)]
    query = (
        select(*columns)
        .where(deliveries.c.subscriber_id == subscriber_id)
        .order_by(deliveries.c.id)
    )
    return [MailRecord(*row) for row in conn.execute(query)]


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


def suppressed_among(conn: Connection, email_hashes: Sequence[str]) -> set[str]:
    """Which of these hashes are suppressed (one statement; keep to a few hundred)."""
    if not email_hashes:
        return set()
    query = select(suppressions.c.email_hash).where(
        suppressions.c.email_hash.in_(sorted(set(email_hashes)))
    )
    return {row.email_hash for row in conn.execute(query)}


def is_suppressed(conn: Connection, email_hash: str) -> bool:
    query = select(suppressions.c.email_hash).where(suppressions.c.email_hash == email_hash)
    return conn.execute(query).first() is not None


def _subscriber(conn: Connection, row: Any) -> Subscriber:
    return _build(row, _statuses_of(conn, [row["id"]]).get(row["id"], {}))


def _statuses_of(conn: Connection, ids: Sequence[int]) -> dict[int, dict[str, SubscriptionStatus]]:
    """Region -> status for each of these subscribers (one statement)."""
    return _statuses_where(conn, subscriptions.c.subscriber_id.in_(ids)) if ids else {}


def _statuses_where(
    conn: Connection, which: ColumnElement[bool]
) -> dict[int, dict[str, SubscriptionStatus]]:
    """Region -> status for each subscriber with a subscription matching ``which``."""
    out: dict[int, dict[str, SubscriptionStatus]] = {}
    query = select(subscriptions.c.subscriber_id, subscriptions.c.region, subscriptions.c.status)
    for r in conn.execute(query.where(which)):
        out.setdefault(r.subscriber_id, {})[r.region] = SubscriptionStatus(r.status)
    return out


def _build(row: Any, statuses: dict[str, SubscriptionStatus]) -> Subscriber:
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
        subscriptions=statuses,
        link_key=row["link_key"],
        per_region=bool(row["per_region_mails"]),
    )
