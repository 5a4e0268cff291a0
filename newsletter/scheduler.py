"""The job table: collect every few minutes (digests and housekeeping: being built)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from newsletter.context import Context

log = logging.getLogger(__name__)


def build_scheduler(ctx: Context) -> AsyncIOScheduler:
    """All jobs, in the site's timezone, one instance each, missed runs coalesced."""
    scheduler = AsyncIOScheduler(
        timezone=ctx.config.site.timezone,
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": ctx.config.schedule.misfire_grace_seconds,
        },
    )
    scheduler.add_job(
        _collect_job,
        IntervalTrigger(minutes=ctx.config.schedule.collect_minutes),
        args=[ctx],
        id="collect",
        name="Quellen abrufen",
        next_run_time=_now(ctx),
    )
    return scheduler


async def _collect_job(ctx: Context) -> None:
    from newsletter.collect import collect_all

    await asyncio.to_thread(collect_all, ctx)


async def start_background(ctx: Context) -> Callable[[], Awaitable[None]]:
    """Start the scheduler; returns the coroutine function that stops it."""
    scheduler = build_scheduler(ctx)
    if ctx.config.schedule.enabled:
        scheduler.start()

    async def stop() -> None:
        if scheduler.running:
            scheduler.shutdown(wait=False)

    return stop


def _now(ctx: Context):  # type: ignore[no-untyped-def]
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo(ctx.config.site.timezone))
