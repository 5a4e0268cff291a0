"""Admin dashboard: per region subscribers, new items, next and last digest; source health;
how many items need their regions checked (»Region prüfen«)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection

from newsletter.collect import CollectSummary, collect_all
from newsletter.context import Context
from newsletter.models import DigestSummary, SubscriptionStatus
from newsletter.scheduler import next_runs, scheduler_state
from newsletter.store import digests as digest_store
from newsletter.store import runs, stats
from newsletter.store import sources as source_store
from newsletter.store.db import transaction, utcnow
from newsletter.web.admin.common import admin_page, redirect, waiting_slots
from newsletter.web.auth import record
from newsletter.web.charts import Chart, Series, line_chart, series_of, stacked_bars
from newsletter.web.rendering import context_of
from newsletter.web.security import checked_form
from newsletter.web.state import state_of

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
                counts.get((region.key, SubscriptionStatus.CONFIRMED), 0),
                counts.get((region.key, SubscriptionStatus.PENDING), 0),
                new,
                cutoff,
                upcoming.get(region.key),
                latest.get(region.key),
            )
        )
    return result


def last_digests(conn: Connection) -> dict[str, DigestSummary]:
    """Each region's newest digest with its sent/failed counts; the combined mails of the
    same slot that carried the region count with it."""
    found = digest_store.latest_per_region(conn)
    latest = {key: row for key, row in found.items() if "+" not in key}
    for key, row in found.items():
        for member in key.split("+") if "+" in key else ():
            own = latest.get(member)
            if own is not None and own.period_end == row.period_end:
                latest[member] = own._replace(
                    total=own.total + row.total,
                    sent=own.sent + row.sent,
                    failed=own.failed + row.failed,
                )
    return latest


WEEKS = 12


def dashboard_charts(ctx: Context, conn: Connection, now: datetime) -> list[Chart]:
    """Subscribers per region over 12 weeks, items per week and region over 8 weeks,
    deliveries of the last 8 digests."""
    tz = ZoneInfo(ctx.config.site.timezone)
    names = {r.key: r.name for r in ctx.config.region_list()}
    moments = [now - timedelta(weeks=WEEKS - 1 - i) for i in range(WEEKS)]
    counts = stats.subscriptions_at(conn, moments)
    bounds = [now - timedelta(weeks=8 - i) for i in range(9)]
    per_week = stats.items_per_period(conn, bounds)
    recent = digest_store.history(conn, limit=8)[::-1]
    return [
        subscribers_chart(names, counts, [f"{m.astimezone(tz):%d.%m.}" for m in moments]),
        items_chart(names, per_week, [f"{b.astimezone(tz):%d.%m.}" for b in bounds[:-1]]),
        deliveries_chart(names, recent, tz),
    ]


def subscribers_chart(
    names: dict[str, str], counts: dict[str, list[int]], labels: list[str]
) -> Chart:
    series = series_of([(name, counts.get(key, [0] * len(labels))) for key, name in names.items()])
    now = ", ".join(f"{s.name} {s.values[-1]}" for s in series)
    summary = f"Bestätigte Abonnements je Region über {len(labels)} Wochen; heute: {now}."
    return Chart("chart-abos", "Abonnenten je Region", summary, tuple(labels), series, "Stand am")


def items_chart(names: dict[str, str], per_week: dict[str, list[int]], labels: list[str]) -> Chart:
    named = [(name, per_week.get(key, [0] * len(labels))) for key, name in names.items()]
    series = series_of([*named, ("Sachsen (landesweit)", per_week.get("", [0] * len(labels)))])
    total = sum(sum(s.values) for s in series)
    busiest = max(series, key=lambda s: sum(s.values))
    summary = (
        f"Neue Meldungen je Woche (ab dem genannten Tag) und Region, {len(labels)} Wochen: "
        f"zusammen {total}, die meisten für {busiest.name} ({sum(busiest.values)})."
    )
    return Chart(
        "chart-meldungen",
        "Meldungen je Woche und Region",
        summary,
        tuple(labels),
        series,
        "Woche ab",
    )


def deliveries_chart(names: dict[str, str], recent: list[DigestSummary], tz: ZoneInfo) -> Chart:
    labels = tuple(f"{d.period_end.astimezone(tz):%d.%m.}" for d in recent)
    full = [
        f"{names.get(d.region, d.region)} {label}" for d, label in zip(recent, labels, strict=True)
    ]
    sent = [d.sent or 0 for d in recent]
    failed = [d.failed or 0 for d in recent]
    pending = [max((d.total or 0) - s - f, 0) for d, s, f in zip(recent, sent, failed, strict=True)]
    series = (
        Series("gesendet", tuple(sent), "#1a7f37"),
        Series("fehlgeschlagen", tuple(failed), "#b00020"),
        Series("offen", tuple(pending), "#6b6b6b"),
    )
    parts = [
        f"{name}: {s} gesendet, {f} fehlgeschlagen, {p} offen"
        for name, s, f, p in zip(full, sent, failed, pending, strict=True)
    ]
    summary = "Zustellungen der letzten Newsletter. " + ("; ".join(parts) or "Noch keine.") + "."
    title = "Zustellungen je Newsletter"
    return Chart("chart-zustellungen", title, summary, tuple(full), series, "Newsletter", labels)


@router.get("", response_class=HTMLResponse, include_in_schema=False)
def dashboard(request: Request) -> HTMLResponse:
    ctx = context_of(request)
    now = utcnow()
    with transaction(ctx.engine) as conn:
        regions = region_statuses(ctx, conn, now)
        sources = source_store.all_sources(conn)
        last_collect = runs.last_finished(conn, "collect")
        region_checks = stats.region_check_count(conn)
        cache = state_of(request.app).dashboard_charts
        charts = cache.get(now, lambda: dashboard_charts(ctx, conn, now))
    values = {
        "drawings": [line_chart(charts[0]), stacked_bars(charts[1]), stacked_bars(charts[2])],
        "region_rows": regions,
        "drafts": waiting_slots(request),
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
