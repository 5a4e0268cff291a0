"""Named locks across processes: PostgreSQL advisory locks (a no-op on SQLite).

Used around "is this slot's digest still due? then send it" so that two ``newsletter
serve`` processes on one PostgreSQL take turns; the second then sees the first one's
digest and skips. The unique constraint on digests (region, kind, period_key) remains
the guarantee; the lock only spares the loser a wasted build.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, text

from newsletter.store.db import is_postgres


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``name`` (advisory locks take a bigint)."""
    digest = hashlib.sha256(f"newsletter:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def advisory_lock(engine: Engine, name: str) -> Iterator[None]:
    """Hold the session-level advisory lock ``name`` on its own connection."""
    if not is_postgres(engine):
        yield
        return
    key = lock_key(name)
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            conn.commit()


def transaction_lock(conn: Connection, name: str) -> None:
    """Take the advisory lock ``name`` until ``conn``'s transaction ends (PostgreSQL; on
    SQLite the write transaction already serialises writers)."""
    if is_postgres(conn):
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(name)})
