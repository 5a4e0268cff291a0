"""The job table, cron slots and catch-up, decided against a fake clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from newsletter.config import Config
from newsletter.context import Context
from newsletter.crontab import cron_trigger, latest_slot, missed_slot, next_slot
from newsletter.errors import ConfigError
from newsletter.scheduler import build_scheduler, catch_up, job_specs, next_runs, run_digest

BERLIN = ZoneInfo("Europe/Berlin")
WEEKLY = "0 9 * * thu"


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)  # type: ignore[misc]


class FakeJobs:
    """In-memory twin of ServiceJobs: digests are (region, slot) pairs in a list."""

    def __init__(self, cutoffs: dict[str, datetime] | None = None) -> None:
        self.cutoffs: dict[str, datetime] = dict(cutoffs or {})
        self.sent: list[tuple[str, datetime]] = []
        self.collected = 0
        self.locked: list[str] = []

    def collect(self) -> None:
        self.collected += 1

    def last_cutoff(self, region: str) -> datetime | None:
        return self.cutoffs.get(region)

    def send_digest(self, region: str, slot: datetime) -> str:
        self.sent.append((region, slot))
        self.cutoffs[region] = slot
        return "sent"

    def housekeeping(self, now: datetime) -> dict[str, int]:
        return {}

    def region_lock(self, region: str) -> AbstractContextManager[None]:
        @contextmanager
        def lock() -> Iterator[None]:
            self.locked.append(region)
            yield

        return lock()


# --- cron ------------------------------------------------------------------------------


def test_crontab_weekday_numbers_mean_what_crontab_says() -> None:
    thursday_by_number = cron_trigger("0 9 * * 4", BERLIN)
    sunday_by_zero = cron_trigger("0 9 * * 0", BERLIN)
    sunday_by_seven = cron_trigger("0 9 * * 7", BERLIN)
    monday_to_friday = cron_trigger("0 9 * * 1-5", BERLIN)
    start = berlin(2026, 11, 23, 0, 0)  # a Monday
    assert next_slot(thursday_by_number, start) == berlin(2026, 11, 26, 9, 0)
    assert next_slot(sunday_by_zero, start) == berlin(2026, 11, 29, 9, 0)
    assert next_slot(sunday_by_seven, start) == berlin(2026, 11, 29, 9, 0)
    assert next_slot(monday_to_friday, berlin(2026, 11, 27, 10, 0)) == berlin(2026, 11, 30, 9, 0)


@pytest.mark.parametrize("expr", ["0 9 * *", "0 25 * * thu", "x 9 * * thu", "0 9 * * 0 1"])
def test_an_invalid_cron_is_a_german_config_error(expr: str) -> None:
    with pytest.raises(ConfigError, match=r"schedule\.digest_cron"):
        cron_trigger(expr, BERLIN)


def test_latest_slot_is_the_last_fire_time_at_or_before_now() -> None:
    weekly = cron_trigger(WEEKLY, BERLIN)
    assert latest_slot(weekly, berlin(2026, 11, 26, 9, 0)) == berlin(2026, 11, 26, 9, 0)
    assert latest_slot(weekly, berlin(2026, 11, 26, 8, 59)) == berlin(2026, 11, 19, 9, 0)
    assert latest_slot(weekly, berlin(2026, 12, 1, 12, 0)) == berlin(2026, 11, 26, 9, 0)
    every_minute = cron_trigger("* * * * *", BERLIN)
    assert latest_slot(every_minute, berlin(2026, 11, 26, 9, 0, 30)) == berlin(2026, 11, 26, 9, 0)
    monthly = cron_trigger("0 7 1 * *", BERLIN)
    assert latest_slot(monthly, berlin(2026, 11, 26, 9, 0)) == berlin(2026, 11, 1, 7, 0)
    yearly = cron_trigger("0 7 1 1 *", BERLIN)
    assert latest_slot(yearly, berlin(2026, 11, 26, 9, 0)) == berlin(2026, 1, 1, 7, 0)


def test_slots_stay_at_local_nine_across_daylight_saving_time() -> None:
    sunday = cron_trigger("0 9 * * sun", BERLIN)
    before = latest_slot(sunday, berlin(2026, 3, 28, 12, 0))  # CET, +01:00
    after = next_slot(sunday, berlin(2026, 3, 28, 12, 0))  # 29 March: CEST, +02:00
    assert before is not None and after is not None
    assert (before.hour, after.hour) == (9, 9)
    assert after.astimezone(UTC).hour == 7 and before.astimezone(UTC).hour == 8


# --- catch-up --------------------------------------------------------------------------


def test_no_catch_up_without_a_digest_yet() -> None:
    assert missed_slot(WEEKLY, BERLIN, None, berlin(2026, 11, 30, 12, 0)) is None


def test_no_catch_up_when_the_last_digest_covers_the_latest_slot() -> None:
    sent = berlin(2026, 11, 26, 9, 0)
    assert missed_slot(WEEKLY, BERLIN, sent, berlin(2026, 11, 30, 12, 0)) is None
    manual_later = berlin(2026, 11, 27, 15, 0)
    assert missed_slot(WEEKLY, BERLIN, manual_later, berlin(2026, 11, 30, 12, 0)) is None


def test_three_missed_weeks_give_one_slot_the_latest() -> None:
    last = berlin(2026, 11, 5, 9, 0)
    now = berlin(2026, 11, 30, 12, 0)  # missed 12th, 19th and 26th
    assert missed_slot(WEEKLY, BERLIN, last, now) == berlin(2026, 11, 26, 9, 0)


def test_catch_up_sends_once_per_region_and_not_again(config: Config) -> None:
    last = berlin(2026, 11, 5, 9, 0)
    jobs = FakeJobs({r.key: last for r in config.region_list()})
    now = berlin(2026, 11, 30, 12, 0)
    first = catch_up(jobs, config, now)
    assert sorted(first) == sorted(
        (r.key, berlin(2026, 11, 26, 9, 0)) for r in config.region_list()
    )
    assert len(jobs.sent) == len(config.region_list())
    assert catch_up(jobs, config, now + timedelta(minutes=5)) == []
    assert len(jobs.sent) == len(config.region_list())


def test_a_regions_own_cron_wins(make_config: Callable[..., Config]) -> None:
    base = make_config()
    regions = [r.model_dump() for r in base.regions]
    regions[0]["digest_cron"] = "30 7 * * *"  # daily
    config = make_config(regions=regions)
    first = config.regions[0].key
    jobs = FakeJobs({r.key: berlin(2026, 11, 26, 9, 0) for r in config.region_list()})
    done = catch_up(jobs, config, berlin(2026, 11, 28, 8, 0))
    assert done == [(first, berlin(2026, 11, 28, 7, 30))]


# --- the digest job and misfires -------------------------------------------------------


def test_the_digest_job_sends_for_its_slot_once_under_the_region_lock() -> None:
    jobs = FakeJobs()
    fired = berlin(2026, 11, 26, 9, 0, 1)
    assert run_digest(jobs, "dresden", WEEKLY, BERLIN, fired) == berlin(2026, 11, 26, 9, 0)
    assert run_digest(jobs, "dresden", WEEKLY, BERLIN, fired + timedelta(seconds=5)) is None
    assert jobs.sent == [("dresden", berlin(2026, 11, 26, 9, 0))]
    assert jobs.locked == ["dresden", "dresden"]


def test_a_late_run_within_grace_sends_for_the_slot_it_belongs_to() -> None:
    jobs = FakeJobs({"dresden": berlin(2026, 11, 19, 9, 0)})
    late = berlin(2026, 11, 26, 9, 40)  # the process was busy; misfire grace is an hour
    assert run_digest(jobs, "dresden", WEEKLY, BERLIN, late) == berlin(2026, 11, 26, 9, 0)


def test_a_second_process_finding_the_digest_skips_it() -> None:
    jobs = FakeJobs({"dresden": berlin(2026, 11, 26, 9, 0)})  # the other process was first
    assert run_digest(jobs, "dresden", WEEKLY, BERLIN, berlin(2026, 11, 26, 9, 0, 2)) is None
    assert jobs.sent == []


def test_job_table_from_config(config: Config) -> None:
    specs = job_specs(config)
    ids = [s.id for s in specs]
    assert ids == ["collect", *[f"digest:{r.key}" for r in config.region_list()], "housekeeping"]
    runs = {s.id: when for s, when in next_runs(config, berlin(2026, 11, 23, 10, 0))}
    assert runs["digest:dresden"] == berlin(2026, 11, 26, 9, 0)
    assert runs["housekeeping"] == berlin(2026, 11, 24, 3, 30)
    assert runs["collect"] == berlin(2026, 11, 23, 10, 15)


async def test_scheduler_coalesces_runs_one_instance_with_misfire_grace(ctx: Context) -> None:
    scheduler = build_scheduler(ctx, FakeJobs())
    scheduler.start(paused=True)
    jobs = scheduler.get_jobs()
    scheduler.shutdown(wait=False)
    assert {j.id for j in jobs} == {s.id for s in job_specs(ctx.config)}
    for job in jobs:
        assert job.coalesce is True
        assert job.max_instances == 1
        assert job.misfire_grace_time == ctx.config.schedule.misfire_grace_seconds
    assert str(scheduler.timezone) == "Europe/Berlin"


# --- the real jobs on a real database ---------------------------------------------------


def _backdate(ctx: Context, item_id: str, when: datetime) -> None:
    from sqlalchemy import update

    from newsletter.store.schema import items

    with ctx.engine.begin() as conn:
        conn.execute(update(items).where(items.c.id == item_id).values(collected_at=when))


def test_service_jobs_catch_up_once_with_the_slot_as_period(db_ctx: Context) -> None:
    from newsletter.curation import add_manual_item
    from newsletter.mail.sending import send_region
    from newsletter.mail.transports import MemoryTransport
    from newsletter.scheduler import ServiceJobs
    from newsletter.store import digests as digest_store
    from newsletter.store.db import transaction
    from tests.delivery_helpers import add_subscriber

    ctx = db_ctx
    add_subscriber(ctx, "partner@example.org", {"zwickau": "confirmed"})
    thursday = berlin(2026, 11, 19, 9, 0)
    old = add_manual_item(ctx, title="Alte Meldung aus Plauen", text="Plauen")
    _backdate(ctx, old.id, thursday - timedelta(days=2))
    first = send_region(ctx, "zwickau", now=thursday.astimezone(UTC), transport=MemoryTransport())
    assert first.status == "sent"
    new = add_manual_item(ctx, title="Neue Meldung aus Zwickau", text="Zwickau")
    _backdate(ctx, new.id, thursday + timedelta(days=3))
    jobs = ServiceJobs(ctx)
    now = berlin(2026, 12, 8, 12, 0)  # 26 Nov and 3 Dec missed
    done = catch_up(jobs, ctx.config, now)
    assert ("zwickau", berlin(2026, 12, 3, 9, 0)) in done
    assert catch_up(jobs, ctx.config, now + timedelta(minutes=1)) == []
    with transaction(ctx.engine) as conn:
        history = [h for h in digest_store.history(conn) if h.region == "zwickau"]
        latest = digest_store.latest_for_region(conn, "zwickau")
    assert len(history) == 2
    assert latest is not None and latest.period_end == berlin(2026, 12, 3, 9, 0)
    assert latest.item_ids == (new.id,)
    assert history[0].sent == 1  # drained through the configured transport (Maildir)


def test_housekeeping_drops_expired_requests_and_old_deliveries(ctx: Context) -> None:
    from sqlalchemy import func, insert, select

    from newsletter.housekeeping import run_housekeeping
    from newsletter.store.db import utcnow
    from newsletter.store.schema import deliveries, subscribers, subscriptions
    from tests.delivery_helpers import add_subscriber

    now = utcnow()
    old = now - timedelta(days=400)
    stale = add_subscriber(ctx, "stale@example.org", {"dresden": "pending"})
    mixed = add_subscriber(ctx, "mixed@example.org", {"dresden": "pending", "zwickau": "confirmed"})
    fresh = add_subscriber(ctx, "fresh@example.org", {"dresden": "pending"})
    with ctx.engine.begin() as conn:
        for table, column in ((subscriptions, "requested_at"), (subscribers, "created_at")):
            key = table.c.subscriber_id if table is subscriptions else table.c.id
            conn.execute(table.update().where(key.in_([stale, mixed])).values({column: old}))
        rows = [
            {"address": f"{s}@example.org", "status": s, "created_at": when, "kind": "confirm"}
            for s, when in (("sent", old), ("failed", old), ("queued", old), ("sent", now))
        ]
        conn.execute(insert(deliveries), rows)
    result = run_housekeeping(ctx, now)
    assert result == {
        "pending_requests": 2,
        "subscribers": 1,
        "deliveries": 2,
        "rate_limit_windows": 0,
    }
    with ctx.engine.connect() as conn:
        emails = set(conn.execute(select(subscribers.c.email)).scalars())
        left = conn.execute(select(func.count()).select_from(deliveries)).scalar_one()
        statuses = dict(
            conn.execute(select(subscriptions.c.subscriber_id, subscriptions.c.status)).all()
        )
    assert emails == {"mixed@example.org", "fresh@example.org"}
    assert statuses == {mixed: "confirmed", fresh: "pending"}
    assert left == 2  # the old queued one stays: it is not finished


async def test_background_runs_scheduler_and_one_worker_and_stops(ctx: Context) -> None:
    import asyncio
    import mailbox

    from newsletter.mail.outbox import enqueue_message
    from newsletter.scheduler import scheduler_state, start_background
    from newsletter.store.db import transaction

    with transaction(ctx.engine) as conn:
        enqueue_message(
            conn,
            address="partner@example.org",
            subject="Test",
            text="Hallo",
            html="<p>Hallo</p>",
            kind="confirm",
        )
    box = mailbox.Maildir(ctx.config.path(ctx.config.mail.maildir), create=True)
    stop = await start_background(ctx)
    try:
        assert scheduler_state(ctx) == "running"
        for _ in range(100):  # the worker drains the queue
            if len(box):
                break
            await asyncio.sleep(0.05)
        assert len(box) == 1
    finally:
        await stop()
    assert scheduler_state(ctx) == "disabled"
