"""Fault injection against a real SMTP server: drops, slowness, refusals, a dead server."""

from __future__ import annotations

import asyncio
import email
import email.policy
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from newsletter.config import Config
from newsletter.context import Context
from newsletter.errors import InvalidInputError, TransportUnavailableError
from newsletter.mail import sending
from newsletter.mail.recorder import SentRecorder
from newsletter.mail.replies import (
    Verdict,
    counts_against_address,
    enhanced_status,
    suspension,
    verdict,
)
from newsletter.mail.transports import MemoryTransport, MessageSource, open_transport
from newsletter.models import OPEN_DELIVERY, Accepted, DeliveryStatus
from newsletter.store.db import transaction, utcnow
from newsletter.store.schema import subscribers
from newsletter.subscriptions import privacy, rules
from newsletter.subscriptions import service as subscriptions
from tests.delivery_helpers import (
    Sink,
    add_subscriber,
    deliveries,
    drain_until_done,
    smtp_context,
    smtp_sink,
)
from tests.feedfixtures import sample_items, store_items
from tests.livesrv import free_port

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


class FaultySink(Sink):
    """A sink whose DATA answer misbehaves on the first attempt per recipient."""

    def __init__(self, fault: str) -> None:
        super().__init__()
        self.fault = fault
        self.data_calls: dict[str, int] = {}

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        address = envelope.rcpt_tos[0]
        self.data_calls[address] = self.data_calls.get(address, 0) + 1
        if self.data_calls[address] == 1:
            if self.fault == "drop":  # the connection dies before the final reply
                server.transport.abort()
                return "250 2.0.0 never heard"
            if self.fault == "slow":  # longer than the client's timeout, then accepted
                await asyncio.sleep(1.5)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def faulty(make_config: Callable[..., Config], request: Any) -> Iterator[tuple[Context, Sink]]:
    sink = FaultySink(request.param)
    with smtp_sink(sink) as port:
        ctx = smtp_context(make_config, port, smtp_timeout=0.5)
        yield ctx, sink
        ctx.close()


@pytest.mark.parametrize("faulty", ["drop"], indirect=True)
def test_connection_dropped_mid_data_is_retried_and_sent_once(
    faulty: tuple[Context, FaultySink],
) -> None:
    ctx, sink = faulty
    add_subscriber(ctx, "a@example.org", {"zwickau": "confirmed"})
    add_subscriber(ctx, "b@example.org", {"zwickau": "confirmed"})
    result = sending.send_region(ctx, "zwickau", now=NOW)
    assert result.stats is not None and result.stats.retried >= 1
    drain_until_done(ctx)
    rows = {row.address: row for row in deliveries(ctx)}
    assert {row.status for row in rows.values()} == {"sent"}
    assert sorted(rcpts[0] for rcpts, _ in sink.messages) == ["a@example.org", "b@example.org"]
    assert rows["a@example.org"].attempts == 2  # the dropped one, then the good one


def test_unbuildable_message_abandons_its_transaction_and_the_next_one_goes_out(
    make_config: Callable[..., Config],
) -> None:
    """The message is built while the server answers MAIL FROM; when building fails, the
    transaction is reset and the same connection carries on."""
    sink = Sink()
    with smtp_sink(sink) as port:
        ctx = smtp_context(make_config, port)
        add_subscriber(ctx, "a@example.org", {"zwickau": "confirmed"})
        add_subscriber(ctx, "evil\r\nBcc: x@example.org", {"zwickau": "confirmed"})
        add_subscriber(ctx, "c@example.org", {"zwickau": "confirmed"})
        result = sending.send_region(ctx, "zwickau", now=NOW)
        rows = {row.address: row for row in deliveries(ctx)}
        ctx.close()
    assert result.stats is not None and (result.stats.sent, result.stats.failed) == (2, 1)
    bad = rows["evil\r\nBcc: x@example.org"]
    assert bad.status == "failed" and bad.last_reply.startswith("Nachricht nicht erstellbar")
    assert sorted(rcpts[0] for rcpts, _ in sink.messages) == ["a@example.org", "c@example.org"]


def test_smtp_transport_resets_after_a_failed_build_and_stays_usable(
    make_config: Callable[..., Config],
) -> None:
    sink = Sink()

    def broken() -> bytes:
        raise ValueError("kaputt")

    with smtp_sink(sink) as port:
        ctx = smtp_context(make_config, port)
        transport = open_transport(ctx.config)
        try:
            with pytest.raises(ValueError, match="kaputt"):
                transport.send("from@example.org", "a@example.org", broken)
            with pytest.raises(InvalidInputError, match="Zeilenumbrüche"):  # no SMTP injection
                transport.send("from@example.org", "x@example.org>\r\nRSET", b"x\r\n")
            reply = transport.send("from@example.org", "b@example.org", b"Subject: x\r\n\r\nok\r\n")
        finally:
            transport.close()
            ctx.close()
    assert reply.startswith("250")
    assert [rcpts for rcpts, _ in sink.messages] == [["b@example.org"]]
    assert set(sink.attempts) == {"b@example.org"}  # RCPT was never sent for the others


@pytest.mark.parametrize("faulty", ["slow"], indirect=True)
def test_slow_server_times_out_and_the_retry_keeps_the_message_id(
    faulty: tuple[Context, FaultySink],
) -> None:
    """A timeout after the final "." may mean delivered: the retry carries the same
    Message-ID, so the receiver can drop the duplicate (RFC 5321 §4.5.3.2)."""
    ctx, sink = faulty
    add_subscriber(ctx, "slow@example.org", {"zwickau": "confirmed"})
    result = sending.send_region(ctx, "zwickau", now=NOW)
    assert result.stats is not None and result.stats.retried == 1
    drain_until_done(ctx)  # the retry base is 1 ms
    (row,) = deliveries(ctx)
    assert row.status == "sent" and row.attempts == 2
    time.sleep(1.2)  # the slow server's first DATA ends (it may or may not keep that copy)
    ids = [
        email.message_from_bytes(data, policy=email.policy.default)["Message-ID"]
        for _, data in sink.messages
    ]
    assert 1 <= len(ids) <= 2 and set(ids) == {row.message_id}


@pytest.fixture
def refusing(make_config: Callable[..., Config]) -> Iterator[tuple[Context, Sink]]:
    sink = Sink()
    with smtp_sink(sink) as port:
        ctx = smtp_context(make_config, port)
        yield ctx, sink
        ctx.close()


@pytest.mark.parametrize(
    ("reply", "status", "suspended", "bounces"),
    [
        ("550 5.1.1 <x> no such user", "failed", True, 1),
        ("550 5.7.1 rejected by policy (DMARC)", "failed", False, 0),
        ("554 5.6.0 content rejected", "failed", False, 1),
        ("552 5.2.2 mailbox full", "retry", False, 0),
        ("450 4.2.1 try later", "retry", False, 0),
    ],
)
def test_refusals_mean_what_their_codes_say(
    refusing: tuple[Context, Sink], reply: str, status: str, suspended: bool, bounces: int
) -> None:
    ctx, sink = refusing
    sink.reply = lambda address, attempt: reply
    sid = add_subscriber(ctx, "x@example.org", {"zwickau": "confirmed"})
    sending.send_region(ctx, "zwickau", now=NOW)
    (row,) = deliveries(ctx)
    assert row.status == status and reply.split()[0] in row.last_reply
    with transaction(ctx.engine) as conn:
        who = conn.execute(select(subscribers).where(subscribers.c.id == sid)).one()
    assert (who.suspended_at is not None, who.bounce_count) == (suspended, bounces)


def test_reply_verdicts() -> None:
    assert enhanced_status("5.1.1 no such user") == (5, 1, 1)
    assert enhanced_status("no code here") is None
    assert verdict(450, "4.2.1 busy") is Verdict.RETRY
    assert verdict(552, "mailbox full") is Verdict.RETRY
    assert verdict(550, "5.2.2 over quota") is Verdict.RETRY
    assert verdict(550, "5.1.1 unknown") is Verdict.UNKNOWN_USER
    assert verdict(550, "5.7.26 DMARC") is Verdict.POLICY
    assert verdict(550, "rejected") is Verdict.BOUNCE


def test_dead_server_pauses_the_batch_and_loses_nothing(
    make_config: Callable[..., Config],
) -> None:
    ctx = smtp_context(make_config, free_port())
    for n in range(3):
        add_subscriber(ctx, f"p{n}@example.org", {"zwickau": "confirmed"})
    result = sending.send_region(ctx, "zwickau", now=NOW)
    assert result.stats is not None
    assert result.stats.unavailable and "nicht erreichbar" in result.stats.unavailable
    assert (result.stats.retried, result.stats.sent) == (0, 0)  # paused at the first
    rows = sorted(deliveries(ctx), key=lambda r: r.id)
    assert [r.status for r in rows] == ["queued", "queued", "queued"]
    assert [r.attempts for r in rows] == [0, 0, 0]  # no recipient is at fault: none counted
    assert all("nicht erreichbar" in r.last_reply for r in rows)  # the cause, for the admin
    assert all(r.claimed_by is None for r in rows)
    ctx.close()


class UnsubscribingTransport(MemoryTransport):
    """Accepts a mail and, meanwhile, the next recipient unsubscribes."""

    def __init__(self, ctx: Context, leaver: int) -> None:
        super().__init__()
        self.ctx, self.leaver = ctx, leaver

    def send(
        self,
        envelope_from: str,
        recipient: str,
        message: MessageSource,
        meanwhile: Callable[[], None] | None = None,
    ) -> str:
        request = rules.Request()
        subscriptions.unsubscribe(self.ctx, self.leaver, None, request, "link")
        return super().send(envelope_from, recipient, message, meanwhile)


def test_who_unsubscribes_while_a_digest_is_queued_gets_nothing(
    make_config: Callable[..., Config],
) -> None:
    ctx = Context(make_config(mail={"batch_size": 1, "rate_per_second": 1000.0}))
    ctx.init_db()
    store_items(ctx, sample_items())
    add_subscriber(ctx, "stays@example.org", {"zwickau": "confirmed"})
    leaver = add_subscriber(ctx, "leaves@example.org", {"zwickau": "confirmed"})
    transport = UnsubscribingTransport(ctx, leaver)
    sending.send_region(ctx, "zwickau", now=NOW, transport=transport)
    assert [rcpt for _, rcpt, _ in transport.sent] == ["stays@example.org"]
    statuses = {r.address: r.status for r in deliveries(ctx)}
    assert statuses == {"stays@example.org": "sent", "leaves@example.org": "cancelled"}
    ctx.close()


def test_recorder_flushes_before_close_and_raises_a_failed_write(ctx: Context) -> None:
    add_subscriber(ctx, "a@example.org", {"zwickau": "confirmed"})
    store_items(ctx, sample_items())
    sending.send_region(ctx, "zwickau", now=NOW, transport=_Unavailable())
    (row,) = deliveries(ctx)
    with SentRecorder(ctx.engine, linger=0.05) as recorder:
        recorder.add(Accepted(row.id, "250 ok", "<m@x>", utcnow()))
        recorder.flush()  # waits out the linger
        (after,) = deliveries(ctx)
        assert after.status == "sent" and after.message_id == "<m@x>"
    ctx.engine.dispose()
    broken = SentRecorder(ctx.engine)
    with transaction(ctx.engine) as conn:
        conn.exec_driver_sql("DROP TABLE deliveries")
    broken.add(Accepted(row.id, "250 ok", "<m@x>", utcnow()))
    with pytest.raises(Exception, match="deliveries"):
        broken.flush()
    broken.close(raise_error=False)


class _Unavailable(MemoryTransport):
    def send(
        self,
        envelope_from: str,
        recipient: str,
        message: MessageSource,
        meanwhile: Callable[[], None] | None = None,
    ) -> str:
        raise TransportUnavailableError("aus", address=recipient)


def test_personal_data_export_lists_everything_stored(ctx: Context) -> None:
    store_items(ctx, sample_items())
    add_subscriber(ctx, "anna@example.org", {"zwickau": "confirmed", "dresden": "unsubscribed"})
    sending.send_region(ctx, "zwickau", now=NOW, transport=MemoryTransport())
    data = privacy.personal_data(ctx, "Anna@Example.org")
    person = data["subscriber"]
    assert person["email"] == "anna@example.org" and data["suppressed"] is False
    assert {s["region"]: s["status"] for s in person["subscriptions"]} == {
        "zwickau": "confirmed",
        "dresden": "unsubscribed",
    }
    assert [(m["kind"], m["status"]) for m in person["mails"]] == [("digest", "sent")]
    privacy.forget(ctx, "anna@example.org", actor="test")
    gone = privacy.personal_data(ctx, "anna@example.org")
    assert gone["subscriber"] is None and gone["suppressed"] is True
    assert all(e["ip"] is None for e in gone["consent_log"])


def test_suspension_rule_unknown_user_at_once_other_bounces_after_the_limit() -> None:
    assert counts_against_address(Verdict.BOUNCE) and counts_against_address(Verdict.UNKNOWN_USER)
    assert not counts_against_address(Verdict.POLICY) and not counts_against_address(None)
    unknown = suspension(Verdict.UNKNOWN_USER, 1, 3, "550 5.1.1 no such user")
    assert unknown == "Adresse unbekannt: 550 5.1.1 no such user"
    assert suspension(Verdict.BOUNCE, 2, 3, "554 rejected") is None
    assert (
        suspension(Verdict.BOUNCE, 3, 3, "554 rejected")
        == "3 dauerhafte Zustellfehler: 554 rejected"
    )
    assert len(suspension(Verdict.BOUNCE, 9, 3, "x" * 500) or "") < 250  # reply cut for storage


def test_cancelled_is_in_the_delivery_vocabulary() -> None:
    assert DeliveryStatus("cancelled") is DeliveryStatus.CANCELLED
    assert DeliveryStatus.CANCELLED not in OPEN_DELIVERY
