"""»Jetzt senden«: a region's digest sent now, from the admin page or the API.

The same path as the schedule and the CLI (:mod:`newsletter.mail.sending`), under the
region's advisory lock like the scheduler's, so a manual send in another process waits
and then finds nothing new instead of building an overlapping digest. Which regions are
being sent by hand in this process is runtime state on the Context
(:class:`~newsletter.mail.sendstate.ManualSends`, guarded by a lock): a second »send now«
for the same region gets »läuft bereits« until the first has ended, also with an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from newsletter.mail import sending
from newsletter.models import SendStatus
from newsletter.store.locks import advisory_lock

if TYPE_CHECKING:
    from newsletter.context import Context


def send_claimed(ctx: Context, region: str, triggered_by: str) -> None:
    """Build, enqueue and send the digest of a claimed region, then give the claim back."""
    try:
        with advisory_lock(ctx.engine, f"digest:{region}"):
            sending.send_region(ctx, region, triggered_by=triggered_by)
    finally:
        ctx.manual_sends.release(region)


def enqueue_claimed(ctx: Context, region: str, triggered_by: str) -> sending.SendResult:
    """Store and enqueue the digest of a claimed region (items and recipients are counted
    here); unless it was queued, the claim is given back at once."""
    try:
        with advisory_lock(ctx.engine, f"digest:{region}"):
            result = sending.enqueue_region(ctx, region, triggered_by=triggered_by)
    except BaseException:
        ctx.manual_sends.release(region)
        raise
    if result.status != SendStatus.QUEUED:
        ctx.manual_sends.release(region)
    return result


def drain_claimed(ctx: Context, *regions: str) -> None:
    """Send what :func:`enqueue_claimed` (or an approval) queued (the worker's drain and
    pace), then give the claims back."""
    try:
        sending.drain_queue(ctx)
    finally:
        release_all(ctx, regions)


def claim_all(ctx: Context, regions: Sequence[str], who: str) -> bool:
    """Claim every region of a slot, or none (False: a send of one of them runs)."""
    claimed: list[str] = []
    for region in regions:
        if not ctx.manual_sends.claim(region, who):
            release_all(ctx, claimed)
            return False
        claimed.append(region)
    return True


def release_all(ctx: Context, regions: Sequence[str]) -> None:
    for region in regions:
        ctx.manual_sends.release(region)
