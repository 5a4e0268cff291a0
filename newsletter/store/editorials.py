"""SQL for the editor's word: the current one per scope (a region key or ``*``), and the
one each stored digest used (for the web archive)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from newsletter.models import Editorial
from newsletter.store.db import as_utc
from newsletter.store.schema import digest_editorials, digests, editorials


def current(conn: Connection, scopes: list[str]) -> list[Editorial]:
    """The stored editorials of these scopes (missing scopes are simply absent)."""
    rows = conn.execute(select(editorials).where(editorials.c.scope.in_(scopes)))
    return [_editorial(row._mapping) for row in rows]


def save(conn: Connection, editorial: Editorial) -> None:
    """Replace the editorial of its scope."""
    conn.execute(delete(editorials).where(editorials.c.scope == editorial.scope))
    conn.execute(
        insert(editorials).values(
            scope=editorial.scope,
            intro_md=editorial.intro_md,
            pinned=list(editorial.pinned),
            excluded=list(editorial.excluded),
            updated_by=editorial.updated_by,
            updated_at=editorial.updated_at,
        )
    )


def last_built(conn: Connection, region: str) -> datetime | None:
    """When the region's latest digest was stored: an editorial written before it is used."""
    query = select(func.max(digests.c.created_at)).where(
        digests.c.region == region, digests.c.kind == "digest"
    )
    return as_utc(conn.execute(query).scalar())


def keep_for_digest(conn: Connection, digest_id: int, intro_html: str, pinned: list[str]) -> None:
    """Remember the word a stored digest went out with."""
    conn.execute(
        insert(digest_editorials).values(digest_id=digest_id, intro_html=intro_html, pinned=pinned)
    )


def of_digest(conn: Connection, digest_id: int) -> tuple[str, tuple[str, ...]]:
    """(introduction HTML, pinned item ids) of a stored digest; empty when it had none."""
    query = select(digest_editorials).where(digest_editorials.c.digest_id == digest_id)
    row = conn.execute(query).first()
    if row is None:
        return "", ()
    return str(row.intro_html), tuple(row.pinned or ())


def _editorial(row: Any) -> Editorial:
    return Editorial(
        scope=row["scope"],
        intro_md=row["intro_md"],
        pinned=tuple(row["pinned"] or ()),
        excluded=tuple(row["excluded"] or ()),
        updated_by=row["updated_by"],
        updated_at=as_utc(row["updated_at"]),
    )
