"""Enqueue and drain deliveries: leases, retries with backoff, rate limit, crash safety.

The database is the queue (``newsletter.store.outbox``). A worker claims a batch with a
lease, sends each row through a :class:`~newsletter.mail.transports.Transport` and records
the outcome: retries and failures in their own short transaction, acceptances through
the :class:`~newsletter.mail.recorder.SentRecorder` (group commit on a thread).

Exactly once, as far as SMTP allows: a delivery is marked sent only after the server
accepted the message ("250" after the final "."). The residual window is between that
"250" and the recorder's commit (a millisecond or two; it writes while the sender
talks to the server about the next message): a crash there leaves the row leased;
when the lease expires another worker sends it again. So the residual risk is a duplicate, never a loss, and the duplicate carries the
same Message-ID (:func:`newsletter.mail.compose.message_id_for`). The same holds for a
timeout after the final "." (the server may have delivered): the retry reuses the
Message-ID. Leases are renewed while a batch is being sent, so a slow batch is never
taken over by a second worker; a worker that lost rows anyway (paused longer than the
lease) drops them from its batch at the next renewal.

Outcomes: 2yz → ``sent``; 4yz, mailbox full, timeout, lost connection → ``retry`` with
exponential backoff and jitter, ``failed`` after ``mail.max_attempts``; 5yz → ``failed``
at once, see :mod:`newsletter.mail.replies` for what it does to the address (5.1.x suspends,
5.7.x only alerts the operator, others count towards ``mail.suspend_after_failures``).
When no session can be opened at all (server down, TLS, AUTH) or the Maildir cannot be
written (disk full, no permission, read-only), the batch is given back without counting an
attempt against anyone, the cause is stored on the rows for the admin, and the drain
pauses instead of hammering the server or the disk.

``mail.rate_per_hour`` holds for all workers together and across restarts (counted in the
store at claim time); ``mail.rate_per_second`` is the pace of each process (all its drains
share one token bucket, ``Context.send_pace``).
A subscriber of several regions on one schedule slot gets one combined mail for them
(:func:`newsletter.mail.sending.send_slot`: one row per digest and subscriber, and each
subscriber is in exactly one digest per region of the slot), or one mail per region
with »eine E-Mail je Region«.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from newsletter.context import Context
from newsletter.errors import (
    DeliveryError,
    NewsletterError,
    PermanentDeliveryError,
    StoreError,
    TemporaryDeliveryError,
    TransportUnavailableError,
)
from newsletter.mail.compose import Outgoing, PreparedDigest, render_delivery
from newsletter.mail.recorder import SentRecorder
from newsletter.mail.replies import (
    NOT_ELIGIBLE,
    Verdict,
    counts_against_address,
    suspension,
    verdict,
)
from newsletter.mail.transports import Transport
from newsletter.mail.verp import envelope_sender
from newsletter.models import Accepted, Claimed, DeliveryStatus, Progress
from newsletter.retry import backoff
from newsletter.store import outbox as queue
from newsletter.store.db import as_utc, transaction, utcnow
from newsletter.store.locks import transaction_lock

log = logging.getLogger(__name__)
RETRY_CAP_SECONDS = 86400.0
clock = time.monotonic  # lease renewal's clock (a test moves it forward)


@dataclass
class DrainStats:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    unavailable: str | None = None  # why the transport could not be used (drain paused)
    throttled_until: datetime | None = None  # the hourly cap is reached until then (UTC)

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.failed


Rows = collections.deque[Claimed]


class Batch(list[Claimed]):
    """Claimed rows and when (:func:`clock`) their leases were taken."""

    def __init__(self, rows: Sequence[Claimed] = (), leased_at: float = 0.0) -> None:
        super().__init__(rows)
        self.leased_at = leased_at


def retry_delay(attempt: int, base_seconds: float, rng: random.Random | None = None) -> float:
    """Seconds until a delivery's next try: base · 2^(attempt-1), ±25 % jitter, capped at a day."""
    return backoff(attempt - 1, base_seconds, RETRY_CAP_SECONDS, jitter=0.25, rng=rng)


def drain(
    ctx: Context,
    transport: Transport,
    worker: str,
    *,
    stop: threading.Event | None = None,
    max_messages: int | None = None,
    progress: Progress[DrainStats] | None = None,
) -> DrainStats:
    """Send due deliveries until none are due, ``stop`` is set, the cap is reached or the
    transport is unavailable (``stats.unavailable``).

    While one batch is sent, the next is claimed on a second thread: the claim's round
    trips to the store (tens of milliseconds for a batch of 500 on PostgreSQL) then cost
    no sending time. As its turn comes, the look-ahead batch is checked again for who
    unsubscribed or was suspended meanwhile (one short statement), and its leases are
    renewed before its first row is sent if they are older than a third of the lease,
    like those of the batch being sent."""
    with SentRecorder(ctx.engine) as recorder, _Lookahead() as ahead:
        run = _Drain(ctx, transport, worker, stop, progress, recorder)
        batch = run.claim(run.room(max_messages))
        while batch and not run.stopped():
            ahead.start(run.claim, run.room(max_messages, after=len(batch)))
            run.send_batch(batch)
            upcoming = ahead.take()
            if run.stats.unavailable is not None:
                run.give_back(upcoming)
                break
            if upcoming is None:  # none was started: max_messages was reached at the time
                batch = run.claim(run.room(max_messages))
            else:
                batch = run.still_eligible(upcoming)
        if run.stopped():
            recorder.flush()  # a row handed over but not yet recorded must not be released
            with transaction(ctx.engine) as conn:
                queue.release(conn, worker)
    return run.stats


class _Lookahead:
    """The next batch's claim, on a thread of its own; :meth:`take` waits for it, and
    leaving the ``with`` block waits for a claim still running (whatever went wrong), so
    no lease is taken after the drain has ended or given its rows back."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="claim-ahead")
        self._claim: Future[Batch] | None = None

    def __enter__(self) -> _Lookahead:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._pool.shutdown(wait=True)

    def start(self, claim: Callable[[int], Batch], room: int) -> None:
        self._claim = self._pool.submit(claim, room) if room > 0 else None

    def take(self) -> Batch | None:
        """The claimed batch (None if none was started); raises what the claim raised."""
        claim, self._claim = self._claim, None
        return None if claim is None else claim.result()


class _Drain:
    """The state of one drain: stats, rate limit, digest cache, lease bookkeeping."""

    def __init__(
        self,
        ctx: Context,
        transport: Transport,
        worker: str,
        stop: threading.Event | None,
        progress: Progress[DrainStats] | None,
        recorder: SentRecorder,
    ) -> None:
        mail = ctx.config.mail
        self.recorder = recorder
        self.ctx, self.transport, self.worker = ctx, transport, worker
        self.stop, self.progress = stop, progress
        self.stats = DrainStats()
        self.limit = ctx.send_pace  # shared by the worker and manual sends of this process
        self.cache: dict[int, PreparedDigest] = {}
        self.envelope = mail.envelope_from or mail.from_address
        self.verp = ctx.config.bounces.verp  # a per-delivery envelope sender (mail.verp)
        self._ready: tuple[int, Outgoing] | None = None  # the next row's message, built ahead

    def stopped(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def room(self, max_messages: int | None, *, after: int = 0) -> int:
        """Batch size: never more than the rate allows within half a lease; ``after``
        rows already claimed and not yet sent count against ``max_messages``."""
        mail = self.ctx.config.mail
        room = min(mail.batch_size, max(1, int(mail.rate_per_second * mail.lease_seconds / 2)))
        if max_messages is not None:
            room = min(room, max_messages - self.stats.handled - after)
        return room

    def claim(self, room: int) -> Batch:
        """Lease up to ``room`` due rows; fewer, or none, near ``mail.rate_per_hour``.

        The cap holds for all workers together and across restarts: it is counted in the
        store (sent in the last hour plus in flight), and on PostgreSQL claims take turns
        (an advisory lock for the claim's transaction), so two workers cannot both spend
        the same remainder."""
        if room <= 0:
            return Batch()
        mail, now, leased_at = self.ctx.config.mail, utcnow(), clock()
        with transaction(self.ctx.engine) as conn:
            if not queue.any_due(conn, now):  # an idle poll: one probe, no lock, no count
                return Batch()
            transaction_lock(conn, "outbox-claim")
            used, oldest = queue.hourly_usage(conn, now)
            allowed = min(room, mail.rate_per_hour - used)
            if allowed <= 0:
                self.stats.throttled_until = hourly_cap_ends(oldest, now)
                log.info(
                    "hourly cap of %d mails reached, sending again at %s",
                    mail.rate_per_hour,
                    self.stats.throttled_until,
                )
                return Batch()
            rows = queue.claim(
                conn, self.worker, allowed, mail.lease_seconds, now=now, cancel_reply=NOT_ELIGIBLE
            )
        return Batch(rows, leased_at)

    def send_batch(self, batch: Batch) -> None:
        """Send ``batch``, renewing its leases a third of a lease after they were taken
        (at once for a look-ahead batch that waited that long)."""
        lease = self.ctx.config.mail.lease_seconds
        renew_at = batch.leased_at + lease / 3
        rows = collections.deque(batch)
        while rows and not self.stopped():
            if clock() >= renew_at:
                rows = self._renew(rows)
                renew_at = clock() + lease / 3
                continue
            self.limit.wait(self.stop)
            if self.stopped():
                return
            row = rows.popleft()
            try:
                self.deliver(row, rows[0] if rows else None)
            except TransportUnavailableError as exc:
                self._unavailable(row, rows, exc)
                return
            if self.progress is not None:
                self.progress(self.stats)

    def still_eligible(self, batch: Batch) -> Batch:
        """A look-ahead batch, checked again as its turn comes: who unsubscribed or was
        suspended while the batch before it was sent gets nothing (cancelled)."""
        digest_rows = [r.id for r in batch if r.digest_id is not None]
        if not digest_rows:
            return batch
        with transaction(self.ctx.engine) as conn:
            gone = queue.cancel_ineligible(conn, self.worker, digest_rows, NOT_ELIGIBLE)
        return Batch([r for r in batch if r.id not in gone], batch.leased_at)

    def give_back(self, batch: Batch | None) -> None:
        """Return a look-ahead batch unsent while the transport is unavailable (no attempt
        counted, the cause stored as with the batch that met the fault)."""
        if batch:
            self._postpone([r.id for r in batch], self.stats.unavailable)

    def _renew(self, rows: Rows) -> Rows:
        """Extend the leases of the rows still to send; drop rows another worker took."""
        until = utcnow() + timedelta(seconds=self.ctx.config.mail.lease_seconds)
        with transaction(self.ctx.engine) as conn:
            held = queue.extend_leases(conn, self.worker, [r.id for r in rows], until)
        lost = [r.id for r in rows if r.id not in held]
        if lost:
            log.warning("worker=%s lost leases on deliveries %s", self.worker, lost)
        return collections.deque(r for r in rows if r.id in held)

    def deliver(self, row: Claimed, upcoming: Claimed | None = None) -> None:
        """Build, send and record one delivery. The transport builds the message while
        the server answers MAIL FROM, and the next row's (``upcoming``) while the server
        takes in this one (see :mod:`newsletter.mail.transports`)."""
        outgoing: list[Outgoing] = []
        ready, self._ready = self._ready, None

        def build() -> bytes:
            if ready is not None and ready[0] == row.id:
                outgoing.append(ready[1])
            else:
                outgoing.append(render_delivery(self.ctx, row, self.cache))
            return outgoing[0].data

        meanwhile = None if upcoming is None else functools.partial(self._prebuild, upcoming)
        try:
            reply = self.transport.send(self._envelope(row), row.address, build, meanwhile)
        except TransportUnavailableError:
            raise
        except TemporaryDeliveryError as exc:
            self._retry(row, _reply(exc))
            return
        except PermanentDeliveryError as exc:
            self._failed(row, _reply(exc), verdict(exc.code or 550, exc.reply))
            return
        except NewsletterError as exc:  # from build(), e.g. CR/LF in a stored address
            self._failed(row, f"Nachricht nicht erstellbar: {exc.message}", None)
            return
        self.recorder.add(Accepted(row.id, reply, outgoing[0].message_id, utcnow()))
        self.stats.sent += 1

    def _prebuild(self, row: Claimed) -> None:
        """The next row's message, built while the server works on the current one; a
        failure is left to the row's own turn, which builds again and reports it there."""
        try:
            self._ready = (row.id, render_delivery(self.ctx, row, self.cache))
        except Exception:  # reported in the row's own turn, where it is built again
            self._ready = None

    def _envelope(self, row: Claimed) -> str:
        if not self.verp:
            return self.envelope
        return envelope_sender(self.ctx.config, self.ctx.secret_key, row.id)

    def _retry(self, row: Claimed, reply: str) -> None:
        mail = self.ctx.config.mail
        attempt = row.attempts + 1
        give_up = attempt >= mail.max_attempts
        at = utcnow() + timedelta(seconds=retry_delay(attempt, mail.retry_base_seconds))
        with transaction(self.ctx.engine) as conn:
            queue.mark_retry(conn, row.id, self.worker, reply, at, failed=give_up)
        if give_up:
            self.stats.failed += 1
        else:
            self.stats.retried += 1
        status = DeliveryStatus.FAILED if give_up else DeliveryStatus.RETRY
        log.info("delivery id=%s status=%s attempt=%d reply=%s", row.id, status, attempt, reply)

    def _failed(self, row: Claimed, reply: str, why: Verdict | None) -> None:
        """Failed for good; 5.1.x and other hard bounces count against the address."""
        suspended = False
        with transaction(self.ctx.engine) as conn:
            held = queue.mark_failed(conn, row.id, self.worker, reply)
            sid = row.subscriber_id
            if held and sid and why is not None and counts_against_address(why):
                bounces = queue.count_bounce(conn, sid)
                limit = self.ctx.config.mail.suspend_after_failures
                reason = suspension(why, bounces, limit, reply)
                suspended = reason is not None and queue.suspend(conn, sid, reason)
        self.stats.failed += 1
        level = logging.WARNING if why is Verdict.POLICY or why is None else logging.INFO
        log.log(
            level,
            "delivery id=%s status=failed verdict=%s suspended=%s reply=%s%s",
            row.id,
            why or "unbuildable",
            suspended,
            reply,
            " (policy refusal: check SPF/DKIM/DMARC and the relay; address kept)"
            if why is Verdict.POLICY
            else "",
        )

    def _unavailable(self, row: Claimed, rest: Rows, exc: DeliveryError) -> None:
        """No session, or a local fault (disk full, no write permission): give the row and
        the rest back without counting an attempt (the recipient is not at fault), with
        the cause stored for the admin, and pause the drain."""
        self.recorder.flush()
        self._postpone([row.id, *(r.id for r in rest)], exc.message)
        self.stats.unavailable = exc.message
        log.error("transport unavailable, sending paused: %s", exc.message)

    def _postpone(self, ids: list[int], reason: str | None) -> None:
        at = utcnow() + timedelta(seconds=self.pause_seconds())
        with transaction(self.ctx.engine) as conn:
            queue.postpone(conn, self.worker, ids, at, reason)

    def pause_seconds(self) -> float:
        return retry_delay(1, self.ctx.config.mail.retry_base_seconds)


def hourly_cap_ends(oldest_sent: datetime | None, now: datetime) -> datetime:
    """When a slot under the hourly cap frees: an hour after the oldest mail of the window
    (a minute from now if all of it is still in flight)."""
    if oldest_sent is None:
        return now + timedelta(minutes=1)
    return max(as_utc(oldest_sent) or now, now - timedelta(hours=1)) + timedelta(hours=1)


def _reply(exc: DeliveryError) -> str:
    """The server's answer with its code, as stored and shown to the admin."""
    if exc.code is None:
        return exc.reply or exc.message
    return f"{exc.code} {exc.reply}"


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
    """Queue a transactional mail (confirmation, manage link): sent by the same drain.

    Already personal, stored in ``payload``; no list headers. Call inside the caller's
    transaction, so the mail is queued if and only if the change that caused it commits.
    """
    return queue.enqueue_message(conn, **_stored(address, subject, text, html, kind, subscriber_id))


def enqueue_messages(conn: Any, mails: Sequence[dict[str, Any]]) -> None:
    """:func:`enqueue_message` for many mails (its keyword arguments) in one statement."""
    queue.enqueue_messages(conn, [_stored(**mail) for mail in mails])


def _stored(
    address: str, subject: str, text: str, html: str, kind: str, subscriber_id: int | None
) -> dict[str, Any]:
    payload = {"subject": subject, "text": text, "html": html}
    return {"address": address, "kind": kind, "payload": payload, "subscriber_id": subscriber_id}


def run_worker_blocking(
    ctx: Context, stop: threading.Event, worker: str, poll_seconds: float = 2.0
) -> None:
    """Drain until ``stop`` is set; sleeps ``poll_seconds`` when nothing is due, longer
    (the retry base, jittered) while the transport is unavailable."""
    from newsletter.mail.transports import open_transport

    transport = open_transport(ctx.config)
    try:
        failures = 0
        while not stop.is_set():
            try:
                stats = drain(ctx, transport, worker, stop=stop)
            except StoreError as exc:  # database gone for a moment: leases keep the rows
                failures += 1
                log.warning("outbox paused, database error (%d in a row): %s", failures, exc)
                stop.wait(backoff(failures - 1, poll_seconds, 60.0, jitter=0.2))
                continue
            failures = 0
            if stats.unavailable is not None:
                stop.wait(retry_delay(1, ctx.config.mail.retry_base_seconds))
            elif stats.throttled_until is not None:
                wait = (stats.throttled_until - utcnow()).total_seconds()
                stop.wait(min(max(wait, poll_seconds), 600.0))
            elif not stats.handled:
                stop.wait(poll_seconds)
    finally:
        transport.close()


def worker_name(suffix: str = "") -> str:
    """``host-pid[-suffix]``: unique per process, readable in ``claimed_by``."""
    name = f"{socket.gethostname()}-{os.getpid()}"
    return f"{name}-{suffix}" if suffix else name


async def run_worker(ctx: Context, stop: asyncio.Event, poll_seconds: float = 2.0) -> None:
    """The send worker inside ``newsletter serve``: a thread that stops when ``stop`` is set.

    The current message is finished and this worker's leases are released on stop.
    """
    flag = threading.Event()
    thread = asyncio.create_task(
        asyncio.to_thread(run_worker_blocking, ctx, flag, worker_name("serve"), poll_seconds)
    )
    await stop.wait()
    flag.set()
    await thread
