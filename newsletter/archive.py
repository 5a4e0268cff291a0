"""The public web archive's addresses: ``/newsletter/<region>/<period>`` (pure).

A period is named by its cut-off in UTC to the second (``2026-12-03T080000Z``), the same
instant as the stored digest's ``period_key``, so the address of a digest is known while it
is rendered (the mail's »Im Browser ansehen« link) and finds exactly one stored digest.
"""

from __future__ import annotations

from datetime import UTC, datetime

_SLUG = "%Y-%m-%dT%H%M%SZ"
_KEY = "%Y-%m-%dT%H:%M:%SZ"


def period_slug(period_end: datetime) -> str:
    """The period's name in the address."""
    return period_end.astimezone(UTC).strftime(_SLUG)


def period_key_of(slug: str) -> str | None:
    """The stored ``period_key`` a slug names, or None when it names no instant."""
    try:
        moment = datetime.strptime(slug, _SLUG)
    except ValueError:
        return None
    return moment.strftime(_KEY)


def archive_url(base_url: str, region: str, period_end: datetime) -> str:
    """The public page of a region's digest."""
    return f"{base_url.rstrip('/')}/newsletter/{region}/{period_slug(period_end)}"


def region_archive_url(base_url: str, region: str) -> str:
    """The list of a region's sent digests."""
    return f"{base_url.rstrip('/')}/newsletter/{region}"
