"""Link tokens are bound to the subscriber they were issued for (finding 2).

The attack: forget A, add B; A's old settings and unsubscribe links (which never expire)
must neither show nor change B, on SQLite and PostgreSQL, even if B got A's id.
"""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import insert

from newsletter.context import Context
from newsletter.mail import sending
from newsletter.mail.transports import MemoryTransport
from newsletter.store import subscribers as store
from newsletter.store.db import transaction, utcnow
from newsletter.store.schema import subscribers
from newsletter.store.schema import subscriptions as subscriptions_table
from newsletter.subscriptions import privacy
from tests._admin import app_client
from tests.delivery_helpers import add_subscriber
from tests.feedfixtures import sample_items, store_items

BASE = "http://127.0.0.1:8000"


def digest_links(ctx: Context, region: str) -> tuple[str, str]:
    """The (manage, unsubscribe) paths of the one digest mail sent for ``region``."""
    transport = MemoryTransport()
    sending.send_region(ctx, region, now=datetime(2026, 11, 25, tzinfo=UTC), transport=transport)
    (sent,) = transport.sent
    message = email.message_from_bytes(sent[2], policy=email.policy.default)
    unsubscribe = re.fullmatch(rf"<{BASE}(/abmelden/[^>]+)>", str(message["List-Unsubscribe"]))
    body = message.get_body(("plain",))
    assert unsubscribe and body is not None
    manage = re.search(rf"{BASE}(/einstellungen/\S+)", body.get_content())
    assert manage
    return manage.group(1), unsubscribe.group(1)


def assert_links_dead_for(
    ctx: Context, client: TestClient, links: tuple[str, str], sid: int, *, id_reused: bool
) -> None:
    """A's links neither show nor change B; an unsubscribe link of an erased subscriber
    whose id is free answers 200 (nothing left to unsubscribe, RFC 8058)."""
    manage, unsubscribe = links
    page = client.get(manage)
    assert page.status_code == 400 and "b@example.org" not in page.text
    assert "nicht mehr gültig" in page.text
    assert client.get(unsubscribe).status_code == (400 if id_reused else 200)
    answer = client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == (400 if id_reused else 200)
    with transaction(ctx.engine) as conn:
        assert store.get(conn, sid).subscriptions == {"zwickau": "confirmed"}


def test_forgotten_subscribers_links_never_reach_the_next_one(db_ctx: Context) -> None:
    store_items(db_ctx, sample_items())
    a = add_subscriber(db_ctx, "a@example.org", {"zwickau": "confirmed"})
    links = digest_links(db_ctx, "zwickau")
    client = app_client(db_ctx)
    assert "a@example.org" in client.get(links[0]).text  # the links work while A exists
    assert privacy.forget(db_ctx, "a@example.org", "test")
    b = add_subscriber(db_ctx, "b@example.org", {"zwickau": "confirmed"})
    assert b != a  # ids are never reused (AUTOINCREMENT on SQLite, sequences on PostgreSQL)
    assert_links_dead_for(db_ctx, client, links, b, id_reused=False)


def test_links_are_bound_even_if_an_id_came_back(db_ctx: Context) -> None:
    store_items(db_ctx, sample_items())
    a = add_subscriber(db_ctx, "a@example.org", {"zwickau": "confirmed"})
    links = digest_links(db_ctx, "zwickau")
    assert privacy.forget(db_ctx, "a@example.org", "test")
    now = utcnow()
    with transaction(db_ctx.engine) as conn:  # as if the id had been reused
        conn.execute(insert(subscribers).values(id=a, email="b@example.org", created_at=now))
        values = {"subscriber_id": a, "region": "zwickau", "status": "confirmed"}
        conn.execute(insert(subscriptions_table).values(**values, requested_at=now))
    assert_links_dead_for(db_ctx, app_client(db_ctx), links, a, id_reused=True)


def test_unsubscribe_links_of_a_living_subscriber_keep_working(db_ctx: Context) -> None:
    store_items(db_ctx, sample_items())
    a = add_subscriber(db_ctx, "a@example.org", {"zwickau": "confirmed"})
    _manage, unsubscribe = digest_links(db_ctx, "zwickau")
    client = app_client(db_ctx)
    for _ in range(2):  # idempotent (RFC 8058)
        assert client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    with transaction(db_ctx.engine) as conn:
        assert store.get(conn, a).subscriptions == {"zwickau": "unsubscribed"}
