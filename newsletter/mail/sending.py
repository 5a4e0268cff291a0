"""The one code path for scheduled and manual sends: plan, enqueue, drain.

``plan`` decides (region, period from the last digest's cut-off to ``now``, its items);
``send_region`` stores the digest (once per region and period), enqueues one delivery per
confirmed subscriber and drains the queue with the configured transport.

``send_slot`` does the same for several regions at one moment (a schedule slot shared
by regions on the same cron, ``newsletter send --all``): every region's digest is
stored as before (its cut-off, history and welcome mails stay per region), and each
subscriber of several of them gets one combined digest (``kind = "combined"``, region
»a+b+c«, a section per region, statewide items once) unless »eine E-Mail je Region« is
set. Exactly once per (slot, subscriber): the digests and all deliveries of the slot are
written in one transaction, each subscriber in one digest per region.

»Jetzt senden« for one region (``send_region``) sends that region's own digest to all of
its subscribers, combined or not, and moves the region's cut-off to now: the next slot's
combined mails carry that region only with what is new since (nothing new: the
subscriber's other regions alone, or a region mail if one is left).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Connection

from newsletter import editor
from newsletter.context import Context
from newsletter.digests import (
    assign,
    build_combined,
    build_digest,
    combined_word,
    earliest,
    unique_items,
)
from newsletter.editorial import kept
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
from newsletter.models import (
    Digest,
    DigestKind,
    EditorialView,
    Item,
    Progress,
    Region,
    SendStatus,
)
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
    region = ctx.config.known_region(region_key)
    start, items, word = _period(ctx, region_key, now, force)
    if not items:
        log.info("digest region=%s status=nothing_new", region_key)
        return None
    placeholders = new_placeholders(ctx.secret_key, region.key, [i.id for i in items])
    return build_digest(region, items, start, now, ctx.config, placeholders, word)


def _period(
    ctx: Context, region_key: str, now: datetime, force: bool
) -> tuple[datetime | None, list[Item], EditorialView]:
    """The start of the region's next period, its items (without those the editor left
    out; ``force``: the last period again when nothing is new) and the editor's word."""
    with transaction(ctx.engine) as conn:
        start = digest_store.last_cutoff(conn, region_key)
        items = item_store.collected_between(conn, region_key, start, now)
        if not items and force:
            last = digest_store.latest_for_region(conn, region_key)
            start = last.period_start if last else None
            items = item_store.collected_between(conn, region_key, start, now)
        word = editor.word_for(conn, region_key)
    return start, kept(word, items), word


def plan_combined(ctx: Context, region_keys: Sequence[str], now: datetime) -> Digest | None:
    """One combined mail of ``region_keys``' next digests (the last ones again where nothing
    is new), as a subscriber of all of them would get it; None without any items."""
    regions = [r for r in ctx.config.region_list() if r.key in region_keys]
    periods = {r.key: _period(ctx, r.key, now, True) for r in regions}
    regions = [r for r in regions if periods[r.key][1]]
    if len(regions) < 2:
        return plan(ctx, regions[0].key, now, force=True) if regions else None
    items = unique_items([item for r in regions for item in periods[r.key][1]])
    start = earliest([periods[r.key][0] for r in regions])
    word = combined_word([periods[r.key][2] for r in regions])
    key = "+".join(r.key for r in regions)
    placeholders = new_placeholders(ctx.secret_key, key, [i.id for i in items])
    return build_combined(regions, items, start, now, ctx.config, placeholders, word)


def preview(ctx: Context, region_key: str, now: datetime | None = None) -> Digest | None:
    """The next digest as a partner would see it, with example personal links."""
    return _with_preview_links(ctx, plan(ctx, region_key, now or utcnow(), force=True))


def preview_combined(
    ctx: Context, region_keys: Sequence[str], now: datetime | None = None
) -> Digest | None:
    """The next combined mail of ``region_keys`` with example personal links."""
    return _with_preview_links(ctx, plan_combined(ctx, region_keys, now or utcnow()))


def _with_preview_links(ctx: Context, digest: Digest | None) -> Digest | None:
    if digest is None:
        return None
    region_key = digest.region
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
        _keep_word(conn, digest_id, digest)
    log.info(
        "digest region=%s id=%s items=%d recipients=%d",
        region_key,
        digest_id,
        len(digest.item_ids),
        recipients,
    )
    return SendResult(region_key, SendStatus.QUEUED, digest_id, len(digest.item_ids), recipients)


def _keep_word(conn: Connection, digest_id: int, digest: Digest) -> None:
    """The web archive shows the editor's word a region digest went out with."""
    if digest.intro_html or digest.pinned:
        editorial_store.keep_for_digest(conn, digest_id, digest.intro_html, [*digest.pinned])


@dataclass(frozen=True)
class SlotPlan:
    """A slot's mails, rendered: each due region's digest (in config order) and one
    combined digest per set of regions that some subscriber gets in one mail."""

    moment: datetime
    order: tuple[str, ...]  # the regions with a digest this slot
    region_digests: dict[str, Digest]
    combined: dict[str, Digest]
    skipped: dict[str, SendStatus]  # region -> nothing_new / already_sent (covered)


def plan_slot(ctx: Context, region_keys: Sequence[str], now: datetime) -> SlotPlan:
    """Read the due regions' items and the slot's recipients, render every distinct mail
    once (no transaction is held while rendering)."""
    config = ctx.config
    for key in region_keys:
        config.known_region(key)
    regions = [r for r in config.region_list() if r.key in region_keys]
    starts: dict[str, datetime | None] = {}
    items: dict[str, list[Item]] = {}
    words: dict[str, EditorialView] = {}
    skipped: dict[str, SendStatus] = {}
    with transaction(ctx.engine) as conn:
        for region in regions:
            start = digest_store.last_cutoff(conn, region.key)
            if start is not None and start >= now:
                skipped[region.key] = SendStatus.ALREADY_SENT  # a manual send covered it
                continue
            word = editor.word_for(conn, region.key)
            found = kept(word, item_store.collected_between(conn, region.key, start, now))
            if found:
                starts[region.key], items[region.key], words[region.key] = start, found, word
            else:
                skipped[region.key] = SendStatus.NOTHING_NEW
        recipients = queue.slot_recipients(conn, list(items)) if len(items) > 1 else []
    order = tuple(items)
    region_digests = {
        region.key: build_digest(
            region,
            items[region.key],
            starts[region.key],
            now,
            config,
            new_placeholders(ctx.secret_key, region.key, [i.id for i in items[region.key]]),
            words[region.key],
        )
        for region in regions
        if region.key in items
    }
    combined = {}
    for key in assign(recipients, order, set(order)):
        keys = key.split("+")
        if len(keys) < 2:
            continue
        mine = unique_items([item for k in keys for item in items[k]])
        start = earliest([starts[k] for k in keys])
        combined[key] = build_combined(
            [r for r in regions if r.key in keys], mine, start, now, config,
            new_placeholders(ctx.secret_key, key, [i.id for i in mine]),
            combined_word([words[k] for k in keys]),
        )  # fmt: skip
    return SlotPlan(now, order, region_digests, combined, skipped)


def enqueue_slot(ctx: Context, plan: SlotPlan, triggered_by: str) -> list[SendResult]:
    """Store the slot's digests and queue each recipient's mails in one transaction: a
    subscriber gets each region of the slot exactly once, in one combined mail unless
    »eine E-Mail je Region« is set. Recipients are read again here; one whose set of
    regions has no rendered combined mail (changed since :func:`plan_slot`) gets the
    region mails."""
    results = [SendResult(key, status) for key, status in plan.skipped.items()]
    ids: dict[str, int] = {}
    with transaction(ctx.engine) as conn:
        for key, digest in plan.region_digests.items():
            digest_id = digest_store.insert_digest(conn, digest, triggered_by=triggered_by)
            if digest_id is None:  # another process stored this period: it sends it
                results.append(SendResult(key, SendStatus.ALREADY_SENT, items=len(digest.item_ids)))
            else:
                ids[key] = digest_id
                _keep_word(conn, digest_id, digest)
        for key, digest in plan.combined.items():
            if all(k in ids for k in key.split("+")):
                digest_id = digest_store.insert_digest(conn, digest, triggered_by=triggered_by)
                if digest_id is not None:
                    ids[key] = digest_id
        built = {k for k in plan.order if k in ids}
        recipients = queue.slot_recipients(conn, [k for k in plan.order if k in built])
        rows: list[tuple[int, int, str]] = []
        counts: dict[str, int] = {}
        for key, people in assign(recipients, plan.order, built).items():
            for target in [key] if key in ids else key.split("+"):
                rows.extend((ids[target], p.subscriber_id, p.address) for p in people)
                counts[target] = counts.get(target, 0) + len(people)
        queue.enqueue_rows(conn, rows)
    digests_by_key = plan.region_digests | plan.combined
    for key, digest_id in ids.items():
        items = len(digests_by_key[key].item_ids)
        log.info(
            "digest region=%s id=%s items=%d recipients=%d",
            key, digest_id, items, counts.get(key, 0),
        )  # fmt: skip
        results.append(SendResult(key, SendStatus.QUEUED, digest_id, items, counts.get(key, 0)))
    return results


def send_slot(
    ctx: Context,
    region_keys: Sequence[str],
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    triggered_by: str = "cli",
    transport: Transport | None = None,
    progress: Progress[DrainStats] | None = None,
) -> tuple[list[SendResult], DrainStats | None]:
    """Send the digests of several regions at one moment (a schedule slot, ``send --all``):
    one mail per subscriber for all of the subscriber's regions among them, unless the
    subscriber chose »eine E-Mail je Region«. ``dry_run`` renders and counts only."""
    plan = plan_slot(ctx, region_keys, now or utcnow())
    if dry_run:
        with transaction(ctx.engine) as conn:
            recipients = queue.slot_recipients(conn, list(plan.order))
        mails = assign(recipients, plan.order, set(plan.order))
        dry = [SendResult(key, status) for key, status in plan.skipped.items()]
        for key, people in mails.items():
            digest = plan.region_digests.get(key) or plan.combined[key]
            dry.append(SendResult(key, SendStatus.DRY_RUN, None, len(digest.item_ids), len(people)))
        return dry, None
    results = enqueue_slot(ctx, plan, triggered_by)
    if not any(r.status == SendStatus.QUEUED for r in results):
        return results, None
    stats = _drain_now(ctx, transport, progress)
    sent = [
        replace(r, status=SendStatus.SENT) if r.status == SendStatus.QUEUED else r for r in results
    ]
    return sent, stats


def welcome_digests(ctx: Context, conn: Connection, region_keys: Sequence[str]) -> list[int]:
    """The digests a late joiner of ``region_keys`` gets as a welcome: each region's
    latest digest, where several of them were cut off at the same slot one combined mail
    of those (stored once per set and slot; rendered here if no subscriber had it)."""
    latest = [
        (region, digest_store.latest_for_region(conn, region.key))
        for region in ctx.config.region_list()
        if region.key in region_keys
    ]
    by_end: dict[datetime, list[tuple[Region, Digest]]] = {}
    for region, digest in latest:
        if digest is not None and digest.id is not None:
            by_end.setdefault(digest.period_end, []).append((region, digest))
    ids: list[int] = []
    for end, group in by_end.items():
        if len(group) == 1:
            ids.append(group[0][1].id or 0)
            continue
        key = "+".join(region.key for region, _ in group)
        found = digest_store.find(conn, key, DigestKind.COMBINED, digest_store.period_key(end))
        found_id = _store_welcome(ctx, conn, group, end) if found is None else found.id
        if found_id is not None:
            ids.append(found_id)
        else:  # stored meanwhile by another process: the region digests instead
            ids.extend(digest.id or 0 for _, digest in group)
    return ids


def _store_welcome(
    ctx: Context, conn: Connection, group: list[tuple[Region, Digest]], end: datetime
) -> int | None:
    known = [item_store.find(conn, i) for _, digest in group for i in digest.item_ids]
    items = unique_items([item for item in known if item is not None])
    start = earliest([digest.period_start for _, digest in group])
    regions = [region for region, _ in group]
    key = "+".join(r.key for r in regions)
    placeholders = new_placeholders(ctx.secret_key, key, [i.id for i in items])
    word = combined_word([EditorialView(d.intro_html, d.pinned) for _, d in group])
    digest = build_combined(regions, items, start, end, ctx.config, placeholders, word)
    return digest_store.insert_digest(conn, digest, triggered_by="welcome")


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
