"""SQL for the web limits: one counter per (key, window start), shared by all processes.

:func:`hit` is one atomic upsert (``INSERT … ON CONFLICT DO UPDATE … RETURNING``, the same
statement on SQLite ≥ 3.35 and PostgreSQL), so two web processes counting the same key at
the same moment both see the sum. Which keys and limits apply is decided elsewhere
(:mod:`newsletter.web.limits`); the store only counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, delete
from sqlalchemy.dialects import postgresql, sqlite

from newsletter.store.db import is_postgres
from newsletter.store.schema import rate_limits


def hit(conn: Connection, key: str, window_start: datetime) -> int:
    """Count one request for ``key`` in the window starting at ``window_start``; the new count."""
    dialect = postgresql if is_postgres(conn) else sqlite
    statement = dialect.insert(rate_limits).values(key=key, window_start=window_start, count=1)
    upsert = statement.on_conflict_do_update(
        index_elements=[rate_limits.c.key, rate_limits.c.window_start],
        set_={"count": rate_limits.c.count + 1},
    ).returning(rate_limits.c.count)
    return int(conn.execute(upsert).scalar_one())


def hit_all(conn: Connection, windows: Sequence[tuple[str, datetime]]) -> list[int]:
    """:func:`hit` for each (key, window start), in one transaction; the counts in order."""
    return [hit(conn, key, start) for key, start in windows]


def purge(conn: Connection, before: datetime) -> int:
    """Delete the counters of windows that started before ``before``."""
    result = conn.execute(delete(rate_limits).where(rate_limits.c.window_start < before))
    return int(result.rowcount or 0)
