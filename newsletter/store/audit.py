"""SQL for the audit log: every admin action, who, when, what."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select

from newsletter.store.db import as_utc, utcnow
from newsletter.store.schema import audit_log

CLI_ACTOR = "Kommandozeile"  # the actor of every action taken on the command line


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    detail: dict[str, Any] = field(default_factory=dict)


def record(
    conn: Connection,
    actor: str,
    action: str,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
    *,
    at: datetime | None = None,
) -> None:
    """Append one action (``detail`` must be JSON-ready and hold no secrets)."""
    conn.execute(
        insert(audit_log).values(
            at=at or utcnow(), actor=actor, action=action, target=target, detail=detail or {}
        )
    )


def recent(
    conn: Connection,
    *,
    actor: str | None = None,
    actors: Sequence[str] = (),
    action: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[AuditEntry]:
    """Newest first, optionally only one actor's (or any of ``actors``) or one action's entries."""
    query = select(audit_log).order_by(audit_log.c.at.desc(), audit_log.c.id.desc())
    if actor:
        query = query.where(audit_log.c.actor == actor)
    if actors:
        query = query.where(audit_log.c.actor.in_(actors))
    if action:
        query = query.where(audit_log.c.action == action)
    rows = conn.execute(query.limit(limit).offset(offset))
    return [_entry(row._mapping) for row in rows]


def count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(audit_log)).scalar_one())


def _entry(row: Any) -> AuditEntry:
    at = as_utc(row["at"])
    assert at is not None
    return AuditEntry(
        row["id"], at, row["actor"], row["action"], row["target"], row["detail"] or {}
    )
