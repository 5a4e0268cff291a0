"""The drain claims the next batch while one is sent (``newsletter.mail.outbox.drain``),
on SQLite and PostgreSQL: the look-ahead really overlaps the sending, its rows are
checked again and their leases renewed when their turn comes, and it is given back when
the drain stops or the transport fails, so nothing is lost, sent twice or left leased."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from newsletter.context import Context
from newsletter.errors import TransportUnavailableError
from newsletter.mail import outbox
from newsletter.mail.transports import MemoryTransport, MessageSource
from newsletter.models import DeliveryStatus
from newsletter.store.db import as_utc, transaction
from newsletter.store.schema import deliveries as deliveries_table
from tests.delivery_helpers import add_subscriber, deliveries, enqueue_only
from tests.feedfixtures import sample_items, store_items

NOW = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
WORKER = "w1"
DOWN = "SMTP-Server nicht erreichbar"


def _queued(ctx: Context, count: int, batch_size: int) -> list[str]:
    """``count`` confirmed subscribers of Zwickau with the digest queued for them; the
    drain takes ``batch_size`` rows at a time. The addresses in queue order."""
    mail = ctx.config.mail.model_copy(update={"batch_size": batch_size, "rate_per_second": 1e5})
    ctx.config = ctx.config.model_copy(update={"mail": mail})
    store_items(ctx, sample_items())
    addresses = [f"p{n}@example.org" for n in range(count)]
    for address in addresses:
        add_subscriber(ctx, address, {"zwickau": "confirmed"})
    assert enqueue_only(ctx, "zwickau", NOW) == count
    return addresses


def _leased(ctx: Context) -> dict[str, tuple[str | None, datetime | None]]:
    """Address → (claimed by, lease until) of the rows being sent."""
    return {
        d.address: (d.claimed_by, as_utc(d.lease_until))
        for d in deliveries(ctx)
        if d.status == DeliveryStatus.SENDING
    }


def _wait_until(test: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if test():
            return True
        time.sleep(0.01)
    return False


class Hook(MemoryTransport):
    """Accepts every mail; before the first one, runs ``first`` (the test's probe)."""

    def __init__(self, first: Callable[[], None]) -> None:
        super().__init__()
        self.first = first

    def send(
        self,
        envelope_from: str,
        recipient: str,
        message: MessageSource,
        meanwhile: Callable[[], None] | None = None,
    ) -> str:
        if not self.sent and not self.attempts:
            self.first()
        return super().send(envelope_from, recipient, message, meanwhile)


def test_the_next_batch_is_leased_while_the_first_is_sent(db_ctx: Context) -> None:
    addresses = _queued(db_ctx, 5, batch_size=2)
    seen: list[int] = []

    def probe() -> None:  # two rows being sent and two claimed ahead, before any is out
        _wait_until(lambda: len(_leased(db_ctx)) == 4)
        seen.append(len(_leased(db_ctx)))

    transport = Hook(probe)
    stats = outbox.drain(db_ctx, transport, WORKER)
    assert seen == [4]
    assert [rcpt for _, rcpt, _ in transport.sent] == addresses  # in order, each once
    assert stats.sent == 5
    assert {d.status for d in deliveries(db_ctx)} == {DeliveryStatus.SENT}


def test_a_batch_that_waited_is_renewed_and_rows_taken_meanwhile_are_dropped(
    db_ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The look-ahead batch (p2, p3) waits longer than a third of the lease; meanwhile
    another worker takes p3 over. When its turn comes, p2's lease is renewed before p2 is
    sent, and p3 is left to the other worker."""
    _queued(db_ctx, 4, batch_size=2)
    lease = db_ctx.config.mail.lease_seconds
    offset = [0.0]
    monkeypatch.setattr(outbox, "clock", lambda: time.monotonic() + offset[0])
    before: dict[str, tuple[str | None, datetime | None]] = {}
    at_send: dict[str, datetime | None] = {}

    def probe() -> None:
        assert _wait_until(lambda: len(_leased(db_ctx)) == 4)
        before.update(_leased(db_ctx))
        with transaction(db_ctx.engine) as conn:
            conn.execute(
                update(deliveries_table)
                .where(deliveries_table.c.address == "p3@example.org")
                .values(claimed_by="w2")
            )
        offset[0] = lease / 2  # the look-ahead's leases are now older than a third

    class Watching(Hook):
        def send(
            self,
            envelope_from: str,
            recipient: str,
            message: MessageSource,
            meanwhile: Callable[[], None] | None = None,
        ) -> str:
            answer = super().send(envelope_from, recipient, message, meanwhile)
            at_send[recipient] = _leased(db_ctx)[recipient][1]
            return answer

    transport = Watching(probe)
    stats = outbox.drain(db_ctx, transport, WORKER)
    assert [rcpt for _, rcpt, _ in transport.sent] == [f"p{n}@example.org" for n in range(3)]
    renewed, first = at_send["p2@example.org"], before["p2@example.org"][1]
    assert renewed is not None and first is not None and renewed > first
    assert stats.sent == 3
    taken = {d.address: (d.status, d.claimed_by) for d in deliveries(db_ctx)}["p3@example.org"]
    assert taken == (DeliveryStatus.SENDING, "w2")  # not sent by us, still the other's


def test_a_look_ahead_batch_goes_back_when_the_transport_is_down(db_ctx: Context) -> None:
    addresses = _queued(db_ctx, 3, batch_size=1)
    transport = MemoryTransport()
    for address in addresses:
        transport.fail_with[address] = TransportUnavailableError(DOWN, address=address)
    stats = outbox.drain(db_ctx, transport, WORKER)
    assert stats.unavailable == DOWN
    rows = {d.address: d for d in deliveries(db_ctx)}
    assert {d.status for d in rows.values()} == {DeliveryStatus.QUEUED}
    assert {d.claimed_by for d in rows.values()} == {None}
    assert {d.attempts for d in rows.values()} == {0}
    # the row tried and the one claimed ahead carry the cause; the third was never claimed
    assert [rows[a].last_reply for a in addresses] == [DOWN, DOWN, None]


def test_stopping_gives_back_the_look_ahead_batch_too(db_ctx: Context) -> None:
    _queued(db_ctx, 4, batch_size=2)
    stop = threading.Event()

    def probe() -> None:
        assert _wait_until(lambda: len(_leased(db_ctx)) == 4)
        stop.set()

    transport = Hook(probe)
    stats = outbox.drain(db_ctx, transport, WORKER, stop=stop)
    assert stats.sent == 1  # the mail being sent when the stop came is finished
    statuses = sorted(d.status for d in deliveries(db_ctx))
    assert statuses == [DeliveryStatus.QUEUED] * 3 + [DeliveryStatus.SENT]
    assert {d.claimed_by for d in deliveries(db_ctx)} == {None}
