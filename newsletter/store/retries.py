"""SQL for an admin's »retry failed«: put a digest's failed deliveries back in the queue.

(Kept apart from :mod:`newsletter.store.outbox`, which the workers use; it belongs with
it and can move there.)
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, update

from newsletter.store.schema import deliveries


def requeue_failed(conn: Connection, digest_id: int, now: datetime) -> int:
    """Failed deliveries of ``digest_id`` become queued again with fresh attempts."""
    query = (
        update(deliveries)
        .where(deliveries.c.digest_id == digest_id, deliveries.c.status == "failed")
        .values(status="queued", attempts=0, next_attempt_at=now, claimed_by=None, lease_until=None)
    )
    return int(conn.execute(query).rowcount or 0)
