"""HTTP dates (RFC 9110 §5.6.7) for fetching and serving: one parser, always aware."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime


def parse_http_date(value: str) -> datetime | None:
    """An IMF-fixdate (or obsolete form) as an aware datetime; ``None`` when malformed."""
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def format_http_date(moment: datetime) -> str:
    """``Wed, 25 Nov 2026 08:01:17 GMT``."""
    return format_datetime(moment.astimezone(UTC), usegmt=True)
