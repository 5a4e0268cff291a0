"""``newsletter schedule``: the jobs and their next run times in German local time."""

from __future__ import annotations

from newsletter.cli import output
from newsletter.cli.base import app, console, get_config


@app.command()
def schedule() -> None:
    """Die geplanten Aufgaben mit ihrem nächsten Lauf (Ortszeit)."""
    from newsletter.localtime import german_medium
    from newsletter.scheduler import next_runs
    from newsletter.store.db import utcnow

    config = get_config()
    tz = output.zone(config)
    table = output.table(
        "Nächster Lauf", "Zeitplan", "Kennung", "Aufgabe", long=("Kennung", "Aufgabe")
    )
    for spec, when in next_runs(config, utcnow()):
        interval = getattr(spec.trigger, "interval", None)
        every = f"alle {int(interval.total_seconds() // 60) if interval else 0} Min."
        table.add_row(german_medium(when, tz), spec.cron or every, spec.id, spec.name)
    output.show(console, table)
    console.print(
        f"{output.time_note(tz)} Zeitplan: Minute Stunde Tag Monat Wochentag.",
        highlight=False,
    )
    if not config.schedule.enabled:
        console.print("Der Zeitplan ist ausgeschaltet (schedule.enabled = false).", highlight=False)
