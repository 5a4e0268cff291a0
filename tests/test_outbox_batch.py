"""The send path's batch statements on SQLite and PostgreSQL: a claim leases the oldest
due rows and nothing else; one ``mark_sent`` for a whole batch gives every row its own
reply, Message-ID and time (on PostgreSQL the batch travels as parallel arrays)."""

from __future__ import annotations

from datetime import timedelta

from newsletter.context import Context
from newsletter.models import Accepted, DeliveryStatus
from newsletter.store import outbox as queue
from newsletter.store.db import as_utc, transaction, utcnow


def _queue_messages(ctx: Context, count: int) -> list[int]:
    messages = [
        {"address": f"m{n}@example.org", "kind": "confirm", "payload": {"n": n}}
        for n in range(count)
    ]
    with transaction(ctx.engine) as conn:
        queue.enqueue_messages(conn, messages)
        return sorted(d.id for d in queue.list_deliveries(conn))


def test_claims_lease_the_oldest_rows_disjointly(db_ctx: Context) -> None:
    ids = _queue_messages(db_ctx, 7)
    with transaction(db_ctx.engine) as conn:
        first = queue.claim(conn, "w1", 3, 60)
        second = queue.claim(conn, "w2", 3, 60)
        third = queue.claim(conn, "w3", 3, 60)
    assert [r.id for r in first] == ids[:3]
    assert [r.id for r in second] == ids[3:6]
    assert [r.id for r in third] == ids[6:]
    assert {r.claimed_by for r in second} == {"w2"}


def test_one_mark_sent_gives_each_row_its_own_values(db_ctx: Context) -> None:
    ids = _queue_messages(db_ctx, 5)
    base = utcnow().replace(microsecond=0) - timedelta(minutes=10)
    with transaction(db_ctx.engine) as conn:
        claimed = queue.claim(conn, "w1", 10, 60)
    assert [r.id for r in claimed] == ids
    accepted = [  # reversed, so a mix-up of ids and values cannot pass by order
        Accepted(i, f"250 ok {i}", f"<{i}@example.org>", base + timedelta(seconds=i))
        for i in reversed(ids[1:])
    ]
    with transaction(db_ctx.engine) as conn:
        queue.mark_sent(conn, accepted)
        rows = {d.id: d for d in queue.list_deliveries(conn)}
        used, oldest = queue.hourly_usage(conn, utcnow())
    for i in ids[1:]:
        row = rows[i]
        assert row.status == DeliveryStatus.SENT
        assert (row.last_reply, row.message_id) == (f"250 ok {i}", f"<{i}@example.org>")
        assert row.sent_at == base + timedelta(seconds=i)
        assert (row.attempts, row.claimed_by, row.lease_until) == (1, None, None)
    untouched = rows[ids[0]]
    assert (untouched.status, untouched.claimed_by) == (DeliveryStatus.SENDING, "w1")
    assert used == 4 + 1  # four sent in the hour, one still in flight
    assert as_utc(oldest) == base + timedelta(seconds=ids[1])


def test_sent_rows_are_not_claimed_again(db_ctx: Context) -> None:
    ids = _queue_messages(db_ctx, 4)
    with transaction(db_ctx.engine) as conn:
        claimed = queue.claim(conn, "w1", 2, 60)
        queue.mark_sent(conn, [Accepted(r.id, "250", f"<{r.id}@x>", utcnow()) for r in claimed])
        later = utcnow() + timedelta(seconds=120)  # every lease would have expired
        again = queue.claim(conn, "w2", 10, 60, now=later)
        assert queue.pending_count(conn) == 2
    assert [r.id for r in again] == ids[2:]


def test_any_due_sees_what_a_claim_would_take_and_nothing_else(db_ctx: Context) -> None:
    now = utcnow()
    with transaction(db_ctx.engine) as conn:
        assert not queue.any_due(conn, now)  # empty: an idle poll ends here
    _queue_messages(db_ctx, 2)
    with transaction(db_ctx.engine) as conn:
        assert queue.any_due(conn, utcnow())
        leased = queue.claim(conn, "w1", 10, 60)
        assert len(leased) == 2
        assert not queue.any_due(conn, utcnow())  # leased and the lease still runs
        assert queue.any_due(conn, utcnow() + timedelta(seconds=61))  # lease expired
        queue.mark_sent(conn, [Accepted(r.id, "250 ok", f"<{r.id}@x>", utcnow()) for r in leased])
        assert not queue.any_due(conn, utcnow() + timedelta(seconds=61))  # sent: done
