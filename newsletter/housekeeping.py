"""The nightly housekeeping job: expired subscription requests, old delivery rows, old
rate-limit windows."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from newsletter.context import Context
from newsletter.store import ratelimits, retention, runs
from newsletter.store.db import transaction

log = logging.getLogger("newsletter.housekeeping")
LIMIT_WINDOWS_KEPT = timedelta(days=2)  # the longest web limit window is a day


def run_housekeeping(ctx: Context, now: datetime) -> dict[str, int]:
    """Apply ``subscriptions.pending_retention_days`` and ``schedule.delivery_retention_days``;
    drop rate-limit counters older than two days."""
    pending_before = now - timedelta(days=ctx.config.subscriptions.pending_retention_days)
    delivery_before = now - timedelta(days=ctx.config.schedule.delivery_retention_days)
    with transaction(ctx.engine) as conn:
        run_id = runs.start(conn, "housekeeping")
    try:
        with transaction(ctx.engine) as conn:
            requests, subscribers = retention.expire_pending(conn, pending_before)
            old = retention.delete_old_deliveries(conn, delivery_before)
            windows = ratelimits.purge(conn, now - LIMIT_WINDOWS_KEPT)
            detail = {
                "pending_requests": requests,
                "subscribers": subscribers,
                "deliveries": old,
                "rate_limit_windows": windows,
            }
            runs.finish(conn, run_id, "ok", detail)
    except Exception as exc:
        with transaction(ctx.engine) as conn:
            runs.finish(conn, run_id, "error", {"error": str(exc)})
        raise
    log.info(
        "housekeeping pending_requests=%d subscribers=%d deliveries=%d rate_limit_windows=%d",
        requests,
        subscribers,
        old,
        windows,
    )
    return detail
