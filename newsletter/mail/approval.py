"""Approval (``schedule.approval = "manual"``): the slot drafts, an admin sends.

At a slot, :func:`draft_slot` plans the region's digest exactly as a send would (period
from the last sent digest's cut-off to the slot) but stores only a draft and mails every
admin with an address a link to review it; nothing goes to a subscriber. A draft not
approved stays a draft; the next slot drafts again from the same start, so its period
covers both, and the older draft is dropped. :func:`approve` (»Freigeben und senden«)
builds the digest of the draft's period with the editor's word as it is *now*, stores and
enqueues it through the one send path (:mod:`newsletter.mail.sending`; exactly once per
region and period), and writes who approved it into the audit log.
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from newsletter.context import Context
from newsletter.localtime import german_long
from newsletter.mail import sending
from newsletter.mail.outbox import enqueue_messages
from newsletter.models import Digest, DraftStatus
from newsletter.store import admins as admin_store
from newsletter.store import audit
from newsletter.store import drafts as draft_store
from newsletter.store.db import transaction
from newsletter.store.locks import advisory_lock
from newsletter.templating import environment

log = logging.getLogger(__name__)


def draft_slot(
    ctx: Context, region: str, cutoff: datetime, triggered_by: str = "schedule"
) -> DraftStatus:
    """Draft the region's digest up to ``cutoff`` and tell the admins (once per slot)."""
    digest = sending.plan(ctx, region, cutoff)
    if digest is None:
        return DraftStatus.NOTHING_NEW
    with transaction(ctx.engine) as conn:
        draft_id = draft_store.insert_draft(conn, digest, triggered_by)
        if draft_id is None:
            return DraftStatus.ALREADY_DRAFTED
        dropped = draft_store.drop_before(conn, region, digest.period_end)
        _notify_admins(ctx, conn, digest)
    log.info(
        "digest region=%s status=drafted draft=%s items=%d replaces=%d",
        region,
        draft_id,
        len(digest.item_ids),
        dropped,
    )
    return DraftStatus.DRAFTED


def approve(ctx: Context, draft_id: int, actor: str) -> sending.SendResult:
    """»Freigeben und senden«: store and enqueue the draft's digest (the caller drains)."""
    with transaction(ctx.engine) as conn:
        draft = draft_store.get(conn, draft_id)
    with advisory_lock(ctx.engine, f"digest:{draft.region}"):
        result = sending.enqueue_region(
            ctx, draft.region, now=draft.period_end, triggered_by=draft.triggered_by
        )
        with transaction(ctx.engine) as conn:
            draft_store.drop_up_to(conn, draft.region, draft.period_end)
            detail = {"draft": draft_id, "status": str(result.status)}
            detail |= {"digest": result.digest_id, "recipients": result.recipients}
            audit.record(conn, actor, "digest.approve", draft.region, detail)
    log.info("digest region=%s status=approved by=%s result=%s", draft.region, actor, result.status)
    return result


def _notify_admins(ctx: Context, conn: Connection, digest: Digest) -> None:
    """One mail per admin with an address: the draft waits for review (no personal data)."""
    region = ctx.config.region(digest.region)
    tz = ZoneInfo(ctx.config.site.timezone)
    values = {
        "site": ctx.config.site,
        "region_name": region.name if region else digest.region,
        "subject": digest.subject,
        "items": len(digest.item_ids),
        "period_end": german_long(digest.period_end, tz),
        "link": f"{ctx.config.site.base_url}/admin/newsletter/{digest.region}",
        "editorial_link": f"{ctx.config.site.base_url}/admin/redaktion/{digest.region}",
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
