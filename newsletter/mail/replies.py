"""What an SMTP reply means for a delivery and for the address. Pure.

Basic codes (RFC 5321 §4.2.1): 2yz accepted, 4yz try again later, 5yz do not retry.
Enhanced status codes (RFC 3463, announced with ENHANCEDSTATUSCODES, RFC 2034) refine
the 5yz case:

=================  ==========================================================
``X.2.2``          mailbox full: soft, retried like a 4yz (also plain ``552``,
                   RFC 5321 §4.5.3.1.10)
``5.1.x``          the address does not exist: failed, address suspended at once
``5.7.x``          policy, authentication, spam block: failed, the address is
                   kept and the operator is told (it is our problem, not theirs)
other ``5yz``      failed; counts against the address, suspended after
                   ``mail.suspend_after_failures`` such failures
=================  ==========================================================
"""

from __future__ import annotations

import re
from enum import StrEnum

_ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})(?!\d)")


class Verdict(StrEnum):
    RETRY = "retry"
    BOUNCE = "bounce"
    UNKNOWN_USER = "unknown_user"
    POLICY = "policy"


def enhanced_status(reply: str) -> tuple[int, int, int] | None:
    """``(5, 1, 1)`` from ``"5.1.1 no such user"``; None without an enhanced code."""
    found = _ENHANCED.match(reply)
    if found is None:
        return None
    cls, subject, detail = (int(part) for part in found.groups())
    return cls, subject, detail


def verdict(code: int, reply: str) -> Verdict:
    """What to do after a refused transaction with basic ``code`` and reply text."""
    status = enhanced_status(reply)
    if code < 500 or code == 552 or (status is not None and status[1:] == (2, 2)):
        return Verdict.RETRY
    if status is None or status[0] != 5:
        return Verdict.BOUNCE
    if status[1] == 1:
        return Verdict.UNKNOWN_USER
    if status[1] == 7:
        return Verdict.POLICY
    return Verdict.BOUNCE


NOT_ELIGIBLE = "nicht versendet: nicht mehr angemeldet, gesperrt oder gelöscht"
"""The last reply of a digest delivery cancelled at claim time (see ``store.outbox.claim``)."""


def counts_against_address(why: Verdict | None) -> bool:
    """Whether a failure counts as a hard bounce of the address (5.7.x and unbuildable
    messages do not: they are our problem, not theirs)."""
    return why in (Verdict.BOUNCE, Verdict.UNKNOWN_USER)


def suspension(why: Verdict, bounces: int, suspend_after: int, reply: str) -> str | None:
    """Why the address is suspended after this hard bounce (its ``bounces``-th), or None:
    an unknown user at once, other bounces after ``suspend_after`` of them."""
    if why is Verdict.UNKNOWN_USER:
        return f"Adresse unbekannt: {reply[:200]}"
    if bounces >= suspend_after:
        return f"{suspend_after} dauerhafte Zustellfehler: {reply[:200]}"
    return None
