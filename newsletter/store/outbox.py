"""SQL for the outbox: the database is the send queue.

Enqueueing is one INSERT … SELECT over the region's confirmed subscribers; the unique
(digest, subscriber) constraint and a NOT EXISTS make it idempotent. Workers claim due
rows with a lease; on PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets several workers claim
disjoint batches; on SQLite the write transaction (BEGIN IMMEDIATE) serialises claims.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    and_,
    any_,
    bindparam,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from newsletter.models import (
    OPEN_DELIVERY,
    Accepted,
    Claimed,
    Delivery,
    DeliveryStatus,
    DigestKind,
    SlotRecipient,
    SubscriptionStatus,
)
from newsletter.store.db import as_utc, is_postgres, utcnow
from newsletter.store.schema import deliveries, digests, subscribers, subscriptions

_RECIPIENTS = subscribers.join(subscriptions, subscriptions.c.subscriber_id == subscribers.c.id)


def _confirmed_in(region: str) -> tuple[ColumnElement[bool], ...]:
    """Who gets a region's digest: confirmed for that region and not suspended."""
    return (
        subscriptions.c.region == region,
        subscriptions.c.status == SubscriptionStatus.CONFIRMED,
        subscribers.c.suspended_at.is_(None),
    )


def enqueue_digest(conn: Connection, digest_id: int, region: str) -> int:
    """One queued delivery per confirmed, non-suspended subscriber of ``region``."""
    now = utcnow()
    already = exists().where(
        deliveries.c.digest_id == digest_id, deliveries.c.subscriber_id == subscribers.c.id
    )
    source = (
        select(
            literal(digest_id),
            subscribers.c.id,
            subscribers.c.email,
            literal("digest"),
            literal(DeliveryStatus.QUEUED.value),
            literal(0),
            literal(now),
            literal(now),
        )
        .select_from(_RECIPIENTS)
        .where(*_confirmed_in(region), ~already)
    )
    columns = [
        "digest_id",
        "subscriber_id",
        "address",
        "kind",
        "status",
        "attempts",
        "next_attempt_at",
        "created_at",
    ]
    inserted = insert(deliveries).from_select(columns, source).returning(deliveries.c.id)
    return len(conn.execute(inserted).all())


def slot_recipients(conn: Connection, regions: Sequence[str]) -> list[SlotRecipient]:
    """Every confirmed, non-suspended subscriber of any of ``regions``, with those of
    ``regions`` they are confirmed for and their »eine E-Mail je Region« preference."""
    query = (
        select(
            subscribers.c.id,
            subscribers.c.email,
            subscribers.c.per_region_mails,
            subscriptions.c.region,
        )
        .select_from(_RECIPIENTS)
        .where(
            subscriptions.c.region.in_(list(regions)),
            subscriptions.c.status == SubscriptionStatus.CONFIRMED,
            subscribers.c.suspended_at.is_(None),
        )
        .order_by(subscribers.c.id)
    )
    found: dict[int, tuple[str, bool, list[str]]] = {}
    for sid, email, per_region, region in conn.execute(query):
        found.setdefault(sid, (email, bool(per_region), []))[2].append(region)
    return [
        SlotRecipient(sid, email, per_region, tuple(r for r in regions if r in mine))
        for sid, (email, per_region, mine) in found.items()
    ]


def enqueue_rows(conn: Connection, rows: Sequence[tuple[int, int, str]]) -> int:
    """Queue ``(digest id, subscriber id, address)`` rows in one batched statement (the
    digests are new in this transaction, so no row exists yet)."""
    if not rows:
        return 0
    now = utcnow()
    conn.execute(
        insert(deliveries),
        [
            {
                "digest_id": digest_id,
                "subscriber_id": subscriber_id,
                "address": address,
                "kind": "digest",
                "status": DeliveryStatus.QUEUED,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for digest_id, subscriber_id, address in rows
        ],
    )
    return len(rows)


def enqueue_welcome(conn: Connection, digest_id: int, subscriber_id: int, address: str) -> bool:
    """A late joiner gets the region's latest digest once (unique per digest and subscriber)."""
    taken = select(deliveries.c.id).where(
        deliveries.c.digest_id == digest_id, deliveries.c.subscriber_id == subscriber_id
    )
    if conn.execute(taken).first() is not None:
        return False
    now = utcnow()
    conn.execute(
        insert(deliveries).values(
            digest_id=digest_id,
            subscriber_id=subscriber_id,
            address=address,
            kind="welcome",
            status=DeliveryStatus.QUEUED,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )
    return True


def enqueue_message(
    conn: Connection,
    *,
    address: str,
    kind: str,
    payload: dict[str, Any],
    subscriber_id: int | None = None,
) -> int:
    """A transactional message (confirmation, manage link), already personal."""
    now = utcnow()
    result = conn.execute(
        insert(deliveries).values(
            address=address,
            kind=kind,
            payload=payload,
            subscriber_id=subscriber_id,
            status=DeliveryStatus.QUEUED,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def enqueue_messages(conn: Connection, messages: Sequence[dict[str, Any]]) -> None:
    """Many transactional messages (``address``, ``kind``, ``payload``, ``subscriber_id``)
    in one batched statement."""
    if messages:
        now = utcnow()
        fresh = {
            "status": DeliveryStatus.QUEUED,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        conn.execute(insert(deliveries), [dict(m, **fresh) for m in messages])


_CLAIMED = (  # what sending a row needs (and ``claimed_by`` for the admin and tests)
    deliveries.c.id,
    deliveries.c.digest_id,
    deliveries.c.subscriber_id,
    deliveries.c.address,
    deliveries.c.kind,
    deliveries.c.payload,
    deliveries.c.attempts,
    deliveries.c.created_at,
    deliveries.c.claimed_by,
    deliveries.c.lease_until,
    select(subscribers.c.link_key)  # binds the links in the mail to the recipient
    .where(subscribers.c.id == deliveries.c.subscriber_id)
    .scalar_subquery()
    .label("link_key"),
)


def _due(moment: datetime) -> ColumnElement[bool]:
    """Queued, retry due, or leased with an expired lease."""
    due = or_(
        and_(
            deliveries.c.status.in_((DeliveryStatus.QUEUED, DeliveryStatus.RETRY)),
            deliveries.c.next_attempt_at <= moment,
        ),
        and_(
            deliveries.c.claimed_by.is_not(None),  # leased rows: the claimed index (0014)
            deliveries.c.status == DeliveryStatus.SENDING,
            deliveries.c.lease_until < moment,
        ),
    )
    # every due row is open, so none lies below the oldest open one (from the open rows'
    # index): a claim starts there, not at the first of the rows sent before it
    oldest_open = (
        select(func.min(deliveries.c.id)).where(deliveries.c.status.in_(OPEN_DELIVERY))
    ).scalar_subquery()
    return and_(deliveries.c.id >= oldest_open, due)


def any_due(conn: Connection, now: datetime) -> bool:
    """Whether a claim at ``now`` would find a row: one index probe, so an idle worker's
    poll costs no hourly count and no lease statements."""
    return conn.execute(select(deliveries.c.id).where(_due(now)).limit(1)).first() is not None


def claim(
    conn: Connection,
    worker: str,
    limit: int,
    lease_seconds: int,
    now: datetime | None = None,
    *,
    cancel_reply: str = "",
) -> list[Claimed]:
    """Lease up to ``limit`` due deliveries (queued, retry due, or with an expired lease);
    transactional mails (confirmation, preferences link) before digest rows, so nobody waits
    for a confirmation link behind a digest going to thousands.

    An UPDATE per kind leases the rows (``… WHERE id IN (SELECT … LIMIT n)``, on PostgreSQL
    ``FOR UPDATE SKIP LOCKED`` in the sub-select); the batch is then known by its
    (worker, lease_until) pair, so no statement carries a list of ids. Digest deliveries
    whose recipient has meanwhile unsubscribed from the region, been suspended or erased
    are cancelled here instead (an objection stops mail at once), with ``cancel_reply`` as
    their last reply for the admin. Each row carries
    ``regions``: the recipient's confirmed regions, for the footer, read in the same
    query as the rows.
    """
    moment = now or utcnow()
    until = moment + timedelta(seconds=lease_seconds)
    due = _due(moment)
    leased = 0
    for kind in (deliveries.c.digest_id.is_(None), deliveries.c.digest_id.is_not(None)):
        if leased < limit:  # transactional mail (confirmations) first, then digests
            pick = select(deliveries.c.id).where(due, kind).order_by(deliveries.c.id)
            pick = pick.limit(limit - leased)
            if is_postgres(conn):
                pick = pick.with_for_update(skip_locked=True)
            lease = update(deliveries).where(deliveries.c.id.in_(pick.scalar_subquery()))
            lease = lease.values(
                status=DeliveryStatus.SENDING, claimed_by=worker, lease_until=until
            )
            leased += conn.execute(lease).rowcount or 0
    if not leased:
        return []
    batch = and_(
        deliveries.c.claimed_by == worker,
        deliveries.c.lease_until == until,
        deliveries.c.status == DeliveryStatus.SENDING,
    )
    _cancel_ineligible(conn, batch, cancel_reply)
    confirmed = and_(
        subscriptions.c.subscriber_id == deliveries.c.subscriber_id,
        subscriptions.c.status == SubscriptionStatus.CONFIRMED,
    )
    query = (
        select(*_CLAIMED, subscriptions.c.region)
        .select_from(deliveries.outerjoin(subscriptions, confirmed))
        .where(batch)
        .order_by(deliveries.c.digest_id.is_not(None), deliveries.c.id, subscriptions.c.region)
    )
    groups: list[tuple[list[Any], list[str]]] = []
    for *values, region in conn.execute(query):
        if not groups or groups[-1][0][0] != values[0]:
            groups.append((values, []))
        if region is not None:
            groups[-1][1].append(region)
    return [Claimed._make([*values, tuple(regions)]) for values, regions in groups]


def cancel_ineligible(conn: Connection, worker: str, ids: Sequence[int], reply: str) -> set[int]:
    """Cancel those of ``worker``'s leased deliveries ``ids`` whose recipient is no longer
    confirmed for the digest's region (or is suspended or erased): the check a claim makes,
    again for rows claimed ahead of their turn. Returns the ids cancelled."""
    if not ids:
        return set()
    return _cancel_ineligible(conn, and_(_one_of(conn, ids), _held_by(worker)), reply)


def _cancel_ineligible(conn: Connection, batch: ColumnElement[bool], reply: str) -> set[int]:
    """Cancel digest deliveries whose recipient is no longer confirmed for the region."""
    # a combined mail (region »a+b+c«) goes out while any of its regions is confirmed
    in_combined = and_(
        digests.c.kind == DigestKind.COMBINED.value,
        ("+" + digests.c.region + "+").like("%+" + subscriptions.c.region + "+%"),
    )
    eligible = exists().where(
        digests.c.id == deliveries.c.digest_id,
        subscriptions.c.subscriber_id == deliveries.c.subscriber_id,
        or_(subscriptions.c.region == digests.c.region, in_combined),
        subscriptions.c.status == SubscriptionStatus.CONFIRMED,
        subscribers.c.id == deliveries.c.subscriber_id,
        subscribers.c.suspended_at.is_(None),
    )
    query = (
        update(deliveries)
        .where(batch, deliveries.c.digest_id.is_not(None), ~eligible)
        .values(
            status=DeliveryStatus.CANCELLED,
            last_reply=reply,
            claimed_by=None,
            lease_until=None,
        )
        .returning(deliveries.c.id)
    )
    return set(conn.execute(query).scalars())


def hourly_usage(conn: Connection, now: datetime) -> tuple[int, datetime | None]:
    """Mails that count against an hourly cap at ``now``: sent in the hour before, plus
    those leased and not yet reported (in flight, any worker); and the oldest of the sent
    ones, whose hour ends first."""
    since = now - timedelta(hours=1)
    sent = conn.execute(
        select(func.count(), func.min(deliveries.c.sent_at)).where(
            deliveries.c.status == DeliveryStatus.SENT, deliveries.c.sent_at >= since
        )
    ).one()
    in_flight = conn.execute(
        select(func.count()).where(
            deliveries.c.claimed_by.is_not(None),  # leased rows: the claimed index (0014)
            deliveries.c.status == DeliveryStatus.SENDING,
            deliveries.c.lease_until >= now,
        )
    ).scalar_one()
    return int(sent[0]) + int(in_flight), sent[1]


def extend_leases(conn: Connection, worker: str, ids: list[int], until: datetime) -> set[int]:
    """Renew this worker's leases on ``ids``; returns the ids it still holds."""
    if not ids:
        return set()
    query = (
        update(deliveries)
        .where(_one_of(conn, ids), _held_by(worker))
        .values(lease_until=until)
        .returning(deliveries.c.id)
    )
    return set(conn.execute(query).scalars())


def _one_of(conn: Connection, ids: Sequence[int]) -> ColumnElement[bool]:
    """The delivery is one of ``ids``: on PostgreSQL one array parameter (``= ANY``), as
    converting an IN list of a batch's 500 parameters costs more than the statement."""
    if is_postgres(conn):
        return deliveries.c.id == any_(bindparam("ids", list(ids), type_=ARRAY(Integer)))
    return deliveries.c.id.in_(ids)


def _held_by(worker: str) -> ColumnElement[bool]:
    return and_(deliveries.c.claimed_by == worker, deliveries.c.status == DeliveryStatus.SENDING)


_MARK_SENT = (  # SQLite: one statement, many parameter sets
    update(deliveries)
    .where(deliveries.c.id == bindparam("delivery_id"))
    .values(
        status=DeliveryStatus.SENT,
        sent_at=bindparam("at"),
        last_reply=bindparam("reply"),
        message_id=bindparam("message_id"),
        attempts=deliveries.c.attempts + 1,
        claimed_by=None,
        lease_until=None,
    )
)

# PostgreSQL: the whole batch as four arrays in one UPDATE … FROM unnest(…), one statement
# of one shape (prepared once per connection) instead of an executor run per row
_MARK_SENT_PG = text(
    "UPDATE deliveries SET status = :status, sent_at = a.at, last_reply = a.reply,"
    " message_id = a.message_id, attempts = deliveries.attempts + 1,"
    " claimed_by = NULL, lease_until = NULL"
    " FROM unnest(CAST(:ids AS integer[]), CAST(:ats AS timestamptz[]),"
    " CAST(:replies AS text[]), CAST(:message_ids AS text[])) AS a(id, at, reply, message_id)"
    " WHERE deliveries.id = a.id"
)


def mark_sent(conn: Connection, accepted: Sequence[Accepted]) -> None:
    """Record accepted messages, the whole batch in one statement; recorded even if the
    lease was lost meanwhile: the mail is out, whoever holds the row."""
    if not accepted:
        return
    if is_postgres(conn):
        conn.execute(
            _MARK_SENT_PG,
            {
                "status": DeliveryStatus.SENT.value,
                "ids": [a.delivery_id for a in accepted],
                "ats": [a.at for a in accepted],
                "replies": [a.reply[:1000] for a in accepted],
                "message_ids": [a.message_id for a in accepted],
            },
        )
        return
    conn.execute(
        _MARK_SENT,
        [
            {
                "delivery_id": a.delivery_id,
                "at": a.at,
                "reply": a.reply[:1000],
                "message_id": a.message_id,
            }
            for a in accepted
        ],
    )


def mark_retry(
    conn: Connection, delivery_id: int, worker: str, reply: str, at: datetime, *, failed: bool
) -> bool:
    """A temporary failure: try again at ``at``, or give up (``failed``) after max attempts.

    Only while ``worker`` still holds the lease: a row another worker took over (and may
    have sent meanwhile) is left alone. Returns whether the row was updated.
    """
    query = (
        update(deliveries)
        .where(deliveries.c.id == delivery_id, _held_by(worker))
        .values(
            status=DeliveryStatus.FAILED if failed else DeliveryStatus.RETRY,
            next_attempt_at=at,
            last_reply=reply[:1000],
            attempts=deliveries.c.attempts + 1,
            claimed_by=None,
            lease_until=None,
        )
    )
    return bool(conn.execute(query).rowcount)


def mark_failed(conn: Connection, delivery_id: int, worker: str, reply: str) -> bool:
    """A permanent failure (5xx, or a message that cannot be built): no retry."""
    query = (
        update(deliveries)
        .where(deliveries.c.id == delivery_id, _held_by(worker))
        .values(
            status=DeliveryStatus.FAILED,
            last_reply=reply[:1000],
            attempts=deliveries.c.attempts + 1,
            claimed_by=None,
            lease_until=None,
        )
    )
    return bool(conn.execute(query).rowcount)


def count_bounce(conn: Connection, subscriber_id: int) -> int:
    """Raise the address's hard-bounce count; returns the new count."""
    query = (
        update(subscribers)
        .where(subscribers.c.id == subscriber_id)
        .values(bounce_count=subscribers.c.bounce_count + 1)
        .returning(subscribers.c.bounce_count)
    )
    return int(conn.execute(query).scalar_one_or_none() or 0)


def suspend(conn: Connection, subscriber_id: int, reason: str) -> bool:
    """Suspend the address (no more digests) with ``reason``; False if it already was."""
    query = (
        update(subscribers)
        .where(subscribers.c.id == subscriber_id, subscribers.c.suspended_at.is_(None))
        .values(suspended_at=utcnow(), suspended_reason=reason)
    )
    return bool(conn.execute(query).rowcount)


def postpone(
    conn: Connection, worker: str, ids: list[int], at: datetime, reason: str | None = None
) -> None:
    """Give back leased rows without counting an attempt, due again at ``at`` (the
    transport is down); ``reason`` is stored as their last reply for the admin."""
    if ids:
        values: dict[str, Any] = {"next_attempt_at": at, "claimed_by": None, "lease_until": None}
        if reason is not None:
            values["last_reply"] = reason[:1000]
        conn.execute(
            update(deliveries)
            .where(_one_of(conn, ids), _held_by(worker))
            .values(status=DeliveryStatus.QUEUED, **values)
        )


def release(conn: Connection, worker: str) -> None:
    """Give back this worker's leases (graceful stop)."""
    conn.execute(
        update(deliveries)
        .where(_held_by(worker))
        .values(status=DeliveryStatus.QUEUED, claimed_by=None, lease_until=None)
    )


def pending_count(conn: Connection) -> int:
    query = (
        select(func.count()).select_from(deliveries).where(deliveries.c.status.in_(OPEN_DELIVERY))
    )
    return int(conn.execute(query).scalar_one())


def list_deliveries(
    conn: Connection,
    *,
    digest_id: int | None = None,
    status: DeliveryStatus | None = None,
    limit: int = 200,
    offset: int = 0,
) -> list[Delivery]:
    query = select(deliveries).order_by(deliveries.c.id.desc()).limit(limit).offset(offset)
    if digest_id is not None:
        query = query.where(deliveries.c.digest_id == digest_id)
    if status is not None:
        query = query.where(deliveries.c.status == status)
    return [_delivery(row._mapping) for row in conn.execute(query)]


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=row["id"],
        digest_id=row["digest_id"],
        subscriber_id=row["subscriber_id"],
        address=row["address"],
        status=DeliveryStatus(row["status"]),
        attempts=row["attempts"],
        kind=row["kind"],
        payload=row["payload"],
        next_attempt_at=as_utc(row["next_attempt_at"]),
        claimed_by=row["claimed_by"],
        lease_until=as_utc(row["lease_until"]),
        sent_at=as_utc(row["sent_at"]),
        last_reply=row["last_reply"],
        message_id=row["message_id"],
        created_at=as_utc(row["created_at"]),
    )


def count_confirmed(conn: Connection, region: str) -> int:
    """How many addresses a digest of ``region`` would go to now."""
    query = select(func.count()).select_from(_RECIPIENTS).where(*_confirmed_in(region))
    return int(conn.execute(query).scalar_one())


def requeue_failed(conn: Connection, digest_id: int, now: datetime) -> int:
    """An admin's »retry failed«: the digest's failed deliveries are queued again afresh."""
    query = (
        update(deliveries)
        .where(deliveries.c.digest_id == digest_id, deliveries.c.status == DeliveryStatus.FAILED)
        .values(
            status=DeliveryStatus.QUEUED,
            attempts=0,
            next_attempt_at=now,
            claimed_by=None,
            lease_until=None,
        )
    )
    return int(conn.execute(query).rowcount or 0)


def status_counts(conn: Connection, digest_id: int) -> dict[DeliveryStatus, int]:
    """A digest's deliveries per status (whoever sent them: this process or a worker)."""
    query = (
        select(deliveries.c.status, func.count())
        .where(deliveries.c.digest_id == digest_id)
        .group_by(deliveries.c.status)
    )
    return {DeliveryStatus(status): int(n) for status, n in conn.execute(query)}
