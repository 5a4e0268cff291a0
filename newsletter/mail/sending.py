"""The one code path for scheduled and manual sends: plan, enqueue, drain.

``plan`` decides (region, period from the last digest's cut-off to ``now``, its items);
``send_region`` stores the digest (once per region and period), enqueues one delivery per
confirmed subscriber and drains the queue with the configured transport.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime

from newsletter import editor
from newsletter.context import Context
from newsletter.digests import build_digest
from newsletter.editorial import kept
from newsletter.errors import NotFoundError
from newsletter.mail.compose import personal_message, prepare_digest
from newsletter.mail.messages import header_safe
from newsletter.mail.outbox import DrainStats, drain, worker_name
from newsletter.mail.personalise import (
    find_placeholders,
    new_placeholders,
    personalise,
    preview_personal,
)
from newsletter.mail.transports import Transport, open_transport
from newsletter.models import Digest, Item, Progress, SendStatus
from newsletter.store import digests as digest_store
from newsletter.store import editorials as editorial_store
from newsletter.store import items as item_store
from newsletter.store import outbox as queue
from newsletter.store.db import transaction, utcnow

log = logging.getLogger(__name__)
TEST_MARK = "[TEST]"  # the subject of a test send starts with it


@dataclass(frozen=True)
class SendResult:
    region: str
    status: SendStatus
    digest_id: int | None = None
    items: int = 0
    recipients: int = 0
    stats: DrainStats | None = None


def plan(ctx: Context, region_key: str, now: datetime, force: bool = False) -> Digest | None:
    """The region's next digest, or None when nothing is new (``force``: repeat last period)."""
    region = ctx.config.region(region_key)
    if region is None:
        raise NotFoundError(f"Die Region »{region_key}« gibt es nicht.")
    with transaction(ctx.engine) as conn:
        start = digest_store.last_cutoff(conn, region_key)
        items = item_store.collected_between(conn, region_key, start, now)
        if not items and force:
            last = digest_store.latest_for_region(conn, region_key)
            start = last.period_start if last else None
            items = item_store.collected_between(conn, region_key, start, now)
        word = editor.word_for(conn, region_key)
    items = kept(word, items)
    if not items:
        log.info("digest region=%s status=nothing_new", region_key)
        return None
    placeholders = new_placeholders(ctx.secret_key, region.key, [i.id for i in items])
    return build_digest(region, items, start, now, ctx.config, placeholders, word)


def preview(ctx: Context, region_key: str, now: datetime | None = None) -> Digest | None:
    """The next digest as a partner would see it, with example personal links."""
    digest = plan(ctx, region_key, now or utcnow(), force=True)
    if digest is None:
        return None
    personal = preview_personal(ctx.config, region_key)
    slots = find_placeholders(ctx.secret_key, digest.region, digest.item_ids, digest.text)
    return replace(
        digest,
        html=personalise(digest.html, slots, personal, is_html=True),
        text=personalise(digest.text, slots, personal, is_html=False),
    )


def needing_check(ctx: Context, digest: Digest) -> list[Item]:
    """The digest's items whose regions an admin should check (noted in the preview)."""
    with transaction(ctx.engine) as conn:
        return item_store.needing_check(conn, digest.item_ids)


def check_note(item: Item) -> str:
    """One preview line: »Region prüfen: <title> (<reasons>)«."""
    reasons = "; ".join(item.region_check_reasons)
    return f"Region prüfen: {item.title}" + (f" ({reasons})" if reasons else "")


def send_region(
    ctx: Context,
    region_key: str,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    to: str | None = None,
    force: bool = False,
    triggered_by: str = "cli",
    transport: Transport | None = None,
    progress: Progress[DrainStats] | None = None,
) -> SendResult:
    """Build, store, enqueue and send a region's digest (or test-send it to ``to``).

    ``dry_run`` stores and sends nothing. ``to`` sends the digest to that one address
    with dummy personal links, straight through the transport: not stored, not counted
    as a delivery. The drain sends what is due now; anything left (retries, a paused
    transport) is sent by the worker.
    """
    moment = now or utcnow()
    digest = plan(ctx, region_key, moment, force=force or to is not None)
    if digest is None:
        return SendResult(region_key, SendStatus.NOTHING_NEW)
    if to is not None:
        return _test_send(ctx, digest, to, transport)
    if dry_run:
        with transaction(ctx.engine) as conn:
            recipients = queue.count_confirmed(conn, region_key)
        return SendResult(
            region_key, SendStatus.DRY_RUN, items=len(digest.item_ids), recipients=recipients
        )
    queued = _enqueue(ctx, digest, triggered_by)
    if queued.status != SendStatus.QUEUED:
        return queued
    stats = _drain_now(ctx, transport, progress)
    return replace(queued, status=SendStatus.SENT, stats=stats)


def enqueue_region(
    ctx: Context, region_key: str, *, now: datetime | None = None, triggered_by: str = "cli"
) -> SendResult:
    """Store the region's digest and enqueue its deliveries, without sending: the worker
    (or :func:`drain_queue`) sends them. ``status`` is ``queued``, ``nothing_new`` or
    ``already_sent``; items and recipients are counted at enqueue."""
    digest = plan(ctx, region_key, now or utcnow())
    if digest is None:
        return SendResult(region_key, SendStatus.NOTHING_NEW)
    return _enqueue(ctx, digest, triggered_by)


def _enqueue(ctx: Context, digest: Digest, triggered_by: str) -> SendResult:
    region_key = digest.region
    with transaction(ctx.engine) as conn:
        digest_id = digest_store.insert_digest(conn, digest, triggered_by=triggered_by)
        if digest_id is None:
            return SendResult(region_key, SendStatus.ALREADY_SENT, items=len(digest.item_ids))
        recipients = queue.enqueue_digest(conn, digest_id, region_key)
        if digest.intro_html or digest.pinned:  # the web archive shows the editor's word
            editorial_store.keep_for_digest(conn, digest_id, digest.intro_html, [*digest.pinned])
    log.info(
        "digest region=%s id=%s items=%d recipients=%d",
        region_key,
        digest_id,
        len(digest.item_ids),
        recipients,
    )
    return SendResult(region_key, SendStatus.QUEUED, digest_id, len(digest.item_ids), recipients)


def drain_queue(ctx: Context) -> DrainStats:
    """Send what is due now with the configured transport, at the process's shared pace."""
    return _drain_now(ctx, None, None)


def _drain_now(
    ctx: Context, transport: Transport | None, progress: Progress[DrainStats] | None
) -> DrainStats:
    own = transport or open_transport(ctx.config)
    try:
        return drain(ctx, own, worker_name("send"), progress=progress)
    finally:
        if transport is None:
            own.close()


def _test_send(ctx: Context, digest: Digest, to: str, transport: Transport | None) -> SendResult:
    """A test mail to one address: not stored, not counted as a delivery."""
    header_safe(to, "to")
    digest = replace(digest, subject=f"{TEST_MARK} {digest.subject}")  # never a real send
    message = personal_message(ctx, prepare_digest(ctx, digest), to, None, utcnow())
    own = transport or open_transport(ctx.config)
    try:
        envelope = ctx.config.mail.envelope_from or ctx.config.mail.from_address
        own.send(envelope, to, message.data)
    finally:
        if transport is None:
            own.close()
    return SendResult(digest.region, SendStatus.TEST_SENT, items=len(digest.item_ids), recipients=1)
