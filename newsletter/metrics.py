"""Prometheus metrics: read from the database on each scrape, plus in-process counters.

The store is the truth (several processes may share it), so gauges and counts come from
one aggregate query each when Prometheus scrapes; nothing is double counted across
processes. What only a process knows (feed requests served, 304s) is a process counter.

    newsletter_items{state}                         items stored (visible, hidden)
    newsletter_source_up{source}                    1 if the last fetch worked
    newsletter_source_errors{source}                consecutive errors of a source
    newsletter_source_last_fetch_timestamp_seconds{source}
    newsletter_last_collect_timestamp_seconds
    newsletter_last_successful_collect_timestamp_seconds   last collect that did not fail
    newsletter_subscriptions{region,status}         pending, confirmed, unsubscribed
    newsletter_digests_built_total{region,kind}
    newsletter_deliveries_total{region,status}      queued, sending, sent, retry, failed
    newsletter_deliveries_retried_total{region}     deliveries that needed a retry
    newsletter_deliveries_recent{status}            deliveries created in the last 24 h
    newsletter_digest_slot_timestamp_seconds{region}        latest digest slot due (cron)
    newsletter_digest_last_success_timestamp_seconds{region} last digest job without error
    newsletter_outbox_queue_depth                   deliveries not yet sent
    newsletter_send_rate_per_second                 mails sent in the last five minutes / 300
    newsletter_feed_requests_total{format,status}   feed responses of this process (200, 304)
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from newsletter.config import Config
from newsletter.context import Context
from newsletter.crontab import cron_trigger, latest_slot
from newsletter.models import DeliveryStatus, Source
from newsletter.scheduler import region_cron
from newsletter.store import runs, stats
from newsletter.store import sources as source_store
from newsletter.store.db import transaction, utcnow

RATE_WINDOW = timedelta(minutes=5)
RECENT_WINDOW = timedelta(hours=24)  # the failure ratio of deliveries looks this far back
DIGEST_JOB = "digest:"  # job_runs name prefix of a region's digest job


class FeedRequests:
    """The feed responses one web app served, by format and status (200 or 304).

    Counted on the event loop's thread, read at scrape time from a worker thread, so
    guarded by a lock. A plain count, exported at scrape time: a ``prometheus_client``
    counter with labels cost a quarter of a cached feed response."""

    def __init__(self) -> None:
        self._counts: collections.Counter[tuple[str, int]] = collections.Counter()
        self._lock = threading.Lock()

    def count(self, fmt: str, status: int) -> None:
        with self._lock:
            self._counts[fmt, status] += 1

    def snapshot(self) -> dict[tuple[str, int], int]:
        with self._lock:
            return dict(self._counts)


class StoreCollector(Collector):
    """Gauges and counts read from the database at scrape time."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def collect(self) -> Iterator[Metric]:
        now = utcnow()
        with transaction(self.ctx.engine) as conn:
            yield from _item_metrics(stats.item_counts(conn))
            yield from _source_metrics(source_store.all_sources(conn))
            yield from _collect_metric(runs.last_finished(conn, "collect"))
            yield from _collect_success_metric(runs.last_succeeded(conn, "collect"))
            yield from _subscription_metrics(stats.subscription_counts(conn))
            yield from _digest_metrics(stats.digest_counts(conn))
            yield from _delivery_metrics(stats.delivery_counts(conn), stats.retried_count(conn))
            yield from _queue_metrics(
                stats.queue_depth(conn), stats.sent_since(conn, utcnow() - RATE_WINDOW)
            )
            yield from _recent_metric(stats.deliveries_created_since(conn, now - RECENT_WINDOW))
            last_digests = runs.last_succeeded_by_prefix(conn, DIGEST_JOB)
        yield from _digest_slot_metrics(due_slots(self.ctx.config, now), last_digests)


class _Process(Collector):
    """What only this process knows: the feed responses it served."""

    def __init__(self, feed_requests: FeedRequests) -> None:
        self.feed_requests = feed_requests

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "newsletter_feed_requests",
            "Feed responses served by this process, by format and HTTP status.",
            labels=["format", "status"],
        )
        for (fmt, status), count in sorted(self.feed_requests.snapshot().items()):
            family.add_metric([fmt, str(status)], count)
        yield family


def _item_metrics(counts: dict[str, int]) -> Iterator[Metric]:
    family = GaugeMetricFamily("newsletter_items", "Items stored.", labels=["state"])
    for state, number in sorted(counts.items()):
        family.add_metric([state], number)
    yield family


def _source_metrics(sources: list[Source]) -> Iterator[Metric]:
    up = GaugeMetricFamily("newsletter_source_up", "1 if the last fetch worked.", labels=["source"])
    errors = GaugeMetricFamily(
        "newsletter_source_errors", "Consecutive fetch errors.", labels=["source"]
    )
    fetched = GaugeMetricFamily(
        "newsletter_source_last_fetch_timestamp_seconds",
        "Last fetch (Unix time).",
        labels=["source"],
    )
    for source in sources:
        up.add_metric([source.name], 1.0 if source.last_status in ("ok", "not_modified") else 0.0)
        errors.add_metric([source.name], source.error_count)
        if source.last_fetched_at is not None:
            fetched.add_metric([source.name], source.last_fetched_at.timestamp())
    yield from (up, errors, fetched)


def _collect_metric(last: datetime | None) -> Iterator[Metric]:
    family = GaugeMetricFamily(
        "newsletter_last_collect_timestamp_seconds", "End of the last collect run (Unix time)."
    )
    if last is not None:
        family.add_metric([], last.timestamp())
    yield family


def _collect_success_metric(last: datetime | None) -> Iterator[Metric]:
    family = GaugeMetricFamily(
        "newsletter_last_successful_collect_timestamp_seconds",
        "End of the last collect run in which not every source failed (Unix time).",
    )
    if last is not None:
        family.add_metric([], last.timestamp())
    yield family


def _recent_metric(counts: dict[str, int]) -> Iterator[Metric]:
    family = GaugeMetricFamily(
        "newsletter_deliveries_recent",
        "Deliveries created in the last 24 hours, by status (failed ÷ all = failure ratio).",
        labels=["status"],
    )
    for status in DeliveryStatus:
        family.add_metric([status.value], counts.get(status.value, 0))
    yield family


def due_slots(config: Config, now: datetime) -> dict[str, datetime]:
    """Region key -> its latest digest slot at or before ``now`` (from its cron)."""
    zone = ZoneInfo(config.site.timezone)
    slots: dict[str, datetime] = {}
    for region in config.region_list():
        slot = latest_slot(cron_trigger(region_cron(config, region.key), zone), now)
        if slot is not None:
            slots[region.key] = slot
    return slots


def _digest_slot_metrics(slots: dict[str, datetime], last: dict[str, datetime]) -> Iterator[Metric]:
    due = GaugeMetricFamily(
        "newsletter_digest_slot_timestamp_seconds",
        "The region's latest digest slot that is due (Unix time).",
        labels=["region"],
    )
    for region, slot in sorted(slots.items()):
        due.add_metric([region], slot.timestamp())
    done = GaugeMetricFamily(
        "newsletter_digest_last_success_timestamp_seconds",
        "End of the region's last digest job without error (Unix time).",
        labels=["region"],
    )
    for region, moment in sorted(last.items()):
        if region in slots:
            done.add_metric([region], moment.timestamp())
    yield from (due, done)


def _subscription_metrics(counts: dict[tuple[str, str], int]) -> Iterator[Metric]:
    family = GaugeMetricFamily(
        "newsletter_subscriptions",
        "Subscriptions by region and status.",
        labels=["region", "status"],
    )
    for (region, status), number in sorted(counts.items()):
        family.add_metric([region, status], number)
    yield family


def _digest_metrics(counts: dict[tuple[str, str], int]) -> Iterator[Metric]:
    family = CounterMetricFamily(
        "newsletter_digests_built", "Digests built.", labels=["region", "kind"]
    )
    for (region, kind), number in sorted(counts.items()):
        family.add_metric([region, kind], number)
    yield family


def _delivery_metrics(
    counts: dict[tuple[str, str], int], retried: dict[str, int]
) -> Iterator[Metric]:
    family = CounterMetricFamily(
        "newsletter_deliveries", "Deliveries by region and status.", labels=["region", "status"]
    )
    for (region, status), number in sorted(counts.items()):
        family.add_metric([region, status], number)
    again = CounterMetricFamily(
        "newsletter_deliveries_retried", "Deliveries that needed a retry.", labels=["region"]
    )
    for region, number in sorted(retried.items()):
        again.add_metric([region], number)
    yield from (family, again)


def _queue_metrics(depth: int, sent_recently: int) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "newsletter_outbox_queue_depth", "Deliveries not yet sent.", value=depth
    )
    yield GaugeMetricFamily(
        "newsletter_send_rate_per_second",
        "Mails sent in the last five minutes, per second.",
        value=sent_recently / RATE_WINDOW.total_seconds(),
    )


def registry_for(ctx: Context, feed_requests: FeedRequests) -> CollectorRegistry:
    """A registry with the store's metrics of ``ctx`` and this process's counters."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(ctx))
    registry.register(_Process(feed_requests))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
