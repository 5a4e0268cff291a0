"""Admin dashboard: per region subscribers, new items, next and last digest; source health;
how many items need their regions checked (»Region prüfen«)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection

from newsletter.collect import CollectSummary, collect_all
from newsletter.context import Context
from newsletter.models import DigestSummary
from newsletter.scheduler import next_runs, scheduler_state
from newsletter.store import digests as digest_store
from newsletter.store import runs, stats
from newsletter.store import sources as source_store
from newsletter.store.db import transaction, utcnow
from newsletter.web.admin.common import admin_page, redirect, waiting_drafts
from newsletter.web.auth import record
from newsletter.web.rendering import context_of
from newsletter.web.security import checked_form

router = APIRouter()


@dataclass(frozen=True)
class RegionStatus:
    key: str
    name: str
    confirmed: int
    pending: int
    new_items: int
    last_cutoff: datetime | None
    next_digest: datetime | None
    last_digest: DigestSummary | None


def region_statuses(ctx: Context, conn: Connection, now: datetime) -> list[RegionStatus]:
    upcoming = {spec.region: when for spec, when in next_runs(ctx.config, now) if spec.region}
    counts = stats.subscription_counts(conn)
    latest = last_digests(conn)
    result = []
    for region in ctx.config.region_list():
        cutoff = digest_store.last_cutoff(conn, region.key)
        new = stats.new_item_count(conn, region.key, cutoff, now)
        result.append(
            RegionStatus(
                region.key,
                region.name,
                counts.get((region.key, "confirmed"), 0),
                counts.get((region.key, "pending"), 0),
                new,
                cutoff,
                upcoming.get(region.key),
                latest.get(region.key),
            )
        )
    return result


def last_digests(conn: Connection) -> dict[str, DigestSummary]:
    """Each region's newest digest with its sent/failed counts (from the history); the
    combined mails of the same slot that carried the region count with it."""
    rows = digest_store.history(conn, limit=500)
    latest: dict[str, DigestSummary] = {}
    for row in rows:
        if "+" not in row.region:
            latest.setdefault(row.region, row)
    for row in rows:
        for key in row.region.split("+") if "+" in row.region else ():
            own = latest.get(key)
            if own is not None and own.period_end == row.period_end:
                latest[key] = own._replace(
                    total=own.total + row.total,
                    sent=own.sent + row.sent,
                    failed=own.failed + row.failed,
                )
    return latest


@router.get("", response_class=HTMLResponse, include_in_schema=False)
def dashboard(request: Request) -> HTMLResponse:
    ctx = context_of(request)
    now = utcnow()
    with transaction(ctx.engine) as conn:
        regions = region_statuses(ctx, conn, now)
        sources = source_store.all_sources(conn)
        last_collect = runs.last_finished(conn, "collect")
        region_checks = stats.region_check_count(conn)
    values = {
        "region_rows": regions,
        "drafts": waiting_drafts(request),
        "region_checks": region_checks,
        "sources": sources,
        "last_collect": last_collect,
        "scheduler": scheduler_state(ctx),
    }
    return admin_page(request, "admin/dashboard.html", values)


@router.post("/quellen/abrufen", include_in_schema=False)
async def collect_now(request: Request) -> Response:
    """»Jetzt abrufen«: all sources, or the one named in the form."""
    ctx = context_of(request)
    form = await checked_form(request, ctx.secret_key)
    name = str(form.get("source", "")).strip()
    names = [name] if name else None
    summary = await asyncio.to_thread(collect_all, ctx, names=names)
    record(request, "sources.collect", name or "alle", **summary.detail())
    return redirect(request, "/admin#quellen", collect_notice(summary))


def collect_notice(summary: CollectSummary) -> str:
    failed = f", {summary.failed} fehlgeschlagen" if summary.failed else ""
    return (
        f"Abruf beendet: {len(summary.reports)} Quellen, {summary.new} neue und "
        f"{summary.changed} geänderte Meldungen{failed}."
    )
