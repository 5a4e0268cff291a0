"""SQL for job runs (collect, digest, housekeeping): what ran when, and how it ended."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from newsletter.models import RunStatus
from newsletter.store.db import as_utc, utcnow
from newsletter.store.schema import job_runs


def start(conn: Connection, job: str) -> int:
    result = conn.execute(
        insert(job_runs).values(job=job, started_at=utcnow(), status=RunStatus.RUNNING)
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def finish(conn: Connection, run_id: int, status: str, detail: dict[str, Any]) -> None:
    conn.execute(
        update(job_runs)
        .where(job_runs.c.id == run_id)
        .values(finished_at=utcnow(), status=status, detail=detail)
    )


def last_finished(conn: Connection, job: str) -> datetime | None:
    """When the job last finished (any status), or None."""
    query = (
        select(job_runs.c.finished_at)
        .where(job_runs.c.job == job, job_runs.c.finished_at.is_not(None))
        .order_by(job_runs.c.finished_at.desc())
        .limit(1)
    )
    return as_utc(conn.execute(query).scalar())


def last_succeeded(conn: Connection, job: str) -> datetime | None:
    """When the job last finished without error, or None (a run ``error`` does not count)."""
    query = (
        select(func.max(job_runs.c.finished_at))
        .where(job_runs.c.job == job, job_runs.c.finished_at.is_not(None))
        .where(job_runs.c.status.not_in((RunStatus.ERROR, RunStatus.RUNNING)))
    )
    return as_utc(conn.execute(query).scalar())


def last_succeeded_by_prefix(conn: Connection, prefix: str) -> dict[str, datetime]:
    """``job`` (without ``prefix``) -> when it last finished without error, for every job
    whose name starts with ``prefix`` (e.g. ``digest:`` gives one entry per region)."""
    query = (
        select(job_runs.c.job, func.max(job_runs.c.finished_at))
        .where(job_runs.c.job.startswith(prefix, autoescape=True))
        .where(job_runs.c.finished_at.is_not(None))
        .where(job_runs.c.status.not_in((RunStatus.ERROR, RunStatus.RUNNING)))
        .group_by(job_runs.c.job)
    )
    found: dict[str, datetime] = {}
    for job, finished in conn.execute(query):
        moment = as_utc(finished)
        if moment is not None:
            found[str(job).removeprefix(prefix)] = moment
    return found
