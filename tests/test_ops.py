"""/readyz and /metrics: readiness decisions and metrics read from the store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert

from newsletter.config import Config, load_config
from newsletter.context import Context
from newsletter.curation import add_manual_item
from newsletter.errors import ConfigError
from newsletter.health import decide
from newsletter.store import sources as source_store
from newsletter.store.db import transaction, utcnow
from newsletter.store.schema import deliveries, digests
from newsletter.web.state import state_of
from tests._admin import app_client
from tests.feedfixtures import feed_request_count

LOCAL = ("127.0.0.1", 50000)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def test_ready_when_database_answers_and_scheduler_is_not_ours() -> None:
    verdict = decide(True, "disabled", None, None, 15, NOW)
    assert verdict.ready and verdict.problems == ()


def test_not_ready_without_database_or_with_a_stopped_scheduler() -> None:
    assert decide(False, "running", NOW, NOW, 15, NOW).problems == ("Datenbank nicht erreichbar",)
    assert decide(True, "stopped", NOW, NOW, 15, NOW).problems == ("Zeitplan läuft nicht",)


def test_a_stale_collect_makes_a_settled_scheduler_unready() -> None:
    started = NOW - timedelta(hours=3)
    fresh = decide(True, "running", started, NOW - timedelta(minutes=20), 15, NOW)
    stale = decide(True, "running", started, NOW - timedelta(minutes=51), 15, NOW)
    never = decide(True, "running", started, None, 15, NOW)
    just_started = decide(True, "running", NOW - timedelta(minutes=2), None, 15, NOW)
    assert fresh.ready and just_started.ready
    assert not stale.ready and not never.ready
    assert stale.to_dict(NOW)["last_collect_age_seconds"] == 51 * 60


def test_readyz_and_healthz_answer_json(client: TestClient) -> None:
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] is True and ready.json()["scheduler"] == "disabled"
    assert client.get("/healthz").status_code == 200


def test_metrics_come_from_the_store(ctx: Context) -> None:
    add_manual_item(ctx, title="Warnung vor Enkeltrick in Zwickau", text="Zwickau")
    with transaction(ctx.engine) as conn:
        source = source_store.add(
            conn, name="Polizei Sachsen", kind="feed", location="https://x.example/rss"
        )
        source_store.record_result(conn, source.id, status="error", error="HTTP 503")
        digest_id = conn.execute(
            insert(digests).values(
                region="zwickau",
                kind="digest",
                period_end=utcnow(),
                period_key="k1",
                subject="s",
                html="h",
                text="t",
                created_at=utcnow(),
            )
        ).inserted_primary_key[0]
        rows = [
            {
                "digest_id": digest_id,
                "subscriber_id": None,
                "address": f"a{i}@example.org",
                "status": status,
                "attempts": attempts,
                "created_at": utcnow(),
                "sent_at": utcnow() if status == "sent" else None,
            }
            for i, (status, attempts) in enumerate(
                [("sent", 1), ("sent", 2), ("failed", 1), ("queued", 0)]
            )
        ]
        conn.execute(insert(deliveries), rows)
    client = app_client(ctx, client=LOCAL)
    state_of(client.app).feed_requests.count("rss", 200)
    state_of(client.app).feed_requests.count("rss", 304)
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=")
    text = answer.text
    for line in [
        'newsletter_items{state="visible"} 1.0',
        'newsletter_source_up{source="Polizei Sachsen"} 0.0',
        'newsletter_source_errors{source="Polizei Sachsen"} 1.0',
        'newsletter_digests_built_total{kind="digest",region="zwickau"} 1.0',
        'newsletter_deliveries_total{region="zwickau",status="sent"} 2.0',
        'newsletter_deliveries_total{region="zwickau",status="failed"} 1.0',
        'newsletter_deliveries_retried_total{region="zwickau"} 1.0',
        "newsletter_outbox_queue_depth 1.0",
        'newsletter_feed_requests_total{format="rss",status="304"}',
    ]:
        assert line in text, line
    rate = next(x for x in text.splitlines() if x.startswith("newsletter_send_rate_per_second "))
    assert float(rate.split()[1]) == 2 / 300


def test_feed_requests_and_304s_are_counted(ctx: Context) -> None:
    client = app_client(ctx, client=LOCAL)
    before = client.get("/metrics").text
    first = client.get("/feeds/dresden.atom")
    assert first.status_code == 200
    again = client.get("/feeds/dresden.atom", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    after = client.get("/metrics").text
    assert feed_request_count(after, "atom", 200) == feed_request_count(before, "atom", 200) + 1
    assert feed_request_count(after, "atom", 304) == feed_request_count(before, "atom", 304) + 1


@pytest.mark.parametrize(
    ("client", "headers", "status"),
    [
        (LOCAL, {}, 200),
        (("::1", 50000), {}, 200),
        (("203.0.113.9", 50000), {}, 403),
        (("testclient", 50000), {}, 403),  # not an address at all
        (LOCAL, {"X-Forwarded-For": "203.0.113.9"}, 403),  # an untrusted proxy relayed it
        (LOCAL, {"Forwarded": "for=203.0.113.9"}, 403),
        (LOCAL, {"X-Real-IP": "203.0.113.9"}, 403),  # nginx's usual header
        (LOCAL, {"X-Forwarded-Host": "news.example.org"}, 403),
        (LOCAL, {"X-Client-IP": "203.0.113.9"}, 403),
        (LOCAL, {"True-Client-IP": "203.0.113.9"}, 403),
        (LOCAL, {"CF-Connecting-IP": "203.0.113.9"}, 403),
    ],
)
def test_metrics_are_for_local_scrapers_by_default(
    ctx: Context, client: tuple[str, int], headers: dict[str, str], status: int
) -> None:
    answer = app_client(ctx, client=client).get("/metrics", headers=headers)
    assert answer.status_code == status
    if status == 403:
        assert "web.metrics_token" in answer.text and "newsletter_" not in answer.text


def test_metrics_token_admits_any_network_and_only_the_right_token(
    make_config: Callable[..., Config],
) -> None:
    ctx = Context(make_config(web={"metrics_token": "s3cr3t-scrape-token"}))
    ctx.init_db()
    client = app_client(ctx, client=("203.0.113.9", 50000))
    good = client.get("/metrics", headers={"Authorization": "Bearer s3cr3t-scrape-token"})
    assert good.status_code == 200 and "newsletter_items" in good.text
    for headers in [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "s3cr3t-scrape-token"},
    ]:
        refused = client.get("/metrics", headers=headers)
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    local = app_client(ctx, client=LOCAL).get("/metrics")
    assert local.status_code == 401  # with a token set, the token decides everywhere
    ctx.close()


def test_proxy_headers_need_the_token_even_with_trusted_proxies(
    make_config: Callable[..., Config],
) -> None:
    config = make_config(web={"trusted_proxies": ["127.0.0.1"]})
    ctx = Context(config)
    ctx.init_db()
    client = app_client(ctx, client=LOCAL)
    assert client.get("/metrics").status_code == 200
    assert client.get("/metrics", headers={"X-Real-IP": "203.0.113.9"}).status_code == 403
    ctx.close()


def test_metrics_networks_must_be_networks(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[web]\nmetrics_networks = ["10.0.0.0/8", "intranet"]\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert info.value.line == 2 and "»intranet« ist kein Netz" in info.value.message


def test_new_item_count_matches_the_digest_selection(db_ctx: Context) -> None:
    from newsletter.store import items as item_store
    from newsletter.store import stats

    for title, text in [
        ("Plauen", "Plauen im Vogtland"),
        ("Görlitz", "Görlitz"),
        ("Landesweit", "Überall"),
        ("Dresden und Zwickau", "Dresden und Zwickau"),
    ]:
        add_manual_item(db_ctx, title=f"Meldung {title}", text=text)
    ctx = db_ctx
    with transaction(ctx.engine) as conn:
        hidden = item_store.search(conn, region="ostsachsen", statewide=False)[0]
        item_store.set_hidden(conn, hidden.id, True)
        now = utcnow()
        for region in ctx.config.region_list():
            for after in (None, now - timedelta(hours=1), now):
                expected = len(item_store.collected_between(conn, region.key, after, now))
                assert stats.new_item_count(conn, region.key, after, now) == expected
        assert stats.new_item_count(conn, "zwickau", None, now) == 3
