"""SQL for drafted digests (``schedule.approval = "manual"``): one row per (region, slot)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, or_, select
from sqlalchemy.exc import IntegrityError

from newsletter.errors import NotFoundError
from newsletter.models import Digest, Draft
from newsletter.store.db import as_utc, utcnow
from newsletter.store.schema import digest_drafts, digests


def insert_draft(conn: Connection, digest: Digest, triggered_by: str) -> int | None:
    """Store a draft of ``digest``; ``None`` when the region already has one for that slot."""
    values = {
        "region": digest.region,
        "period_start": digest.period_start,
        "period_end": digest.period_end,
        "subject": digest.subject,
        "items": len(digest.item_ids),
        "triggered_by": triggered_by,
        "created_at": utcnow(),
    }
    try:
        with conn.begin_nested():
            result = conn.execute(insert(digest_drafts).values(**values))
    except IntegrityError:
        return None
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def drafted(conn: Connection, regions: list[str], period_end: datetime) -> set[str]:
    """Which of ``regions`` have a draft cut off at ``period_end`` already."""
    query = select(digest_drafts.c.region).where(
        digest_drafts.c.region.in_(regions), digest_drafts.c.period_end == period_end
    )
    return set(conn.execute(query).scalars())


def drop_before(conn: Connection, region: str, period_end: datetime) -> int:
    """Delete the region's drafts cut off before ``period_end`` (a newer one covers them)."""
    query = delete(digest_drafts).where(
        digest_drafts.c.region == region, digest_drafts.c.period_end < period_end
    )
    return int(conn.execute(query).rowcount or 0)


def drop_up_to(conn: Connection, region: str, period_end: datetime) -> int:
    """Delete the region's drafts a sent digest up to ``period_end`` has covered."""
    query = delete(digest_drafts).where(
        digest_drafts.c.region == region, digest_drafts.c.period_end <= period_end
    )
    return int(conn.execute(query).rowcount or 0)


def get(conn: Connection, draft_id: int) -> Draft:
    row = conn.execute(select(digest_drafts).where(digest_drafts.c.id == draft_id)).first()
    if row is None:
        raise NotFoundError(f"Den Entwurf {draft_id} gibt es nicht (mehr).")
    return _draft(row._mapping)


def waiting(conn: Connection, region: str | None = None) -> list[Draft]:
    """Drafts no sent digest has covered yet, oldest first."""
    sent_until = (
        select(func.max(digests.c.period_end))
        .where(digests.c.region == digest_drafts.c.region, digests.c.kind == "digest")
        .scalar_subquery()
    )
    query = select(digest_drafts).where(
        or_(sent_until.is_(None), digest_drafts.c.period_end > sent_until)
    )
    if region is not None:
        query = query.where(digest_drafts.c.region == region)
    rows = conn.execute(query.order_by(digest_drafts.c.created_at, digest_drafts.c.id))
    return [_draft(row._mapping) for row in rows]


def _draft(row: Any) -> Draft:
    period_end = as_utc(row["period_end"])
    created_at = as_utc(row["created_at"])
    assert period_end is not None and created_at is not None
    return Draft(
        id=row["id"],
        region=row["region"],
        period_start=as_utc(row["period_start"]),
        period_end=period_end,
        subject=row["subject"],
        items=row["items"],
        triggered_by=row["triggered_by"],
        created_at=created_at,
    )
