"""Enqueue and drain deliveries: retries with backoff, rate limit, crash safety.

Exactly once, as far as SMTP allows: a delivery is marked sent in its own short
transaction right after the server accepted the message. A crash between the server's
"250" and that commit leaves the row leased; when the lease expires another worker sends
it again: the residual risk is a duplicate, never a loss. Temporary failures (4xx,
timeouts, lost connections) are retried with exponential backoff and jitter up to
``mail.max_attempts``; permanent ones (5xx) fail at once and count against the address.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from newsletter import digests as digest_render
from newsletter.context import Context
from newsletter.errors import PermanentDeliveryError, TemporaryDeliveryError
from newsletter.messages import Content, ListInfo, build_message, dkim_sign, to_bytes
from newsletter.models import Digest
from newsletter.store import digests as digest_store
from newsletter.store import outbox as queue
from newsletter.store.db import transaction, utcnow
from newsletter.tokens import Purpose
from newsletter.transports import Transport

log = logging.getLogger(__name__)


@dataclass
class DrainStats:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    by_status: dict[str, int] = field(default_factory=dict)


def backoff(attempt: int, base_seconds: float, rng: random.Random | None = None) -> float:
    """Seconds until the next try: base · 2^(attempt-1), ±25 % jitter, capped at a day."""
    jitter = (rng or random).uniform(0.75, 1.25)
    return float(min(base_seconds * 2 ** max(attempt - 1, 0), 86400.0) * jitter)


class RateLimit:
    """At most ``per_second`` messages a second and ``per_hour`` an hour from this worker."""

    def __init__(self, per_second: float, per_hour: int) -> None:
        self.interval = 1.0 / per_second
        self.next_at = time.monotonic()
        self.per_hour = per_hour
        self.sent: collections.deque[float] = collections.deque()

    def wait(self, stop: threading.Event | None = None) -> None:
        now = time.monotonic()
        while self.sent and self.sent[0] <= now - 3600:
            self.sent.popleft()
        if len(self.sent) >= self.per_hour:
            self.next_at = max(self.next_at, self.sent[0] + 3600)
        if self.next_at > now:
            pause = self.next_at - now
            if stop is None:
                time.sleep(pause)
            else:
                stop.wait(pause)
        self.next_at = max(self.next_at, time.monotonic()) + self.interval
        self.sent.append(time.monotonic())


def drain(
    ctx: Context,
    transport: Transport,
    worker: str,
    *,
    stop: threading.Event | None = None,
    max_messages: int | None = None,
) -> DrainStats:
    """Send due deliveries until none are due (or ``stop`` is set, or the cap is reached)."""
    stats, limit = (
        DrainStats(),
        RateLimit(ctx.config.mail.rate_per_second, ctx.config.mail.rate_per_hour),
    )
    cache: dict[int, Digest] = {}
    while not (stop and stop.is_set()):
        room = ctx.config.mail.batch_size
        if max_messages is not None:
            room = min(room, max_messages - stats.sent - stats.failed - stats.retried)
        if room <= 0:
            break
        with transaction(ctx.engine) as conn:
            batch = queue.claim(conn, worker, room, ctx.config.mail.lease_seconds)
        if not batch:
            break
        for row in batch:
            if stop and stop.is_set():
                break
            limit.wait(stop)
            if stop and stop.is_set():
                break
            _deliver(ctx, transport, worker, row, cache, stats)
    if stop and stop.is_set():
        with transaction(ctx.engine) as conn:
            queue.release(conn, worker)
    return stats


def _deliver(
    ctx: Context,
    transport: Transport,
    worker: str,
    row: dict[str, Any],
    cache: dict[int, Digest],
    stats: DrainStats,
) -> None:
    message = render_delivery(ctx, row, cache)
    envelope = ctx.config.mail.envelope_from or ctx.config.mail.from_address
    try:
        reply = transport.send(envelope, row["address"], wire_bytes(ctx, message))
    except TemporaryDeliveryError as exc:
        _retry(ctx, row, _reply(exc), stats)
        return
    except PermanentDeliveryError as exc:
        with transaction(ctx.engine) as conn:
            queue.mark_failed(
                conn,
                row["id"],
                _reply(exc),
                row["subscriber_id"],
                ctx.config.mail.suspend_after_failures,
            )
        stats.failed += 1
        log.warning("delivery id=%s status=failed reply=%s", row["id"], _reply(exc))
        return
    with transaction(ctx.engine) as conn:
        queue.mark_sent(conn, row["id"], worker, reply, str(message["Message-ID"]))
    stats.sent += 1


def wire_bytes(ctx: Context, message: Any) -> bytes:
    """The message as sent: CRLF bytes, DKIM-signed when a key is configured."""
    data = to_bytes(message)
    key = ctx.dkim_key
    return data if key is None else dkim_sign(data, key)


def _reply(exc: TemporaryDeliveryError | PermanentDeliveryError) -> str:
    """The server's answer with its code, as stored and shown to the admin."""
    if exc.code is None:
        return exc.reply or exc.message
    return f"{exc.code} {exc.reply}"


def _retry(ctx: Context, row: dict[str, Any], reply: str, stats: DrainStats) -> None:
    attempt = int(row["attempts"]) + 1
    give_up = attempt >= ctx.config.mail.max_attempts
    at = utcnow() + timedelta(seconds=backoff(attempt, ctx.config.mail.retry_base_seconds))
    with transaction(ctx.engine) as conn:
        queue.mark_retry(conn, row["id"], reply, at, failed=give_up)
    if give_up:
        stats.failed += 1
    else:
        stats.retried += 1
    log.info(
        "delivery id=%s status=%s attempt=%d reply=%s",
        row["id"],
        "failed" if give_up else "retry",
        attempt,
        reply,
    )


def render_delivery(ctx: Context, row: dict[str, Any], cache: dict[int, Digest]) -> Any:
    """The message for one delivery row: a personalised digest or a stored transactional mail."""
    when = utcnow()
    if row["digest_id"] is None:
        payload = row["payload"] or {}
        content = Content(payload["subject"], payload["text"], payload["html"])
        return build_message(ctx.config, content, row["address"], when)
    digest = cache.get(row["digest_id"])
    if digest is None:
        with transaction(ctx.engine) as conn:
            digest = cache[row["digest_id"]] = digest_store.get(conn, row["digest_id"])
    return personal_message(ctx, digest, row["address"], row["subscriber_id"], when)


def personal_message(
    ctx: Context, digest: Digest, address: str, subscriber_id: int | None, when: datetime
) -> Any:
    """Fill one recipient's links into the digest (no re-rendering, no re-inlining)."""
    base = ctx.config.site.base_url
    sid = subscriber_id or 0
    unsubscribe = f"{base}/abmelden/{ctx.tokens.make(Purpose.UNSUBSCRIBE, sid, digest.region)}"
    manage = f"{base}/einstellungen/{ctx.tokens.make(Purpose.MANAGE, sid)}"
    values = {"unsubscribe_url": unsubscribe, "manage_url": manage, "recipient": address}
    content = Content(
        digest.subject,
        digest_render.personalise(digest.text, **values),
        digest_render.personalise(digest.html, **values),
    )
    region = ctx.config.region(digest.region)
    info = ListInfo(digest.region, region.name if region else digest.region, unsubscribe)
    return build_message(ctx.config, content, address, when, info)


def enqueue_message(
    conn: Any,
    *,
    address: str,
    subject: str,
    text: str,
    html: str,
    kind: str,
    subscriber_id: int | None = None,
) -> int:
    """Queue a transactional mail (confirmation, manage link): sent by the same drain."""
    payload = {"subject": subject, "text": text, "html": html}
    return queue.enqueue_message(
        conn, address=address, kind=kind, payload=payload, subscriber_id=subscriber_id
    )


def run_worker_blocking(
    ctx: Context, stop: threading.Event, worker: str, poll_seconds: float = 2.0
) -> None:
    """Drain until ``stop`` is set; sleeps ``poll_seconds`` when nothing is due."""
    from newsletter.transports import open_transport

    transport = open_transport(ctx.config)
    try:
        while not stop.is_set():
            stats = drain(ctx, transport, worker, stop=stop)
            if not (stats.sent or stats.failed or stats.retried):
                stop.wait(poll_seconds)
    finally:
        transport.close()


async def run_worker(ctx: Context, stop: asyncio.Event, poll_seconds: float = 2.0) -> None:
    """The send worker inside ``newsletter serve``: a thread that stops when ``stop`` is set.

    The current message is finished and this worker's leases are released on stop.
    """
    flag = threading.Event()
    worker = f"{socket.gethostname()}-{os.getpid()}-serve"
    thread = asyncio.create_task(
        asyncio.to_thread(run_worker_blocking, ctx, flag, worker, poll_seconds)
    )
    await stop.wait()
    flag.set()
    await thread
