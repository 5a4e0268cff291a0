"""Approval (``schedule.approval = "manual"``): the slot drafts, an admin sends.

At a slot, :func:`draft_slot` plans the digest of every region of the slot's group (the
regions on the same cron, :func:`newsletter.scheduler.slot_group`) exactly as a send would
(period from each region's last cut-off to the slot), stores one draft per region with
something new, all in one transaction, and mails every admin with an address one link to
review them; nothing goes to a subscriber. A draft not approved stays a draft; the next
slot drafts again from the same start, so its period covers both, and the older draft is
dropped.

The drafts of one slot are approved together (:func:`approve`, »Freigeben und senden« on
any of them): the slot is sent the way the schedule sends it in auto mode
(:func:`newsletter.mail.sending.plan_slot` and ``enqueue_slot``, the same path as
``send_slot``), with the editor's word as it is *now*, so a subscriber of several of the
slot's regions gets one combined mail and every subscriber each region exactly once. One
approval per slot rather than one per region: the button promises to send, and a
combined mail cannot go out region by region without either sending a region twice or
holding back an approved one. Who approved is written into the audit log.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from newsletter.config import Config
from newsletter.context import Context
from newsletter.localtime import german_long
from newsletter.mail import sending
from newsletter.mail.outbox import enqueue_messages
from newsletter.models import Digest, Draft, DraftSlot, DraftStatus, SendStatus, joined_names
from newsletter.scheduler import group_lock, slot_group
from newsletter.store import admins as admin_store
from newsletter.store import audit
from newsletter.store import drafts as draft_store
from newsletter.store.db import transaction
from newsletter.templating import environment

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Approval:
    """What »Freigeben und senden« for a slot came to: one result per stored digest (region
    and combined mails) or per region skipped (``nothing_new``, ``already_sent``)."""

    regions: tuple[str, ...]
    results: tuple[sending.SendResult, ...]

    @property
    def queued(self) -> bool:
        return any(r.status == SendStatus.QUEUED for r in self.results)

    @property
    def mails(self) -> int:
        """Mails enqueued: one per subscriber and stored digest."""
        return sum(r.recipients for r in self.results if r.status == SendStatus.QUEUED)


def slots(config: Config, drafts: Sequence[Draft]) -> list[DraftSlot]:
    """Waiting drafts grouped by slot (same cron group, same cut-off), regions in config
    order, slots in the order of their first draft (pure)."""
    order = {r.key: n for n, r in enumerate(config.region_list())}
    grouped: dict[tuple[tuple[str, ...], datetime], list[Draft]] = {}
    for draft in drafts:
        key = (slot_group(config, draft.region), draft.period_end)
        grouped.setdefault(key, []).append(draft)
    return [
        DraftSlot(tuple(sorted(group, key=lambda d: order.get(d.region, len(order)))))
        for group in grouped.values()
    ]


def slot_of(ctx: Context, conn: Connection, draft: Draft) -> DraftSlot:
    """The waiting slot ``draft`` belongs to (just the draft when it no longer waits)."""
    for slot in slots(ctx.config, draft_store.waiting(conn)):
        if draft.id in {d.id for d in slot.drafts}:
            return slot
    return DraftSlot((draft,))


def draft_slot(
    ctx: Context, regions: str | Sequence[str], cutoff: datetime, triggered_by: str = "schedule"
) -> dict[str, DraftStatus]:
    """Draft the digests of the slot's ``regions`` up to ``cutoff`` and tell the admins
    (once per slot); each region's status (a single key: that region alone)."""
    regions = (regions,) if isinstance(regions, str) else tuple(regions)
    with transaction(ctx.engine) as conn:  # the slot's other jobs: nothing to render
        status = dict.fromkeys(
            draft_store.drafted(conn, list(regions), cutoff), DraftStatus.ALREADY_DRAFTED
        )
    planned = [(key, sending.plan(ctx, key, cutoff)) for key in regions if key not in status]
    drafted: list[Digest] = []
    with transaction(ctx.engine) as conn:
        for key, digest in planned:
            if digest is None:
                status[key] = DraftStatus.NOTHING_NEW
            elif draft_store.insert_draft(conn, digest, triggered_by) is None:
                status[key] = DraftStatus.ALREADY_DRAFTED
            else:
                dropped = draft_store.drop_before(conn, key, digest.period_end)
                status[key] = DraftStatus.DRAFTED
                drafted.append(digest)
                log.info(
                    "digest region=%s status=drafted items=%d replaces=%d",
                    key,
                    len(digest.item_ids),
                    dropped,
                )
        if drafted:
            _notify_admins(ctx, conn, drafted)
    return {key: status[key] for key in regions}


def approve(ctx: Context, draft_id: int, actor: str) -> Approval:
    """»Freigeben und senden«: store and enqueue the digests of the draft's slot, combined
    where a subscriber has several of its regions (the caller drains)."""
    with transaction(ctx.engine) as conn:
        draft = draft_store.get(conn, draft_id)
        slot = slot_of(ctx, conn, draft)
    with group_lock(ctx, slot_group(ctx.config, draft.region)):
        plan = sending.plan_slot(ctx, slot.regions, slot.period_end)
        results = tuple(sending.enqueue_slot(ctx, plan, slot.drafts[0].triggered_by))
        approval = Approval(slot.regions, results)
        with transaction(ctx.engine) as conn:
            for key in slot.regions:
                draft_store.drop_up_to(conn, key, slot.period_end)
            audit.record(
                conn, actor, "digest.approve", "+".join(slot.regions), _detail(approval, slot)
            )
    log.info(
        "digest regions=%s status=approved by=%s mails=%d",
        "+".join(slot.regions),
        actor,
        approval.mails,
    )
    return approval


def _detail(approval: Approval, slot: DraftSlot) -> dict[str, object]:
    return {
        "drafts": [d.id for d in slot.drafts],
        "regions": list(slot.regions),
        "status": {r.region: str(r.status) for r in approval.results},
        "digests": {r.region: r.digest_id for r in approval.results if r.digest_id is not None},
        "mails": approval.mails,
    }


def _notify_admins(ctx: Context, conn: Connection, drafted: list[Digest]) -> None:
    """One mail per admin with an address: the slot's drafts wait for review (no personal
    data)."""
    names = [_region_name(ctx, d.region) for d in drafted]
    base = f"{ctx.config.site.base_url}/admin"
    one = drafted[0].region if len(drafted) == 1 else None
    values = {
        "site": ctx.config.site,
        "region_name": joined_names(names),
        "entries": [
            {"name": name, "subject": d.subject, "items": len(d.item_ids)}
            for name, d in zip(names, drafted, strict=True)
        ],
        "period_end": german_long(drafted[0].period_end, ZoneInfo(ctx.config.site.timezone)),
        "link": f"{base}/newsletter/{one}" if one else f"{base}/newsletter",
        "editorial_link": f"{base}/redaktion/{one or 'alle'}",
    }
    env = environment("email")
    text = env.get_template("approval.txt").render(**values)
    html = env.get_template("approval.html").render(**values)
    subject = f"Freigabe erbeten: Newsletter {values['region_name']}"
    mails = [
        {"address": a.email, "subject": subject, "text": text, "html": html, "kind": "approval"}
        for a in admin_store.all_admins(conn)
        if a.email and not a.disabled
    ]
    enqueue_messages(conn, [m | {"subscriber_id": None} for m in mails])


def _region_name(ctx: Context, key: str) -> str:
    region = ctx.config.region(key)
    return region.name if region else key
