"""Crontab expressions and schedule slots: pure functions over a clock value.

A *slot* is a time a cron expression fires. The scheduler sends a region's digest for
the latest slot that has passed; on start it asks :func:`missed_slot` whether that slot
was missed while the service was down (decided from the last digest's cut-off in the
database, never from scheduler memory), so a long outage gives one catch-up, not one
per missed slot.

Weekday numbers follow crontab (0 and 7 = Sunday), not APScheduler 3's historical
0 = Monday: ``cron_trigger`` rewrites numbers to names before APScheduler sees them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from newsletter.errors import ConfigError

_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Windows to look back for the latest slot: covers every-minute up to yearly schedules.
_LOOKBACK = (
    timedelta(hours=1),
    timedelta(days=1),
    timedelta(days=8),
    timedelta(days=32),
    timedelta(days=367),
    timedelta(days=366 * 4 + 2),
)


def cron_trigger(expr: str, tz: ZoneInfo, *, key: str = "schedule.digest_cron") -> CronTrigger:
    """A 5-field crontab (minute hour day month weekday) as an APScheduler trigger."""
    fields = expr.split()
    if len(fields) != 5:
        raise ConfigError(
            f"»{key}« = »{expr}«: ein Zeitplan braucht 5 Felder "
            "(Minute Stunde Tag Monat Wochentag), z. B. »0 9 * * thu«",
            key=key,
        )
    minute, hour, day, month, weekday = fields
    try:
        return CronTrigger(
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=_weekday_names(weekday),
            timezone=tz,
        )
    except ValueError as exc:
        raise ConfigError(f"»{key}« = »{expr}« ist kein gültiger Zeitplan: {exc}", key=key) from exc


def _weekday_names(field: str) -> str:
    """Crontab weekday numbers (0/7 = Sunday) to names; names and ``*`` stay."""
    return ",".join(_weekday_part(part) for part in field.split(","))


def _weekday_part(part: str) -> str:
    base, slash, step = part.partition("/")
    names = "-".join(
        _DAY_NAMES[int(p)] if p.isdigit() and int(p) <= 7 else p for p in base.split("-")
    )
    return names + slash + step


def next_slot(trigger: CronTrigger, after: datetime) -> datetime | None:
    """The first slot strictly after ``after``."""
    fire: datetime | None = trigger.get_next_fire_time(None, after + timedelta(seconds=1))
    return fire


def latest_slot(trigger: CronTrigger, now: datetime) -> datetime | None:
    """The most recent slot at or before ``now`` (None if none within four years)."""
    for window in _LOOKBACK:
        fire: datetime | None = trigger.get_next_fire_time(None, now - window)
        if fire is None or fire > now:
            continue
        while (following := next_slot(trigger, fire)) is not None and following <= now:
            fire = following
        return fire
    return None


def missed_slot(
    cron: str, tz: ZoneInfo, last_cutoff: datetime | None, now: datetime
) -> datetime | None:
    """The slot to catch up on at start, or None.

    A slot was missed when the latest slot at or before ``now`` lies after the last
    digest's cut-off. Many missed slots give one answer: the latest. Without any digest
    yet there is nothing to catch up on (a fresh install waits for its first slot).
    """
    if last_cutoff is None:
        return None
    slot = latest_slot(cron_trigger(cron, tz), now)
    if slot is None or slot <= last_cutoff:
        return None
    return slot
