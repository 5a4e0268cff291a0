"""What a bounce that arrived later means for the address. Pure.

==============================  =============================================================
report                          consequence
==============================  =============================================================
``Action: delayed`` (warning),  nothing: the relay is still trying
auto-reply (»Abwesenheit«)
``5.7.x`` (policy, spam,        recorded as ``policy``; the address is kept and the operator
DMARC)                          warned: it is our problem (SPF, DKIM, relay), not theirs
``4.x.x`` given up, ``x.2.2``   ``soft``: the delivery is failed; the address is suspended
mailbox full, no code at all    when its last ``bounces.soft_suspend_after`` deliveries all
                                bounced (N in a row: a delivery without a bounce breaks it;
                                a new confirmation starts afresh)
other ``5.x.x``                 ``hard``: the delivery is failed, the address suspended at
                                once with the reason
ARF complaint (``abuse``,       ``complaint``: unsubscribed from every region (consent log),
``fraud``, ``virus``, other)    and suppressed so a roster import cannot add it again
==============================  =============================================================

A bounce's status code is read as :func:`newsletter.mail.replies.verdict` reads an SMTP
reply, so a reply means the same whether the relay refused at once or bounced later; only
the consequence of a hard bounce differs (at once here: a bounce that comes back after the
relay accepted the mail is the receiving side's final word about the address).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from newsletter.mail.dsn import Recipient, ReportKind
from newsletter.mail.replies import Verdict, verdict
from newsletter.models import BounceKind

IGNORED_ACTIONS = frozenset({"delayed", "delivered", "relayed", "expanded"})
COMPLAINT_IGNORED = frozenset({"not-spam", "auth-failure"})  # RFC 6650 §3, RFC 6591


def bounce_kind(report: ReportKind, recipient: Recipient) -> BounceKind | None:
    """The kind of bounce ``recipient``'s entry is, or None when it is none (a warning)."""
    if report is ReportKind.COMPLAINT:
        return None if recipient.diagnostic in COMPLAINT_IGNORED else BounceKind.COMPLAINT
    if report not in (ReportKind.DSN, ReportKind.NONSTANDARD):
        return None
    if recipient.action in IGNORED_ACTIONS:
        return None
    status = recipient.status
    if not status:  # a bounce that says nothing we can read: counted, never decisive
        return BounceKind.SOFT
    code = 550 if status.startswith("5") else 450
    why = verdict(code, f"{status} {recipient.diagnostic}")
    if why is Verdict.RETRY:
        return BounceKind.SOFT
    if why is Verdict.POLICY:
        return BounceKind.POLICY
    return BounceKind.HARD


@dataclass(frozen=True)
class Consequence:
    """What to do to the address (applied by :mod:`newsletter.mail.bounces`)."""

    suspend: str | None = None  # the reason, German
    unsubscribe: bool = False
    fail_delivery: bool = False
    action: str = ""  # what was done, German, for the admin page

    @property
    def changes_address(self) -> bool:
        return self.suspend is not None or self.unsubscribe


def consequence(
    kind: BounceKind, detail: str, recent: Sequence[bool], soft_suspend_after: int
) -> Consequence:
    """What a bounce of ``kind`` does. ``recent``: for the address's latest deliveries,
    newest first, whether each bounced (this bounce included); ``detail`` is the status
    and the remote reply, quoted in the reason."""
    quoted = detail[:200]
    if kind is BounceKind.COMPLAINT:
        return Consequence(
            unsubscribe=True, action="als Spam gemeldet: von allen Regionen abgemeldet"
        )
    if kind is BounceKind.POLICY:
        return Consequence(
            action="abgelehnt aus Richtliniengründen (SPF/DKIM/DMARC prüfen); Adresse bleibt"
        )
    if kind is BounceKind.HARD:
        return Consequence(
            suspend=f"Unzustellbar (Rückläufer): {quoted}",
            fail_delivery=True,
            action="dauerhaft unzustellbar: Adresse gesperrt",
        )
    streak = soft_streak(recent)
    if streak >= soft_suspend_after:
        return Consequence(
            suspend=f"{streak} vorübergehende Zustellfehler in Folge: {quoted}",
            fail_delivery=True,
            action=f"vorübergehend unzustellbar, {streak}. Mal in Folge: Adresse gesperrt",
        )
    return Consequence(
        fail_delivery=True,
        action=f"vorübergehend unzustellbar ({streak} von {soft_suspend_after} in Folge)",
    )


def soft_streak(recent: Sequence[bool]) -> int:
    """How many of the newest deliveries bounced in a row."""
    count = 0
    for bounced in recent:
        if not bounced:
            break
        count += 1
    return count
