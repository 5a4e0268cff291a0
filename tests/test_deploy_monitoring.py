"""deploy/prometheus: the alert rules name only metrics that /metrics serves, and the
metrics behind them (last successful collect, recent delivery failures, digest slots)
read what the store holds — on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from sqlalchemy import insert

from newsletter.config import Config
from newsletter.context import Context
from newsletter.metrics import due_slots
from newsletter.store import runs
from newsletter.store.db import transaction, utcnow
from newsletter.store.schema import deliveries, digests
from tests._admin import app_client

PROMETHEUS = Path(__file__).resolve().parent.parent / "deploy" / "prometheus"
LOCAL = ("127.0.0.1", 50000)


def _alert_rules() -> list[dict[str, object]]:
    document = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def _samples(text: str) -> dict[str, float]:
    """``name{labels}`` -> value of every sample line of a Prometheus text answer."""
    found: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            found[key] = float(value)
    return found


def _fill(ctx: Context) -> None:
    """A successful and a failed collect, a digest run for zwickau, and deliveries: 3 sent,
    1 failed, 1 queued today; 5 failed ones of last week (outside the 24 h window)."""
    now = utcnow()
    with transaction(ctx.engine) as conn:
        ok = runs.start(conn, "collect")
        runs.finish(conn, ok, "ok", {})
        runs.finish(conn, runs.start(conn, "digest:zwickau"), "queued", {})
        runs.finish(conn, runs.start(conn, "digest:dresden"), "error", {})
        digest_id = conn.execute(
            insert(digests).values(
                region="zwickau", kind="digest", period_end=now, period_key="k1",
                subject="s", html="h", text="t", created_at=now,
            )
        ).inserted_primary_key[0]  # fmt: skip
        rows = [
            {"digest_id": digest_id, "subscriber_id": None, "address": f"a{i}@example.org",
             "status": status, "created_at": when}
            for i, (status, when) in enumerate(
                [("sent", now)] * 3 + [("failed", now), ("queued", now)]
                + [("failed", now - timedelta(days=7))] * 5
            )
        ]  # fmt: skip
        conn.execute(insert(deliveries), rows)
    with transaction(ctx.engine) as conn:
        runs.finish(conn, runs.start(conn, "collect"), "error", {})  # every source failed


def test_every_metric_of_the_alerts_is_served(db_ctx: Context) -> None:
    _fill(db_ctx)
    answer = app_client(db_ctx, client=LOCAL).get("/metrics")
    assert answer.status_code == 200
    served = {key.partition("{")[0] for key in _samples(answer.text)}
    rules = _alert_rules()
    assert len(rules) >= 3
    named = {
        name for rule in rules for name in re.findall(r"\bnewsletter_[a-z_]+", str(rule["expr"]))
    }
    assert {
        "newsletter_last_successful_collect_timestamp_seconds",
        "newsletter_deliveries_recent",
        "newsletter_digest_slot_timestamp_seconds",
        "newsletter_digest_last_success_timestamp_seconds",
    } <= named
    assert named <= served, named - served
    for rule in rules:
        assert rule["alert"] and rule["annotations"]["summary"]  # type: ignore[index]


def test_the_alert_metrics_read_the_store(db_ctx: Context) -> None:
    before = utcnow().timestamp()
    _fill(db_ctx)
    samples = _samples(app_client(db_ctx, client=LOCAL).get("/metrics").text)
    success = samples["newsletter_last_successful_collect_timestamp_seconds"]
    last = samples["newsletter_last_collect_timestamp_seconds"]
    assert before - 1 <= success < last  # the later, failed run does not count
    assert samples['newsletter_deliveries_recent{status="failed"}'] == 1
    assert samples['newsletter_deliveries_recent{status="sent"}'] == 3
    assert samples['newsletter_deliveries_recent{status="queued"}'] == 1
    assert samples['newsletter_deliveries_recent{status="cancelled"}'] == 0
    assert (
        samples['newsletter_digest_last_success_timestamp_seconds{region="zwickau"}'] >= before - 1
    )
    assert 'newsletter_digest_last_success_timestamp_seconds{region="dresden"}' not in samples
    regions = [r.key for r in db_ctx.config.region_list()]
    slots = [samples[f'newsletter_digest_slot_timestamp_seconds{{region="{r}"}}'] for r in regions]
    assert len(regions) == 5 and all(slot <= utcnow().timestamp() for slot in slots)


def test_due_slots_follow_each_regions_cron(make_config: object) -> None:
    config: Config = make_config(schedule={"digest_cron": "0 9 * * thu"})  # type: ignore[operator]
    regions = [r.model_dump() for r in config.regions]
    regions[0]["digest_cron"] = "30 7 * * *"
    config = make_config(schedule={"digest_cron": "0 9 * * thu"}, regions=regions)  # type: ignore[operator]
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)  # a Monday, 13:00 in Berlin
    slots = due_slots(config, now)
    assert slots[regions[0]["key"]] == datetime(2026, 12, 7, 6, 30, tzinfo=UTC)
    assert slots[regions[1]["key"]] == datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
