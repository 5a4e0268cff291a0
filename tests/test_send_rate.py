"""The send pace: the hourly cap counted in the store for all workers, mails in flight
counting against it, confirmations ahead of digests, and the per-second token bucket."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from newsletter.config import Config
from newsletter.context import Context
from newsletter.mail import sending
from newsletter.mail.outbox import drain, enqueue_message, hourly_cap_ends
from newsletter.mail.ratelimit import RateLimit
from newsletter.mail.transports import MemoryTransport
from newsletter.store import outbox as queue
from newsletter.store.db import transaction, utcnow
from tests.delivery_helpers import add_subscriber, deliveries, enqueue_only
from tests.feedfixtures import sample_items, store_items

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def test_hourly_cap_holds_for_all_workers_and_restarts(
    make_config: Callable[..., Config],
) -> None:
    """The cap is counted in the store: a second drain (another worker, or the same one
    after a restart) sends nothing more within the hour."""
    ctx = Context(make_config(mail={"rate_per_hour": 3, "rate_per_second": 1000.0}))
    ctx.init_db()
    store_items(ctx, sample_items())
    for n in range(5):
        add_subscriber(ctx, f"p{n}@example.org", {"zwickau": "confirmed"})
    transport = MemoryTransport()
    first = sending.send_region(ctx, "zwickau", now=NOW, transport=transport)
    assert first.stats is not None and first.stats.sent == 3
    assert first.stats.throttled_until is not None  # (marks may still be in flight then)
    again = drain(ctx, MemoryTransport(), "other-worker")
    until = again.throttled_until
    assert again.sent == 0 and until is not None
    assert timedelta(minutes=59) < until - utcnow() <= timedelta(hours=1)
    assert len(transport.sent) == 3
    statuses = sorted(r.status for r in deliveries(ctx))
    assert statuses == ["queued", "queued", "sent", "sent", "sent"]
    ctx.close()


def test_mails_in_flight_count_against_the_hourly_cap(ctx: Context) -> None:
    store_items(ctx, sample_items())
    for n in range(3):
        add_subscriber(ctx, f"p{n}@example.org", {"zwickau": "confirmed"})
    assert enqueue_only(ctx, "zwickau", NOW) == 3
    with transaction(ctx.engine) as conn:
        leased = queue.claim(conn, "busy-worker", 2, 300)  # being sent elsewhere right now
        used, oldest = queue.hourly_usage(conn, utcnow())
    assert len(leased) == 2 and used == 2 and oldest is None


def test_a_confirmation_mail_does_not_wait_behind_a_digest(
    make_config: Callable[..., Config],
) -> None:
    ctx = Context(make_config(mail={"batch_size": 2, "rate_per_second": 1000.0}))
    ctx.init_db()
    store_items(ctx, sample_items())
    for n in range(4):
        add_subscriber(ctx, f"p{n}@example.org", {"zwickau": "confirmed"})
    enqueue_only(ctx, "zwickau", NOW)
    with transaction(ctx.engine) as conn:
        enqueue_message(
            conn,
            address="neu@example.org",
            subject="Bitte bestätigen",
            text="Link",
            html="",
            kind="confirm",
        )
    transport = MemoryTransport()
    drain(ctx, transport, "worker")
    order = [rcpt for _, rcpt, _ in transport.sent]
    assert order[0] == "neu@example.org" and sorted(order[1:]) == [
        f"p{n}@example.org" for n in range(4)
    ]
    ctx.close()


def test_hourly_cap_ends_an_hour_after_the_oldest_mail() -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert hourly_cap_ends(now - timedelta(minutes=45), now) == now + timedelta(minutes=15)
    assert hourly_cap_ends(None, now) == now + timedelta(minutes=1)  # all in flight


def test_rate_limit_is_a_token_bucket() -> None:
    limit = RateLimit(per_second=2.0, burst=2.0)
    now = limit.updated
    limit.tokens = 0.0
    assert limit.delay(now) == pytest.approx(0.5)
    assert limit.delay(now + 0.5) == 0.0
    assert limit.delay(now + 100) == 0.0
    assert limit.tokens == 2.0  # never more than the burst
