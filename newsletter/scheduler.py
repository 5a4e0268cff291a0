"""The job table: collect, one digest per region, housekeeping; catch-up on start.

    collect        every ``schedule.collect_minutes``
    digest:<key>   per region on ``regions[].digest_cron`` or ``schedule.digest_cron``
    housekeeping   on ``schedule.housekeeping_cron``
    bounces        every ``bounces.interval_minutes`` (only with a ``bounces.mailbox``)

All jobs run in ``site.timezone`` with ``coalesce=True``, ``max_instances=1`` and
``schedule.misfire_grace_seconds``. A digest job sends the digest of the latest slot
(:func:`newsletter.crontab.latest_slot`) unless the database already holds a digest cut
off at or after that slot; the check and the send run under an advisory lock per region
(PostgreSQL), and the digest's period is the slot itself, so two processes build the same
(region, period) and the unique constraint on digests admits one. On start,
:func:`catch_up` sends each region's missed slot once (see :func:`newsletter.crontab.missed_slot`).
With ``schedule.approval = "manual"`` the slot job drafts instead of sending, likewise for
its whole slot group (:func:`newsletter.mail.approval.draft_slot`).

The side effects sit behind :class:`Jobs`; :class:`ServiceJobs` is the real one.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from newsletter.config import Config
from newsletter.context import Context
from newsletter.crontab import cron_trigger, latest_slot, missed_slot
from newsletter.models import ApprovalMode, DraftStatus, SendStatus
from newsletter.store import runs
from newsletter.store.db import transaction, utcnow

log = logging.getLogger("newsletter.scheduler")


@dataclass(frozen=True)
class JobSpec:
    """One scheduled job: id, German name, trigger; ``region`` and ``cron`` for digests."""

    id: str
    name: str
    trigger: BaseTrigger
    region: str | None = None
    cron: str | None = None


def region_cron(config: Config, region_key: str) -> str:
    """A region's own digest cron, else the default."""
    region = config.region(region_key)
    own = region.digest_cron if region else None
    return own or config.schedule.digest_cron


def slot_group(config: Config, region_key: str) -> tuple[str, ...]:
    """The regions whose digest falls on the same slot as ``region_key``'s (the same
    cron), in config order: the slot's job sends them together, so a subscriber of
    several of them gets one combined mail."""
    cron = region_cron(config, region_key)
    return tuple(r.key for r in config.region_list() if region_cron(config, r.key) == cron)


def job_specs(config: Config) -> list[JobSpec]:
    """The job table from the config (pure; invalid crons raise ConfigError)."""
    tz = ZoneInfo(config.site.timezone)
    specs = [
        JobSpec(
            "collect",
            "Quellen abrufen",
            IntervalTrigger(minutes=config.schedule.collect_minutes, timezone=tz),
        )
    ]
    for region in config.region_list():
        cron = region_cron(config, region.key)
        key = f"regions[{region.key}].digest_cron" if region.digest_cron else "schedule.digest_cron"
        trigger = cron_trigger(cron, tz, key=key)
        specs.append(
            JobSpec(f"digest:{region.key}", f"Newsletter {region.name}", trigger, region.key, cron)
        )
    housekeeping = cron_trigger(
        config.schedule.housekeeping_cron, tz, key="schedule.housekeeping_cron"
    )
    specs.append(
        JobSpec("housekeeping", "Aufräumen", housekeeping, cron=config.schedule.housekeeping_cron)
    )
    if config.bounces.mailbox != "none":
        every = IntervalTrigger(minutes=config.bounces.interval_minutes, timezone=tz)
        specs.append(JobSpec("bounces", "Rückläufer verarbeiten", every))
    return specs


def next_runs(config: Config, now: datetime) -> list[tuple[JobSpec, datetime | None]]:
    """Each job with its next run time after ``now`` (collect: now + interval)."""
    result: list[tuple[JobSpec, datetime | None]] = []
    for spec in job_specs(config):
        if isinstance(spec.trigger, IntervalTrigger):
            result.append((spec, now + spec.trigger.interval))
        else:
            result.append((spec, spec.trigger.get_next_fire_time(None, now)))
    return result


# --- side effects ---------------------------------------------------------------------


class Jobs(Protocol):
    """What the jobs do to the world; an in-memory twin lives in the tests."""

    def collect(self) -> None: ...

    def last_cutoff(self, region: str) -> datetime | None: ...

    def send_digest(self, region: str, slot: datetime) -> str: ...

    def housekeeping(self, now: datetime) -> dict[str, int]: ...

    def region_lock(self, region: str) -> AbstractContextManager[None]: ...

    def bounces(self) -> None: ...


class ServiceJobs:
    """The real jobs: collect, the store's digest history, ``sending.send_region``."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def collect(self) -> None:
        from newsletter.collect import collect_all

        collect_all(self.ctx)

    def last_cutoff(self, region: str) -> datetime | None:
        from newsletter.store import digests

        with transaction(self.ctx.engine) as conn:
            return digests.last_cutoff(conn, region)

    def send_digest(self, region: str, slot: datetime) -> str:
        """Send the slot's digest: its period ends at the slot, so its key is the slot's."""
        from newsletter.mail import sending

        with transaction(self.ctx.engine) as conn:
            run_id = runs.start(conn, f"digest:{region}")
        status = "error"
        try:
            # UTC: SQLite stores an aware datetime's wall time without its offset
            cutoff = slot.astimezone(UTC)
            group = slot_group(self.ctx.config, region)  # one slot job drafts or sends them all
            if self.ctx.config.schedule.approval == ApprovalMode.MANUAL:  # an admin sends
                from newsletter.mail.approval import draft_slot

                drafted = draft_slot(self.ctx, group, cutoff)
                status = drafted.get(region, DraftStatus.NOTHING_NEW)
            else:
                results, _ = sending.send_slot(self.ctx, group, now=cutoff, triggered_by="schedule")
                mine = [r.status for r in results if r.region == region]
                status = mine[0] if mine else SendStatus.SENT
        finally:
            with transaction(self.ctx.engine) as conn:
                runs.finish(conn, run_id, status, {"slot": slot.isoformat()})
        return status

    def housekeeping(self, now: datetime) -> dict[str, int]:
        from newsletter.housekeeping import run_housekeeping

        return run_housekeeping(self.ctx, now)

    def region_lock(self, region: str) -> AbstractContextManager[None]:
        """The locks of every region of the slot (one slot job sends them all)."""
        return group_lock(self.ctx, slot_group(self.ctx.config, region))

    def bounces(self) -> None:
        from newsletter.mail.bounces import run_bounce_job

        run_bounce_job(self.ctx)


@contextmanager
def group_lock(ctx: Context, group: tuple[str, ...]) -> Iterator[None]:
    """A thread lock per slot group in this process (advisory locks are no-ops on
    SQLite), then each region's advisory lock in a fixed order (other processes, and a
    manual send of one region, which takes that region's lock)."""
    from newsletter.store.locks import advisory_lock

    with _GROUP_LOCKS_GUARD:
        thread_lock = _GROUP_LOCKS.setdefault(group, threading.Lock())
    with thread_lock, ExitStack() as stack:
        for key in sorted(group):
            stack.enter_context(advisory_lock(ctx.engine, f"digest:{key}"))
        yield


_GROUP_LOCKS: dict[tuple[str, ...], threading.Lock] = {}  # per slot group, this process
_GROUP_LOCKS_GUARD = threading.Lock()


def run_digest(jobs: Jobs, region: str, cron: str, tz: ZoneInfo, now: datetime) -> datetime | None:
    """Send the digest of the latest slot unless one is cut off at or after it.

    Returns the slot sent for, or None when there was nothing to do.
    """
    slot = latest_slot(cron_trigger(cron, tz), now)
    if slot is None:
        return None
    with jobs.region_lock(region):
        last = jobs.last_cutoff(region)
        if last is not None and last >= slot:
            log.info("digest region=%s slot=%s status=already_sent", region, slot.isoformat())
            return None
        status = jobs.send_digest(region, slot)
    log.info("digest region=%s slot=%s status=%s", region, slot.isoformat(), status)
    return slot


def catch_up(jobs: Jobs, config: Config, now: datetime) -> list[tuple[str, datetime]]:
    """On start: send each region's missed slot once (from the database's cut-offs)."""
    tz = ZoneInfo(config.site.timezone)
    done: list[tuple[str, datetime]] = []
    for region in config.region_list():
        cron = region_cron(config, region.key)
        slot = missed_slot(cron, tz, jobs.last_cutoff(region.key), now)
        if slot is None:
            log.info("digest region=%s status=up_to_date (no missed slot)", region.key)
            continue
        log.info("digest region=%s missed slot=%s: catching up once", region.key, slot.isoformat())
        if run_digest(jobs, region.key, cron, tz, now) is not None:
            done.append((region.key, slot))
    return done


# --- the running scheduler ------------------------------------------------------------


def scheduler_state(ctx: Context) -> str:
    """``running``, ``stopped`` (expected but not running) or ``disabled``."""
    return ctx.background.state()[0]


def scheduler_started_at(ctx: Context) -> datetime | None:
    return ctx.background.state()[1]


def build_scheduler(ctx: Context, jobs: Jobs | None = None) -> AsyncIOScheduler:
    """All jobs, in the site's timezone, one instance each, missed runs coalesced."""
    real = jobs or ServiceJobs(ctx)
    config = ctx.config
    scheduler = AsyncIOScheduler(
        timezone=ZoneInfo(config.site.timezone),
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": config.schedule.misfire_grace_seconds,
        },
    )
    for spec in job_specs(config):
        func, args = _job_call(spec, real, config)
        extra: dict[str, Any] = {"next_run_time": utcnow()} if spec.id == "collect" else {}
        scheduler.add_job(func, spec.trigger, args=args, id=spec.id, name=spec.name, **extra)
    return scheduler


def _job_call(
    spec: JobSpec, jobs: Jobs, config: Config
) -> tuple[Callable[..., Awaitable[None]], list[Any]]:
    tz = ZoneInfo(config.site.timezone)
    if spec.id == "collect":
        return _in_thread, ["collect", jobs.collect]
    if spec.id == "bounces":
        return _in_thread, ["bounces", jobs.bounces]
    if spec.region is not None and spec.cron is not None:
        region, cron = spec.region, spec.cron
        return _in_thread, [spec.id, lambda: run_digest(jobs, region, cron, tz, utcnow())]
    return _in_thread, ["housekeeping", lambda: jobs.housekeeping(utcnow())]


async def _in_thread(name: str, func: Callable[[], object]) -> None:
    """Run a blocking job in a thread; log and swallow its error (the next run retries)."""
    try:
        await asyncio.to_thread(func)
    except Exception:
        log.exception("job %s failed", name)


async def start_background(ctx: Context) -> Callable[[], Awaitable[None]]:
    """Start scheduler (with catch-up) and one send worker; returns the stop coroutine."""
    logging.getLogger("apscheduler.scheduler").setLevel(logging.WARNING)  # no per-job chatter
    scheduler = build_scheduler(ctx)
    enabled = ctx.config.schedule.enabled
    ctx.background.start(scheduler, expected=enabled, at=utcnow())  # refuses a second one
    tasks: set[asyncio.Task[Any]] = set()  # held here so the loop does not drop them
    if enabled:
        scheduler.start()
        tasks.add(asyncio.get_running_loop().create_task(_catch_up_task(ctx)))
    worker = _start_worker(ctx)

    async def stop() -> None:
        if scheduler.running:
            scheduler.shutdown(wait=False)
        await _stop_worker(worker)
        ctx.background.stop()

    return stop


async def _catch_up_task(ctx: Context) -> None:
    try:
        await asyncio.to_thread(catch_up, ServiceJobs(ctx), ctx.config, utcnow())
    except Exception:
        log.exception("digest catch-up failed")


@dataclass
class _Worker:
    stop_event: asyncio.Event
    task: asyncio.Task[Any]


def _start_worker(ctx: Context) -> _Worker:
    from newsletter.mail.outbox import run_worker

    stop_event = asyncio.Event()
    task = asyncio.get_running_loop().create_task(run_worker(ctx, stop_event))
    return _Worker(stop_event, task)


async def _stop_worker(worker: _Worker) -> None:
    """Ask the worker to stop: it finishes the current message and releases its leases."""
    worker.stop_event.set()
    try:
        await worker.task
    except Exception:
        log.exception("send worker ended with an error")
