"""Times for people: German wording in the site's timezone (babel)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

_LONG = "EEEE, d. MMMM y, HH:mm 'Uhr'"
_SHORT = "dd.MM.y HH:mm"
_MEDIUM = "EEE, dd.MM.y, HH:mm 'Uhr'"


def _aware(value: datetime) -> datetime:
    """Naive values (SQLite, raw rows) are UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def german_long(value: datetime | None, tz: ZoneInfo, empty: str = "–") -> str:
    """``Donnerstag, 26. November 2026, 09:00 Uhr`` in ``tz``."""
    if value is None:
        return empty
    return str(format_datetime(_aware(value).astimezone(tz), _LONG, locale="de_DE"))


def german_short(value: datetime | None, tz: ZoneInfo, empty: str = "–") -> str:
    """``26.11.2026 09:00`` in ``tz``."""
    if value is None:
        return empty
    return str(format_datetime(_aware(value).astimezone(tz), _SHORT, locale="de_DE"))


def german_medium(value: datetime | None, tz: ZoneInfo, empty: str = "–") -> str:
    """``Do., 26.11.2026, 09:00 Uhr`` in ``tz``."""
    if value is None:
        return empty
    return str(format_datetime(_aware(value).astimezone(tz), _MEDIUM, locale="de_DE"))
