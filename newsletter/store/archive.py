"""SQL for the public web archive: sent digests by region and period, nothing personal."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from newsletter.models import ArchiveEntry
from newsletter.store import items as item_store
from newsletter.store.db import as_utc
from newsletter.store.schema import digests

_COLUMNS = (
    digests.c.id,
    digests.c.region,
    digests.c.period_start,
    digests.c.period_end,
    digests.c.subject,
    digests.c.item_ids,
)


def of_region(conn: Connection, region: str, limit: int = 200) -> list[ArchiveEntry]:
    """The region's sent digests, newest first."""
    query = (
        select(*_COLUMNS)
        .where(digests.c.region == region, digests.c.kind == "digest")
        .order_by(digests.c.period_end.desc())
        .limit(limit)
    )
    return [_entry(row._mapping) for row in conn.execute(query)]


def by_period(conn: Connection, region: str, period_key: str) -> ArchiveEntry | None:
    """The region's sent digest of that period (its ``period_key``), if any."""
    query = select(*_COLUMNS).where(
        digests.c.region == region,
        digests.c.kind == "digest",
        digests.c.period_key == period_key,
    )
    row = conn.execute(query).first()
    return None if row is None else _entry(row._mapping)


def _entry(row: Any) -> ArchiveEntry:
    period_end = as_utc(row["period_end"])
    assert period_end is not None
    return ArchiveEntry(
        id=row["id"],
        region=row["region"],
        period_start=as_utc(row["period_start"]),
        period_end=period_end,
        subject=row["subject"],
        item_ids=tuple(row["item_ids"] or ()),
    )


def public_version(conn: Connection) -> tuple[datetime | None, int]:
    """What the public pages show moves this: (newest item change or digest, items +
    digests). Every item write sets ``updated_at`` or changes the count; every digest
    adds a row and its ``created_at`` (its archive page and editorial word are written
    with it, in the same transaction), so one cheap pair covers the item pages and the
    web archive alike."""
    moment, count_ = item_store.version(conn)
    newest = select(func.max(digests.c.created_at)).scalar_subquery()
    total = select(func.count()).select_from(digests).scalar_subquery()
    digest_moment, digest_count = conn.execute(select(newest, total)).one()
    digest_moment = as_utc(digest_moment)
    latest = max((m for m in (moment, digest_moment) if m is not None), default=None)
    return latest, count_ + int(digest_count)
