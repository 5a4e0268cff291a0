"""Benchmark the operator endpoints on a store of a large state's size (SQLite file).

100,000 items (several years of news), 50,000 subscribers (confirmed over the last 12
weeks), a digest per region a week ago and one with 50,000 deliveries. Prints
milliseconds per request for every admin list page (dashboard with its charts, items and
subscribers with search, filters and a deep page, digests, a digest's deliveries, the
audit log) and ``/metrics`` (read from the database on every scrape), each as a ratio
against ``/healthz`` measured in the same run (a request that only asks the database
whether it is there). The goal is every admin list page under 100 ms. No timed
assertions.

Usage: ``.venv/bin/python bench/bench_admin.py [--items N] [--subscribers N]``
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi.testclient import TestClient

from newsletter import admins
from newsletter.context import Context
from newsletter.store.schema import (
    deliveries,
    digests,
    item_regions,
    items,
    subscribers,
    subscriptions,
)
from newsletter.web import create_app
from tests.configs import service_config

REGIONS = ["leipzig-nordsachsen", "chemnitz", "ostsachsen", "zwickau", "dresden"]
NOW = datetime.now(UTC)


def fill(ctx: Context, n_items: int, n_subscribers: int, weekly: bool = True) -> int:
    """Fill the store; the id of the digest with one delivery per subscriber."""
    rows, links = [], []
    for i in range(n_items):
        when = NOW - timedelta(minutes=26 * i)
        region = REGIONS[i % 5] if i % 7 else None
        rows.append(
            {
                "id": hashlib.sha256(str(i).encode()).hexdigest()[:32],
                "title": f"Meldung {i}",
                "summary_html": "<p>Text</p>",
                "content_html": "",
                "published_at": when,
                "collected_at": when,
                "updated_at": when,
                "classified_regions": [region] if region else [],
                "statewide": region is None,
                "hidden": False,
                "content_hash": "",
                "published_estimated": False,
            }
        )
        if region:
            links.append({"item_id": rows[-1]["id"], "region": region})
    subs = [
        {
            "email": f"p{i}@example.org",
            "created_at": NOW,
            "name": f"Person {i}",
            "organisation": "Stadt Plauen" if i % 10 == 0 else "Gemeinde",
            "source": "import",
            "bounce_count": 0,
        }
        for i in range(n_subscribers)
    ]
    with ctx.engine.begin() as conn:
        conn.execute(insert(items), rows)
        conn.execute(insert(item_regions), links)
        conn.execute(insert(subscribers), subs)
        conn.execute(
            insert(subscriptions),
            [
                {
                    "subscriber_id": i + 1,
                    "region": REGIONS[i % 5],
                    "status": "confirmed",
                    "requested_at": NOW - timedelta(weeks=12),
                    "confirmed_at": NOW - timedelta(weeks=12) * (1 - i / n_subscribers),
                }
                for i in range(n_subscribers)
            ],
        )
        for region in REGIONS if weekly else ():  # every region had its digest a week ago
            conn.execute(
                insert(digests).values(
                    region=region,
                    kind="digest",
                    period_end=NOW - timedelta(days=7),
                    period_key=f"w-{region}",
                    subject="s",
                    html="h",
                    text="t",
                    item_ids=[],
                    created_at=NOW,
                )
            )
        digest = conn.execute(
            insert(digests).values(
                region="zwickau",
                kind="digest",
                period_end=NOW - timedelta(days=3),
                period_key="k",
                subject="s",
                html="h",
                text="t",
                item_ids=[],
                created_at=NOW,
            )
        ).inserted_primary_key[0]
        conn.execute(
            insert(deliveries),
            [
                {
                    "digest_id": digest,
                    "subscriber_id": i + 1,
                    "address": f"p{i}@example.org",
                    "status": "sent" if i % 50 else "failed",
                    "attempts": 1,
                    "created_at": NOW,
                    "sent_at": NOW,
                }
                for i in range(n_subscribers)
            ],
        )
    return int(digest)


def per_request(client: TestClient, path: str, runs: int) -> float:
    client.get(path)  # warm up (templates, caches)
    started = time.perf_counter()
    for _ in range(runs):
        assert client.get(path).status_code == 200, path
    return (time.perf_counter() - started) / runs * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--subscribers", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--no-history", action="store_true", help="no earlier digests: count a whole year"
    )
    args = parser.parse_args()
    ctx = Context(service_config(Path(tempfile.mkdtemp(prefix="bench-admin-"))))
    ctx.init_db()
    digest_id = fill(ctx, args.items, args.subscribers, weekly=not args.no_history)
    admins.create(ctx, "bench", "", "ein-langes-passwort", actor="bench")
    client = TestClient(create_app(ctx), client=("127.0.0.1", 50000))  # /metrics: loopback
    page = client.get("/admin/anmelden").text
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page).group(1)  # type: ignore[union-attr]
    client.post(
        "/admin/anmelden",
        data={"csrf_token": token, "name": "bench", "password": "ein-langes-passwort"},
    )
    base = per_request(client, "/healthz", args.runs)
    print(f"{args.items} items, {args.subscribers} subscribers, {args.subscribers} deliveries")
    print(f"{'/healthz (baseline)':52} {base:8.1f} ms")
    last_subscriber_page = -(-args.subscribers // 50)
    last_item_page = -(-args.items // 50)
    for path in (
        "/admin",
        "/admin/meldungen",
        "/admin/meldungen?region=zwickau",
        "/admin/meldungen?suche=meldung+4711",
        "/admin/meldungen?pruefen=ja",
        f"/admin/meldungen?seite={last_item_page}",
        "/admin/abonnenten",
        "/admin/abonnenten?suche=plauen",
        "/admin/abonnenten?region=zwickau&status=confirmed",
        f"/admin/abonnenten?seite={last_subscriber_page}",
        "/admin/newsletter",
        f"/admin/newsletter/versand/{digest_id}",
        "/admin/newsletter/zwickau/fortschritt/stand",
        "/admin/protokoll",
        "/metrics",
        "/api/v1/openapi.json",
    ):
        ms = per_request(client, path, args.runs)
        print(f"{path:52} {ms:8.1f} ms  {ms / base:6.1f}× baseline")
    ms = charts_once(ctx, args.runs)
    label = "dashboard charts, computed (once a minute)"
    print(f"{label:52} {ms:8.1f} ms  {ms / base:6.1f}× baseline")
    ctx.close()


def charts_once(ctx: Context, runs: int) -> float:
    """What the dashboard's charts cost when the minute's cache is cold (chartcache)."""
    from newsletter.store.db import transaction, utcnow
    from newsletter.web.admin.dashboard import dashboard_charts

    with transaction(ctx.engine) as conn:
        started = time.perf_counter()
        for _ in range(runs):
            dashboard_charts(ctx, conn, utcnow())
    return (time.perf_counter() - started) / runs * 1000


if __name__ == "__main__":
    main()
