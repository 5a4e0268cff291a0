"""SQL for job runs (collect, digest, housekeeping): what ran when, and how it ended."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

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
