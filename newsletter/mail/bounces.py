"""The bounce job: read the bounce mailbox, record each bounce, act on the address.

Relays accept a mail first and bounce it later, so SMTP replies
(:mod:`newsletter.mail.replies`) do not see most dead addresses. This job reads the
mailbox the bounces go to (:mod:`newsletter.mail.mailboxes`), parses each message
(:mod:`newsletter.mail.dsn`), finds the delivery it is about and applies
:mod:`newsletter.mail.bounce_rules`, one message per transaction.

Finding the delivery: the VERP address the bounce was sent to (signed, see
:mod:`newsletter.mail.verp`), else the returned original's Message-ID
(``<nl.<delivery id>.<µs>@domain>``, which must equal the one stored for that delivery).
A bounce matching neither is recorded without an address change (»nicht zugeordnet«):
anybody can send mail to the bounce address, so an unsigned claim never suspends anyone.

Runs every ``bounces.interval_minutes`` in ``newsletter serve`` (job ``bounces``) and by
hand as ``newsletter bounces process``; each run is in the run log.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection
from sqlalchemy.exc import DataError, IntegrityError

from newsletter.context import Context
from newsletter.errors import NewsletterError, StoreError
from newsletter.mail import dsn
from newsletter.mail.bounce_rules import Consequence, bounce_kind, consequence
from newsletter.mail.mailboxes import Mailbox, open_mailbox
from newsletter.mail.verp import read_verp
from newsletter.models import BounceKind
from newsletter.store import bounces as store
from newsletter.store import outbox as queue
from newsletter.store import runs
from newsletter.store.db import transaction, utcnow
from newsletter.store.locks import advisory_lock

log = logging.getLogger("newsletter.bounces")
RAW_KEPT = 64_000  # characters of a bounce message kept for the admin page
UNMATCHED = "nicht zugeordnet: keine gültige VERP-Adresse und keine bekannte Message-ID"
_OUR_ID = re.compile(r"^<nl\.(\d{1,18})\.\d{20}@[^<>\s]+>$")


@dataclass
class BounceStats:
    read: int = 0
    hard: int = 0
    soft: int = 0
    complaints: int = 0
    policy: int = 0
    ignored: int = 0  # auto-replies, delay warnings, repeats
    unrecognised: int = 0  # left flagged in the mailbox
    unmatched: int = 0  # bounces of no delivery of ours
    suspended: int = 0
    unsubscribed: int = 0
    purged: int = 0


def run_bounce_job(ctx: Context, mailbox: Mailbox | None = None) -> BounceStats | None:
    """One run over the configured mailbox (or ``mailbox``); None if none is configured.

    The run is in the run log either way; a mailbox that cannot be read (IMAP down,
    Maildir not readable) ends it as ``error`` with the German reason and raises."""
    if mailbox is None and ctx.config.bounces.mailbox == "none":
        return None
    with transaction(ctx.engine) as conn:
        run_id = runs.start(conn, "bounces")
    box = mailbox
    try:
        box = open_mailbox(ctx.config) if mailbox is None else mailbox
        assert box is not None
        with advisory_lock(ctx.engine, "bounces"):
            stats = process(ctx, box)
            stats.purged = _purge(ctx)
    except Exception as exc:
        reason = exc.message if isinstance(exc, NewsletterError) else str(exc)
        with transaction(ctx.engine) as conn:
            runs.finish(conn, run_id, "error", {"error": reason[:500]})
        raise
    finally:
        if mailbox is None and box is not None:
            box.close()
    with transaction(ctx.engine) as conn:
        runs.finish(conn, run_id, "ok", asdict(stats))
    log.info("bounces %s", " ".join(f"{k}={v}" for k, v in asdict(stats).items()))
    return stats


def process(ctx: Context, mailbox: Mailbox) -> BounceStats:
    """Handle up to ``bounces.max_messages_per_run`` messages of ``mailbox``."""
    config = ctx.config.bounces
    stats = BounceStats()
    for key, data in mailbox.messages(config.max_messages_per_run):
        stats.read += 1
        report = dsn.parse(data, config.max_message_bytes)
        try:
            understood = handle(ctx, report, data, stats)
        except StoreError as exc:
            if not isinstance(exc.__cause__, DataError | IntegrityError):
                raise  # the store is at fault: stop, the message stays for the next run
            log.error("bounce mailbox: message %s not stored (%s); left flagged", key, exc.message)
            stats.unrecognised += 1
            understood = False
        mailbox.done(key, understood)
    return stats


def handle(ctx: Context, report: dsn.Report, data: bytes, stats: BounceStats) -> bool:
    """Record and act on one parsed message; False if nobody could understand it."""
    if report.kind is dsn.ReportKind.UNKNOWN:
        stats.unrecognised += 1
        log.warning("bounce mailbox: message not understood (subject=%r)", report.subject)
        return False
    entries = [(r, bounce_kind(report.kind, r)) for r in report.recipients]
    if report.kind is dsn.ReportKind.COMPLAINT and not entries:
        entries = [(dsn.Recipient("", "complaint", "", report.feedback_type), BounceKind.COMPLAINT)]
    found = [(r, kind) for r, kind in entries if kind is not None]
    if not found:
        stats.ignored += 1
        return True
    digest = hashlib.sha256(data).hexdigest()
    raw = _text(data[:RAW_KEPT].decode("utf-8", "replace"))
    with transaction(ctx.engine) as conn:
        target = _target(ctx, conn, report)
        for recipient, kind in _about(found, target):
            _one(ctx, conn, report, recipient, kind, target, digest, raw, stats)
    return True


def _target(ctx: Context, conn: Connection, report: dsn.Report) -> store.Target | None:
    """The delivery the report is about: by signed VERP address, else by Message-ID."""
    local = ctx.config.bounces.verp_local
    delivery_id = read_verp(ctx.secret_key, list(report.return_paths), local)
    if delivery_id is not None:
        target = store.delivery(conn, delivery_id)
        if target is not None:
            return target
    for message_id in report.message_ids:
        ours = _OUR_ID.match(message_id)
        if ours is not None:
            target = store.delivery_by_message_id(conn, int(ours.group(1)), message_id)
            if target is not None:
                return target
    return None


def _about(
    found: list[tuple[dsn.Recipient, BounceKind]], target: store.Target | None
) -> list[tuple[dsn.Recipient, BounceKind]]:
    """With a known delivery, the one entry about it (its address, else the first: a
    VERP bounce is about one recipient, perhaps under a forwarded address)."""
    if target is None:
        return [(r, k) for r, k in found if r.address]
    same = [(r, k) for r, k in found if r.address.lower() == target.address.lower()]
    return (same or found)[:1]


def _one(
    ctx: Context,
    conn: Connection,
    report: dsn.Report,
    recipient: dsn.Recipient,
    kind: BounceKind,
    target: store.Target | None,
    digest: str,
    raw: str,
    stats: BounceStats,
) -> None:
    address = _text(target.address if target else recipient.address)[:320]
    if store.known(conn, digest, address) or (target is None and _erased(ctx, conn, address)):
        stats.ignored += 1
        return
    bounce_id = store.record(
        conn,
        received_at=utcnow(),
        message_hash=digest,
        address=address,
        subscriber_id=target.subscriber_id if target else None,
        delivery_id=target.delivery_id if target else None,
        kind=kind.value,
        status=recipient.status[:20],
        diagnostic=_text(recipient.diagnostic)[:1000],
        reporter=_text(report.reporter)[:300],
        action=UNMATCHED,
        raw=raw,
    )
    _count(stats, kind)
    if target is None or target.subscriber_id is None:
        stats.unmatched += 1
        return
    detail = _text(" ".join(p for p in (recipient.status, recipient.diagnostic) if p) or kind.value)
    limit = ctx.config.bounces.soft_suspend_after
    recent = store.recent_bounced(conn, target.subscriber_id, limit)
    decided = consequence(kind, detail, recent, limit)
    _apply(ctx, conn, target, decided, detail, report, stats)
    store.set_action(conn, bounce_id, decided.action)
    log.log(
        logging.WARNING if kind is BounceKind.POLICY else logging.INFO,
        "bounce delivery=%s kind=%s status=%s action=%s",
        target.delivery_id,
        kind,
        recipient.status or "-",
        decided.action,
    )


def _erased(ctx: Context, conn: Connection, address: str) -> bool:
    """An address erased on request (DSGVO Art. 17) is not stored again by a late bounce."""
    from newsletter.store import subscribers as subscriber_store
    from newsletter.subscriptions.service import email_hash

    return subscriber_store.is_suppressed(conn, email_hash(ctx, address))


def _text(value: str) -> str:
    """Text from a bounce as a database can store it (PostgreSQL refuses NUL)."""
    return value.replace("\x00", "\\x00")


def _count(stats: BounceStats, kind: BounceKind) -> None:
    if kind is BounceKind.HARD:
        stats.hard += 1
    elif kind is BounceKind.SOFT:
        stats.soft += 1
    elif kind is BounceKind.COMPLAINT:
        stats.complaints += 1
    else:
        stats.policy += 1


def _apply(
    ctx: Context,
    conn: Connection,
    target: store.Target,
    decided: Consequence,
    detail: str,
    report: dsn.Report,
    stats: BounceStats,
) -> None:
    sid = target.subscriber_id
    assert sid is not None
    if decided.fail_delivery:
        store.fail_delivery(conn, target.delivery_id, f"Rückläufer: {detail}")
    if decided.suspend is not None:
        queue.count_bounce(conn, sid)
        if queue.suspend(conn, sid, decided.suspend):
            stats.suspended += 1
    if decided.unsubscribe and _unsubscribe_all(ctx, conn, sid, report):
        stats.unsubscribed += 1


def _unsubscribe_all(ctx: Context, conn: Connection, sid: int, report: dsn.Report) -> bool:
    """A complaint withdraws every region, with a consent-log entry naming the report,
    and suppresses the address (a roster import cannot add it again; the person can)."""
    from newsletter.store import subscribers as subscriber_store
    from newsletter.subscriptions.rules import Request, plan_unsubscribe
    from newsletter.subscriptions.service import apply, email_hash, record_event

    subscriber = subscriber_store.get(conn, sid)
    plan = plan_unsubscribe(subscriber.subscriptions, None)
    note = (
        f"Beschwerde (ARF, Feedback-Type {report.feedback_type or 'abuse'}) von {report.reporter}"
    )
    if not plan.empty:
        apply(conn, sid, plan)
    record_event(
        ctx, conn, sid, subscriber.email, "complaint", plan.unsubscribe,
        Request(actor="bounces"), note[:300],
    )  # fmt: skip
    subscriber_store.suppress(conn, email_hash(ctx, subscriber.email), "complaint")
    return not plan.empty


def _purge(ctx: Context) -> int:
    """Bounces are kept as long as deliveries (``schedule.delivery_retention_days``)."""
    days = ctx.config.schedule.delivery_retention_days
    with transaction(ctx.engine) as conn:
        return store.purge(conn, utcnow() - timedelta(days=days))


def last_run(ctx: Context) -> datetime | None:
    with transaction(ctx.engine) as conn:
        return runs.last_finished(conn, "bounces")
