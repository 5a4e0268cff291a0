"""Dates as German news pages and hand-written items write them (pure).

Understood: »17. Dezember 2021«, »17. Dez. 2021«, »Freitag, 17. Dezember 2021, 14:30 Uhr«,
»17.12.2021«, »17.12.21«, »17.12.2021 14:30«, ISO 8601 (»2021-12-17«,
»2021-12-17T14:30:00+01:00«) and RFC 822. A date without a time is midnight, a time
without a zone is local time (``Europe/Berlin`` unless told otherwise); results are UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, tzinfo
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")

MONTHS = {
    "januar": 1,
    "jänner": 1,
    "jan": 1,
    "februar": 2,
    "feb": 2,
    "märz": 3,
    "maerz": 3,
    "mär": 3,
    "mrz": 3,
    "april": 4,
    "apr": 4,
    "mai": 5,
    "juni": 6,
    "jun": 6,
    "juli": 7,
    "jul": 7,
    "august": 8,
    "aug": 8,
    "september": 9,
    "sept": 9,
    "sep": 9,
    "oktober": 10,
    "okt": 10,
    "november": 11,
    "nov": 11,
    "dezember": 12,
    "dez": 12,
}
_TIME = r"(?:\D{0,8}?(?P<hour>\d{1,2})[:.](?P<minute>\d{2})(?:[:.](?P<second>\d{2}))?)?"
_WORDS = re.compile(
    r"(?P<day>\d{1,2})\.\s*(?P<month>[a-zäöü]{3,9})\.?\s+(?P<year>\d{4})" + _TIME, re.IGNORECASE
)
_NUMERIC = re.compile(r"(?P<day>\d{1,2})\.(?P<month>\d{1,2})\.(?P<year>\d{4}|\d{2})\b" + _TIME)
_ISO = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
)


def parse_date(text: str, tz: tzinfo = BERLIN) -> datetime | None:
    """The first date in ``text`` as an aware UTC datetime, or ``None``."""
    text = text.strip()
    if not text:
        return None
    for parser in (_iso, _words, _numeric, _rfc822):
        found = parser(text, tz)
        if found is not None:
            return found.astimezone(UTC)
    return None


def as_datetime(value: date | datetime | str, tz: tzinfo = BERLIN) -> datetime | None:
    """A TOML date/datetime or a string as an aware UTC datetime (``None`` if unreadable)."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=tz)
        return aware.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), tz).astimezone(UTC)
    return parse_date(value, tz)


def _iso(text: str, tz: tzinfo) -> datetime | None:
    found = _ISO.search(text)
    if found is None:
        return None
    raw = found.group(0).replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", raw):
        raw = raw[:-2] + ":" + raw[-2:]
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)


def _words(text: str, tz: tzinfo) -> datetime | None:
    found = _WORDS.search(text)
    if found is None:
        return None
    month = MONTHS.get(found.group("month").lower().rstrip("."))
    if month is None:
        return None
    return _build(found, int(found.group("year")), month, tz)


def _numeric(text: str, tz: tzinfo) -> datetime | None:
    found = _NUMERIC.search(text)
    if found is None:
        return None
    year = int(found.group("year"))
    if year < 100:
        year += 2000 if year < 70 else 1900
    return _build(found, year, int(found.group("month")), tz)


def _build(found: re.Match[str], year: int, month: int, tz: tzinfo) -> datetime | None:
    hour = int(found.group("hour") or 0)
    minute = int(found.group("minute") or 0)
    second = int(found.group("second") or 0)
    try:
        return datetime(year, month, int(found.group("day")), hour, minute, second, tzinfo=tz)
    except ValueError:
        return None


def _rfc822(text: str, tz: tzinfo) -> datetime | None:
    try:
        value = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)
