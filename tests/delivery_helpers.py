"""Test helpers for delivery: subscribers in the store and an aiosmtpd sink on loopback."""

from __future__ import annotations

import email
import email.policy
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import insert

from newsletter.config import Config
from newsletter.context import Context
from newsletter.mail import sending
from newsletter.mail.outbox import drain
from newsletter.mail.transports import open_transport
from newsletter.models import Delivery
from newsletter.store import digests as digest_store
from newsletter.store import outbox as queue
from newsletter.store import subscribers as subscriber_store
from newsletter.store.db import is_postgres, transaction, utcnow
from newsletter.store.schema import subscribers, subscriptions
from newsletter.subscriptions.tokens import Purpose
from tests.conftest import _truncate
from tests.feedfixtures import sample_items, store_items
from tests.livesrv import free_port, start_cli, wait_for


def add_subscriber(ctx: Context, email_address: str, regions: dict[str, str]) -> int:
    """A subscriber with per-region status (``{"zwickau": "confirmed"}``)."""
    now = utcnow()
    with transaction(ctx.engine) as conn:
        result = conn.execute(insert(subscribers).values(email=email_address, created_at=now))
        sid = int(result.inserted_primary_key[0])  # type: ignore[index]
        for region, status in regions.items():
            conn.execute(
                insert(subscriptions).values(
                    subscriber_id=sid,
                    region=region,
                    status=status,
                    requested_at=now,
                    confirmed_at=now if status == "confirmed" else None,
                )
            )
    return sid


def token_for(ctx: Context, sid: int, purpose: Purpose, region: str | None = None) -> str:
    """A link token for subscriber ``sid``, bound to its link key like the real ones."""
    with transaction(ctx.engine) as conn:
        key = subscriber_store.get(conn, sid).link_key
    return ctx.tokens.make(purpose, sid, region, link_key=key)


@dataclass
class Sink:
    """What the SMTP server received; ``reply`` decides each RCPT's answer."""

    messages: list[tuple[list[str], bytes]] = field(default_factory=list)
    reply: Callable[[str, int], str] = lambda address, attempt: "250 OK"
    attempts: dict[str, int] = field(default_factory=dict)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        self.attempts[address] = self.attempts.get(address, 0) + 1
        answer = self.reply(address, self.attempts[address])
        if answer.startswith("250"):
            envelope.rcpt_tos.append(address)
        return answer

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), bytes(envelope.original_content)))
        return "250 2.0.0 queued"

    def parsed(self) -> dict[str, EmailMessage]:
        out = {}
        for rcpts, data in self.messages:
            message = email.message_from_bytes(data, policy=email.policy.default)
            out[rcpts[0]] = message  # type: ignore[assignment]
        return out


@contextmanager
def smtp_sink(sink: Sink) -> Iterator[int]:
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, decode_data=False)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def smtp_settings(port: int) -> dict[str, Any]:
    """The ``[mail]`` settings for an SMTP sink on ``127.0.0.1:port``: no TLS, no pacing."""
    return {
        "transport": "smtp",
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_tls": "none",
        "rate_per_second": 1000.0,
    }


def smtp_context(make_config: Callable[..., Config], port: int, **mail: Any) -> Context:
    """A context sending to ``127.0.0.1:port`` without TLS, fast retries, sample items stored
    (on PostgreSQL in emptied tables: the schema is shared by the session's tests)."""
    config = make_config(mail=smtp_settings(port) | {"retry_base_seconds": 0.001} | mail)
    ctx = Context(config)
    ctx.init_db()
    if is_postgres(ctx.engine):
        _truncate(ctx)
    store_items(ctx, sample_items())
    return ctx


@contextmanager
def sending_context(
    make_config: Callable[..., Config], sink: Sink, **mail: Any
) -> Iterator[Context]:
    """:func:`smtp_context` on a running :func:`smtp_sink`, closed afterwards."""
    with smtp_sink(sink) as port:
        ctx = smtp_context(make_config, port, **mail)
        try:
            yield ctx
        finally:
            ctx.close()


def deliveries(ctx: Context) -> list[Delivery]:
    with transaction(ctx.engine) as conn:
        return queue.list_deliveries(conn)


def drain_until_done(ctx: Context) -> None:
    """The worker's loop, a few rounds (the retry base is 1 ms here)."""
    for _ in range(20):
        if all(row.status in ("sent", "failed") for row in deliveries(ctx)):
            return
        time.sleep(0.01)
        transport = open_transport(ctx.config)
        try:
            drain(ctx, transport, "test-worker")
        finally:
            transport.close()
    raise AssertionError(f"not done: {deliveries(ctx)}")


def enqueue_only(ctx: Context, region: str, now: datetime) -> int:
    """Store the region's digest and queue its deliveries without sending; the count."""
    digest = sending.plan(ctx, region, now)
    assert digest is not None, "no items for a digest"
    with transaction(ctx.engine) as conn:
        digest_id = digest_store.insert_digest(conn, digest, triggered_by="test")
        assert digest_id is not None
        return queue.enqueue_digest(conn, digest_id, region)


def outbox_empty(ctx: Context) -> bool:
    """Nothing left to send (for :func:`tests.livesrv.wait_for` while a worker runs)."""
    with transaction(ctx.engine) as conn:
        return queue.pending_count(conn) == 0


def finish_with_workers(config: Path, ctx: Context, seconds: float, workers: int = 1) -> None:
    """Run ``workers`` × ``newsletter worker`` until nothing is left to send (within
    ``seconds``); each must then stop cleanly on SIGTERM (exit 0)."""
    running = [start_cli(config, "worker", "--poll", "0.2") for _ in range(workers)]
    try:
        assert wait_for(lambda: outbox_empty(ctx), seconds, 0.05), (
            "the workers did not finish the queue"
        )
    finally:
        for worker in running:
            worker.send_signal(signal.SIGTERM)
        assert [w.wait(timeout=20) for w in running] == [0] * workers


def seed_confirmed(
    ctx: Context,
    count: int,
    regions_of: Callable[[int], Sequence[str]],
    address_of: Callable[[int], str],
    one_mail_per_region: Callable[[int], bool] = lambda n: False,
) -> None:
    """The sample items and ``count`` confirmed subscribers, in one transaction: subscriber
    ``n`` (id ``n + 1``) is ``address_of(n)``, confirmed in every region ``regions_of(n)``
    names, with »eine E-Mail je Region« if ``one_mail_per_region(n)``."""
    store_items(ctx, sample_items())
    now = utcnow()
    with transaction(ctx.engine) as conn:
        conn.execute(
            insert(subscribers),
            [
                {
                    "id": n + 1,
                    "email": address_of(n),
                    "created_at": now,
                    "per_region_mails": one_mail_per_region(n),
                }
                for n in range(count)
            ],
        )
        conn.execute(
            insert(subscriptions),
            [
                {
                    "subscriber_id": n + 1,
                    "region": region,
                    "status": "confirmed",
                    "requested_at": now,
                    "confirmed_at": now,
                }
                for n in range(count)
                for region in regions_of(n)
            ],
        )
