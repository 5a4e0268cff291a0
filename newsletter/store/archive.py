"""SQL for the public web archive: sent digests by region and period, nothing personal."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from newsletter.models import ArchiveEntry
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
