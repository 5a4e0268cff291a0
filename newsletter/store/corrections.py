"""SQL for region corrections: every admin region override, with the text the classifier
read, kept as a test case for the classifier (``newsletter regions corrections``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, insert, select

from newsletter.models import Correction
from newsletter.store.db import as_utc, utcnow
from newsletter.store.schema import region_corrections


def add(
    conn: Connection,
    *,
    item_id: str,
    text: str,
    classified: Sequence[str],
    corrected: Sequence[str],
    actor: str,
    at: datetime | None = None,
) -> None:
    """Keep one correction (region keys are stored sorted)."""
    conn.execute(
        insert(region_corrections).values(
            item_id=item_id,
            text=text,
            classified_regions=sorted(classified),
            corrected_regions=sorted(corrected),
            actor=actor,
            at=at or utcnow(),
        )
    )


def all_corrections(conn: Connection) -> list[Correction]:
    """Every correction, oldest first."""
    query = select(region_corrections).order_by(region_corrections.c.at, region_corrections.c.id)
    return [
        Correction(
            id=row.id,
            item_id=row.item_id,
            text=row.text,
            classified=tuple(row.classified_regions),
            corrected=tuple(row.corrected_regions),
            actor=row.actor,
            at=as_utc(row.at) or row.at,
        )
        for row in conn.execute(query)
    ]
