"""Collect: fetch every enabled source concurrently, decide what is new, store it.

    sources ──fetch+parse (threads)──▶ ParsedItem ──prepare (pure)──▶ Candidate
        ──decide (pure, against known rows)──▶ BatchPlan(new, changed, unchanged, duplicates)
        ──classify──▶ Item ──store (one transaction per source)──▶ record_result

Fetching runs in a thread pool of ``fetch.concurrency``; everything that touches the
database runs in the calling thread, one source at a time, so SQLite sees one writer.
Failures are data: each source's outcome is stored on it (``record_result``) and logged
as one line with ``status=ok|not_modified|error``; one failing source never stops the
others. The decisions (:func:`prepare`, :func:`decide`) are pure; see :mod:`newsletter.dedup`
for ids, canonical URLs and title keys.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from newsletter import models
from newsletter.context import Context
from newsletter.dedup import (
    BatchPlan,
    Candidate,
    build_item,
    classify_regions,
    decide,
    prepare,
)
from newsletter.errors import FetchError, SourceError
from newsletter.models import Item, KnownItem, Source
from newsletter.retry import backoff
from newsletter.sources import Fetched, Fetcher, FetchSettings, HttpFetcher, fetch_source
from newsletter.store import items as item_store
from newsletter.store import runs
from newsletter.store import sources as source_store
from newsletter.store.db import transaction, utcnow

log = logging.getLogger("newsletter.collect")

BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=6)


@dataclass(frozen=True)
class SourceReport:
    """The outcome of one source in one collect run."""

    source: str
    kind: str
    status: str  # ok | not_modified | error | disabled | waiting
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    duplicates: int = 0
    error: str | None = None
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        """Nothing usable came from this source."""
        return self.status in ("error", "disabled") and not (
            self.new or self.changed or self.unchanged
        )


@dataclass(frozen=True)
class CollectSummary:
    """The outcome of one collect run."""

    reports: tuple[SourceReport, ...] = ()
    started_at: datetime = field(default_factory=utcnow)
    finished_at: datetime = field(default_factory=utcnow)

    @property
    def new(self) -> int:
        return sum(r.new for r in self.reports)

    @property
    def changed(self) -> int:
        return sum(r.changed for r in self.reports)

    @property
    def failed(self) -> int:
        return sum(r.failed for r in self.reports)

    @property
    def all_failed(self) -> bool:
        """Every source that was due failed (and there was at least one)."""
        due = [r for r in self.reports if r.status != "waiting"]
        return bool(due) and all(r.failed for r in due)

    def detail(self) -> dict[str, Any]:
        return {
            "sources": len(self.reports),
            "new": self.new,
            "changed": self.changed,
            "failed": self.failed,
            "not_modified": sum(r.status == "not_modified" for r in self.reports),
        }


@dataclass(frozen=True)
class _Outcome:
    source: Source
    fetched: Fetched | None
    error: SourceError | None
    seconds: float
    at: datetime


Progress = models.Progress[SourceReport]  # the one progress callback, told per source


def collect_all(
    ctx: Context,
    *,
    fetcher: Fetcher | None = None,
    progress: Progress | None = None,
    names: list[str] | None = None,
) -> CollectSummary:
    """Fetch all enabled sources (or those ``names``), store new and changed items."""
    started = utcnow()
    with transaction(ctx.engine) as conn:
        due, waiting = _due_sources(
            source_store.all_sources(conn, enabled_only=True), names, started
        )
        run_id = runs.start(conn, "collect")
    reports = [SourceReport(s.name, s.kind, "waiting") for s in waiting]
    status = "error"
    try:
        for outcome in _fetch_all(ctx, due, fetcher):
            report = _store_outcome(ctx, outcome)
            _log(report)
            reports.append(report)
            if progress is not None:
                progress(report)
        summary = CollectSummary(tuple(reports), started, utcnow())
        status = "error" if summary.all_failed else "ok"
        return summary
    finally:
        detail = CollectSummary(tuple(reports), started, utcnow()).detail()
        with transaction(ctx.engine) as conn:
            runs.finish(conn, run_id, status, detail)


def due_sources(ctx: Context) -> int:
    """How many sources the next collect will fetch (for a progress bar)."""
    with transaction(ctx.engine) as conn:
        enabled = source_store.all_sources(conn, enabled_only=True)
    return len(_due_sources(enabled, None, utcnow())[0])


def _due_sources(
    enabled: list[Source], names: list[str] | None, now: datetime
) -> tuple[list[Source], list[Source]]:
    chosen = [s for s in enabled if names is None or s.name in names]
    waiting = [s for s in chosen if s.retry_after is not None and s.retry_after > now]
    return [s for s in chosen if s not in waiting], waiting


def _fetch_all(ctx: Context, due: list[Source], fetcher: Fetcher | None) -> Iterator[_Outcome]:
    """Fetch and parse in a thread pool; yield each outcome as it completes."""
    if not due:
        return
    settings = FetchSettings.from_config(ctx.config)
    own = HttpFetcher(settings) if fetcher is None else None
    active: Fetcher = own if own is not None else fetcher  # type: ignore[assignment]
    regions = [r.key for r in ctx.config.regions]
    try:
        with ThreadPoolExecutor(max_workers=settings.concurrency) as pool:
            futures: list[Future[_Outcome]] = [
                pool.submit(_fetch_one, source, active, regions) for source in due
            ]
            for future in as_completed(futures):
                yield future.result()
    finally:
        if own is not None:
            own.close()


def _fetch_one(source: Source, fetcher: Fetcher, regions: list[str]) -> _Outcome:
    start = time.perf_counter()
    try:
        fetched = fetch_source(source, fetcher, regions)
        return _Outcome(source, fetched, None, time.perf_counter() - start, utcnow())
    except SourceError as exc:
        return _Outcome(source, None, exc, time.perf_counter() - start, utcnow())
    except Exception as exc:  # a parser bug must not stop the other sources
        log.exception("source=%s status=error unexpected", source.name)
        error = SourceError(f"Interner Fehler beim Verarbeiten: {exc!r}", url=source.location)
        return _Outcome(source, None, error, time.perf_counter() - start, utcnow())


def _store_outcome(ctx: Context, outcome: _Outcome) -> SourceReport:
    """Decide and store one source's items, and record its result, in one transaction."""
    source = outcome.source
    try:
        with transaction(ctx.engine) as conn:
            if outcome.error is not None:
                return _record_error(conn, source, outcome)
            assert outcome.fetched is not None
            return _store_fetched(ctx, conn, source, outcome)
    except Exception as exc:  # storing failed (rolled back): record it if we can, go on
        log.exception("source=%s status=error storing failed", source.name)
        message = f"Speichern fehlgeschlagen: {getattr(exc, 'message', None) or exc!r}"
        _record_storage_error(ctx, source, message)
        return SourceReport(source.name, source.kind, "error", error=message)


def _record_storage_error(ctx: Context, source: Source, message: str) -> None:
    try:
        with transaction(ctx.engine) as conn:
            source_store.record_result(conn, source.id, status="error", error=message[:2000])
    except Exception:  # the database is gone; the log line above has it
        log.exception("source=%s could not record its error", source.name)


def _store_fetched(
    ctx: Context, conn: Connection, source: Source, outcome: _Outcome
) -> SourceReport:
    fetched = outcome.fetched
    assert fetched is not None
    base = SourceReport(source.name, source.kind, "ok", seconds=outcome.seconds)
    if fetched.not_modified:
        source_store.record_result(
            conn, source.id, status="not_modified", location=fetched.moved_to, at=outcome.at
        )
        return replace(base, status="not_modified")
    plan = store_items(ctx, conn, source, fetched, outcome.at)
    error = _problems_text(fetched.problems) if fetched.problems else None
    status = "error" if error else "ok"
    source_store.record_result(
        conn,
        source.id,
        status=status,
        error=error,
        etag=fetched.etag,
        last_modified=fetched.last_modified,
        location=fetched.moved_to,
        at=outcome.at,
    )
    return replace(
        base,
        status=status,
        error=error,
        new=len(plan.new),
        changed=len(plan.changed),
        unchanged=plan.unchanged,
        duplicates=plan.duplicates,
    )


def store_items(
    ctx: Context, conn: Connection, source: Source | None, fetched: Fetched, now: datetime
) -> BatchPlan:
    """Prepare, decide, classify and store a batch of parsed items; returns the plan."""
    scope = source.name if source is not None else "admin"
    tz = ctx.config.site.timezone
    candidates = [prepare(p, scope=scope, fetched_at=now, tz=tz) for p in fetched.items]
    known = item_store.known_keys(
        conn,
        [c.id for c in candidates],
        [c.canonical_url for c in candidates if c.canonical_url],
        [c.title_key for c in candidates if c.title_key],
    )
    plan = decide(candidates, known, source.id if source is not None else None)
    _apply(ctx, conn, source, plan, now)
    return plan


def _apply(
    ctx: Context, conn: Connection, source: Source | None, plan: BatchPlan, now: datetime
) -> None:
    fixed = source.region if source is not None else None
    source_id = source.id if source is not None else None
    item_store.insert_items(
        conn,
        [
            (_item(ctx, c, fixed, source_id, None, now), c.canonical_url, c.title_key)
            for c in plan.new
        ],
    )
    for candidate, existing in plan.changed:
        item_store.update_item(conn, _item(ctx, candidate, fixed, source_id, existing, now))


def _item(
    ctx: Context,
    candidate: Candidate,
    fixed: str | None,
    source_id: int | None,
    existing: KnownItem | None,
    now: datetime,
) -> Item:
    classified = classify_regions(candidate.text, ctx.gazetteer, fixed)
    return build_item(candidate, classified, source_id=source_id, existing=existing, now=now)


def _record_error(conn: Connection, source: Source, outcome: _Outcome) -> SourceReport:
    error = outcome.error
    assert error is not None
    status, retry_at = _error_state(source, error, outcome.at)
    source_store.record_result(
        conn, source.id, status=status, error=error.message, retry_after=retry_at, at=outcome.at
    )
    return SourceReport(
        source.name, source.kind, status, error=error.message, seconds=outcome.seconds
    )


def _error_state(source: Source, error: SourceError, now: datetime) -> tuple[str, datetime | None]:
    """(status, retry_after): 410 disables; 429/503 wait for Retry-After or back off."""
    if not isinstance(error, FetchError):
        return "error", None
    if error.permanent:
        return "disabled", None
    if error.retry_after is not None:
        return "error", now + timedelta(seconds=error.retry_after)
    if error.status in (429, 503):
        return "error", now + source_backoff(source.error_count)
    return "error", None


def source_backoff(errors_in_a_row: int) -> timedelta:
    """How long a failing source waits: 1, 2, 4 … minutes, at most six hours."""
    seconds = backoff(errors_in_a_row, BACKOFF_BASE.total_seconds(), BACKOFF_MAX.total_seconds())
    return timedelta(seconds=seconds)


def _problems_text(problems: tuple[str, ...]) -> str:
    shown = "; ".join(problems[:5])
    more = f" (und {len(problems) - 5} weitere)" if len(problems) > 5 else ""
    return f"{len(problems)} Datei(en) fehlerhaft: {shown}{more}"


def _log(report: SourceReport) -> None:
    level = logging.WARNING if report.status in ("error", "disabled") else logging.INFO
    log.log(
        level,
        "source=%s status=%s new=%d changed=%d unchanged=%d duplicates=%d seconds=%.2f%s",
        report.source,
        report.status,
        report.new,
        report.changed,
        report.unchanged,
        report.duplicates,
        report.seconds,
        f" error={report.error!r}" if report.error else "",
    )
