"""Readiness: is this process able to do its work? (``/readyz``)

Ready when the database answers with our schema, the scheduler runs if this process is
meant to run it, and the last collect is not older than three collect intervals (plus a
margin) once the scheduler has had time for one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from newsletter.context import Context
from newsletter.scheduler import scheduler_started_at, scheduler_state
from newsletter.store import runs
from newsletter.store.db import check_ready, transaction, utcnow
from newsletter.store.sqlitefile import file_problem

MARGIN = timedelta(minutes=5)


@dataclass(frozen=True)
class Readiness:
    ready: bool
    database: bool
    scheduler: str
    last_collect: datetime | None
    problems: tuple[str, ...]

    def to_dict(self, now: datetime) -> dict[str, Any]:
        age = (now - self.last_collect).total_seconds() if self.last_collect else None
        return {
            "status": "ok" if self.ready else "error",
            "database": self.database,
            "scheduler": self.scheduler,
            "last_collect": self.last_collect.isoformat() if self.last_collect else None,
            "last_collect_age_seconds": None if age is None else round(age),
            "problems": list(self.problems),
        }


def decide(
    database: bool,
    scheduler: str,
    started_at: datetime | None,
    last_collect: datetime | None,
    collect_minutes: int,
    now: datetime,
    database_problem: str | None = None,
) -> Readiness:
    """The readiness verdict from the observed facts (pure); ``database_problem`` says
    why the database is unusable when it is more than unreachable."""
    problems = []
    if not database:
        problems.append(database_problem or "Datenbank nicht erreichbar")
    if scheduler == "stopped":
        problems.append("Zeitplan läuft nicht")
    limit = timedelta(minutes=3 * collect_minutes) + MARGIN
    settled = scheduler == "running" and started_at is not None and now - started_at > limit
    if settled and (last_collect is None or now - last_collect > limit):
        problems.append("Letzter Abruf zu lange her")
    return Readiness(not problems, database, scheduler, last_collect, tuple(problems))


def readiness(ctx: Context, now: datetime | None = None) -> Readiness:
    moment = now or utcnow()
    problem = file_problem(ctx.engine)  # deleted or replaced SQLite file
    database = problem is None and check_ready(ctx.engine)
    last = None
    if database:
        with transaction(ctx.engine) as conn:
            last = runs.last_finished(conn, "collect")
    return decide(
        database,
        scheduler_state(ctx),
        scheduler_started_at(ctx),
        last,
        ctx.config.schedule.collect_minutes,
        moment,
        problem,
    )
