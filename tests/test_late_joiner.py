"""A subscriber confirmed after a digest went out gets that digest once, as a welcome."""

from __future__ import annotations

from datetime import UTC, datetime

from newsletter.context import Context
from newsletter.mail import sending
from newsletter.mail.outbox import drain
from newsletter.mail.transports import MemoryTransport
from newsletter.store import outbox as queue
from newsletter.store.db import transaction
from newsletter.subscriptions import rules
from newsletter.subscriptions import service as subscriptions
from tests.delivery_helpers import add_subscriber
from tests.feedfixtures import sample_items, store_items

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def test_late_joiner_gets_the_latest_digest_once(ctx: Context) -> None:
    store_items(ctx, sample_items())
    add_subscriber(ctx, "early@example.org", {"zwickau": "confirmed"})
    sending.send_region(ctx, "zwickau", now=NOW, transport=MemoryTransport())
    late = add_subscriber(ctx, "late@example.org", {"zwickau": "pending"})
    subscriptions.confirm(ctx, late, rules.Request())
    subscriptions.confirm(ctx, late, rules.Request())
    transport = MemoryTransport()
    drain(ctx, transport, "test")
    assert [s[1] for s in transport.sent] == ["late@example.org"]
    with transaction(ctx.engine) as conn:
        kinds = sorted(r.kind for r in queue.list_deliveries(conn))
    assert kinds == ["digest", "welcome"]
