"""Roster imports started from the admin pages run on a thread, never on the event loop.

A job holds its file, its progress (lines done of lines in the file) and, when finished,
the line report or the error. The page that started it polls it (a page that refreshes
itself, no JavaScript). Jobs live in this app's :class:`ImportJobs` (on
:class:`newsletter.web.state.WebState`, guarded by a lock: requests run on several
threads); finished ones are forgotten after an hour.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from newsletter.context import Context
from newsletter.models import LinesDone
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


class ImportJobs:
    """The imports of one app, by id; a finished one is kept for ``keep`` seconds."""

    def __init__(
        self, keep: float = KEEP_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._jobs: dict[str, ImportJob] = {}
        self._lock = threading.Lock()
        self._keep = keep
        self._clock = clock

    def start(self, ctx: Context, job: ImportJob) -> ImportJob:
        """Register ``job`` and run it on its own thread."""
        self.add(job)
        name = f"import-{job.id[:6]}"
        threading.Thread(target=_run, args=(ctx, job, self._clock), name=name, daemon=True).start()
        return job

    def add(self, job: ImportJob) -> None:
        """Register ``job``, forgetting those that ended more than ``keep`` seconds ago."""
        with self._lock:
            now = self._clock()
            for key, old in list(self._jobs.items()):
                if old.ended_at is not None and now - old.ended_at > self._keep:
                    del self._jobs[key]
            self._jobs[job.id] = job

    def get(self, job_id: str, admin: str) -> ImportJob | None:
        """The job, if it exists and was started by ``admin``."""
        with self._lock:
            job = self._jobs.get(job_id)
        return job if job is not None and job.admin == admin else None


def _run(ctx: Context, job: ImportJob, clock: Callable[[], float]) -> None:
    def progress(lines: LinesDone) -> None:
        job.done, job.total = lines

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
                detail = job.counts() | {"confirmed": bool(job.reason)}
                audit.record(conn, job.admin, "subscribers.import", job.filename, detail)
    except Exception as exc:  # shown to the admin who started it (German for our errors)
        job.error = exc
    finally:
        job.ended_at = clock()
        job.finished.set()
