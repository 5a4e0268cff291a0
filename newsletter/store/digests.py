"""SQL for digests: one row per (region, kind, period), the history of what was sent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select
from sqlalchemy.exc import IntegrityError

from newsletter.errors import NotFoundError
from newsletter.models import DeliveryStatus, Digest, DigestKind, DigestSummary
from newsletter.store.db import as_utc, utcnow
from newsletter.store.schema import deliveries, digests


def insert_digest(conn: Connection, digest: Digest, *, triggered_by: str) -> int | None:
    """Store a digest; ``None`` when one for the same region and period already exists.

    The unique constraint (region, kind, period_key) makes two instances that build the
    same period at once harmless: the second insert fails inside a savepoint.
    """
    values = {
        "region": digest.region,
        "kind": digest.kind.value,
        "period_start": digest.period_start,
        "period_end": digest.period_end,
        "period_key": period_key(digest.period_end),
        "subject": digest.subject,
        "html": digest.html,
        "text": digest.text,
        "item_ids": list(digest.item_ids),
        "triggered_by": triggered_by,
        "created_at": utcnow(),
    }
    try:
        with conn.begin_nested():
            result = conn.execute(insert(digests).values(**values))
    except IntegrityError:
        return None
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def period_key(period_end: datetime) -> str:
    """The period's identity: its cut-off, to the second, in UTC."""
    stamp = as_utc(period_end)
    assert stamp is not None
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def last_cutoff(conn: Connection, region: str) -> datetime | None:
    """End of the region's latest digest period: where the next digest starts."""
    query = select(func.max(digests.c.period_end)).where(
        digests.c.region == region, digests.c.kind == "digest"
    )
    return as_utc(conn.execute(query).scalar())


def find(conn: Connection, region: str, kind: DigestKind, key: str) -> Digest | None:
    """The digest stored for (region, kind, period key), if any."""
    query = select(digests).where(
        digests.c.region == region, digests.c.kind == kind.value, digests.c.period_key == key
    )
    row = conn.execute(query).first()
    return None if row is None else _digest(row._mapping)


def get(conn: Connection, digest_id: int) -> Digest:
    row = conn.execute(select(digests).where(digests.c.id == digest_id)).first()
    if row is None:
        raise NotFoundError.of("digest", digest_id)
    return _digest(row._mapping)


def latest_for_region(conn: Connection, region: str) -> Digest | None:
    query = (
        select(digests)
        .where(digests.c.region == region, digests.c.kind == "digest")
        .order_by(digests.c.period_end.desc())
        .limit(1)
    )
    row = conn.execute(query).first()
    return None if row is None else _digest(row._mapping)


def history(conn: Connection, limit: int = 50) -> list[DigestSummary]:
    """Digests newest first, with delivery counts per status."""
    counts = (
        select(
            deliveries.c.digest_id,
            func.count().label("total"),
            func.sum((deliveries.c.status == DeliveryStatus.SENT).cast(_int())).label("sent"),
            func.sum((deliveries.c.status == DeliveryStatus.FAILED).cast(_int())).label("failed"),
        )
        .group_by(deliveries.c.digest_id)
        .subquery()
    )
    query = (
        select(
            digests.c.id,
            digests.c.region,
            digests.c.period_start,
            digests.c.period_end,
            digests.c.subject,
            digests.c.item_ids,
            digests.c.triggered_by,
            counts.c.total,
            counts.c.sent,
            counts.c.failed,
        )
        .outerjoin(counts, counts.c.digest_id == digests.c.id)
        .order_by(digests.c.created_at.desc())
        .limit(limit)
    )
    return [_summary(row._mapping) for row in conn.execute(query)]


def _summary(row: Any) -> DigestSummary:
    return DigestSummary(
        **_common(row),
        triggered_by=row["triggered_by"],
        total=int(row["total"] or 0),
        sent=int(row["sent"] or 0),
        failed=int(row["failed"] or 0),
    )


def _int() -> Any:
    from sqlalchemy import Integer

    return Integer()


def _digest(row: Any) -> Digest:
    return Digest(
        **_common(row),
        html=row["html"],
        text=row["text"],
        created_at=as_utc(row["created_at"]),
        kind=DigestKind(row["kind"]),
    )


def _common(row: Any) -> dict[str, Any]:
    """The fields a stored digest and its history row share."""
    period_end = as_utc(row["period_end"])
    assert period_end is not None
    return {
        "id": row["id"],
        "region": row["region"],
        "period_start": as_utc(row["period_start"]),
        "period_end": period_end,
        "subject": row["subject"],
        "item_ids": tuple(row["item_ids"] or ()),
    }
