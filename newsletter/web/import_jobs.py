"""Roster imports started from the admin pages run on a thread, never on the event loop.

A job holds its file, its progress (lines done of lines in the file) and, when finished,
the line report or the error. The page that started it polls it (a page that refreshes
itself, no JavaScript). Jobs live in this process; finished ones are forgotten after an
hour.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field

from newsletter.context import Context
from newsletter.store import audit
from newsletter.store.db import transaction
from newsletter.subscriptions import roster

KEEP_SECONDS = 3600.0
OUTCOMES = ("added", "updated", "unchanged", "rejected")


@dataclass
class ImportJob:
    admin: str
    filename: str
    data: bytes
    reason: str | None
    dry_run: bool
    id: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    done: int = 0
    total: int = 0
    report: list[roster.LineReport] | None = None
    error: Exception | None = None
    finished: threading.Event = field(default_factory=threading.Event)
    ended_at: float | None = None

    def counts(self) -> dict[str, int]:
        report = self.report or []
        return {o: sum(r.outcome == o for r in report) for o in OUTCOMES}

    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0


_jobs: dict[str, ImportJob] = {}
_lock = threading.Lock()


def start(ctx: Context, job: ImportJob) -> ImportJob:
    """Register ``job`` and run it on its own thread."""
    with _lock:
        now = time.monotonic()
        for key in [k for k, j in _jobs.items() if j.ended_at and now - j.ended_at > KEEP_SECONDS]:
            del _jobs[key]
        _jobs[job.id] = job
    threading.Thread(target=_run, args=(ctx, job), name=f"import-{job.id[:6]}", daemon=True).start()
    return job


def get(job_id: str, admin: str) -> ImportJob | None:
    """The job, if it exists and was started by ``admin``."""
    job = _jobs.get(job_id)
    return job if job is not None and job.admin == admin else None


def _run(ctx: Context, job: ImportJob) -> None:
    def progress(done: int, total: int) -> None:
        job.done, job.total = done, total

    try:
        job.report = roster.import_roster(
            ctx,
            job.data,
            filename=job.filename,
            actor=job.admin,
            confirmed_reason=job.reason,
            dry_run=job.dry_run,
            progress=progress,
        )
        if not job.dry_run:
            with transaction(ctx.engine) as conn:
                audit.record(conn, job.admin, "subscribers.import", job.filename, job.counts())
    except Exception as exc:  # shown to the admin who started it (German for our errors)
        job.error = exc
    finally:
        job.ended_at = time.monotonic()
        job.finished.set()
