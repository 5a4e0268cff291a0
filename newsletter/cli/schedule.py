"""``newsletter schedule``: the jobs and their next run times in German local time."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from rich.table import Table

from newsletter.cli.base import app, console, get_config


@app.command()
def schedule() -> None:
    """Die geplanten Aufgaben mit ihrem nächsten Lauf (Ortszeit)."""
    from newsletter.localtime import german_long
    from newsletter.scheduler import next_runs
    from newsletter.store.db import utcnow

    config = get_config()
    tz = ZoneInfo(config.site.timezone)
    table = Table("Aufgabe", "Kennung", "Zeitplan", "Nächster Lauf")
    for spec, when in next_runs(config, utcnow()):
        interval = getattr(spec.trigger, "interval", None)
        every = f"alle {int(interval.total_seconds() // 60) if interval else 0} Min."
        table.add_row(spec.name, spec.id, spec.cron or every, german_long(when, tz))
    console.print(table)
    console.print(
        f"Zeitzone: {config.site.timezone}; Zeitplan: Minute Stunde Tag Monat Wochentag.",
        highlight=False,
    )
    if not config.schedule.enabled:
        console.print("Der Zeitplan ist ausgeschaltet (schedule.enabled = false).", highlight=False)
