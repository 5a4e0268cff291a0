"""How the digest history reads to a person (pure): who triggered a send, how old a draft is.

``triggered_by`` is stored as written by the send path: ``schedule``, ``cli``,
``admin:<name>``, ``api:<name>``; the admin pages show it in German.
"""

from __future__ import annotations

from datetime import datetime

_PLAIN = {"schedule": "Zeitplan", "cli": "Kommandozeile"}
_NAMED = {"admin": "Verwaltung", "api": "Schnittstelle", "cli": "Kommandozeile"}


def trigger_label(triggered_by: str | None) -> str:
    """»Zeitplan«, »Verwaltung (anna)«, »Kommandozeile«, »Schnittstelle (robot)«."""
    if not triggered_by:
        return "–"
    if triggered_by in _PLAIN:
        return _PLAIN[triggered_by]
    kind, _, name = triggered_by.partition(":")
    if kind in _NAMED and name:
        return f"{_NAMED[kind]} ({name})"
    return triggered_by


def age_text(since: datetime, now: datetime) -> str:
    """»seit 5 Minuten«, »seit 3 Stunden«, »seit 2 Tagen« (at least »seit 1 Minute«)."""
    minutes = max(int((now - since).total_seconds() // 60), 1)
    for size, one, many in ((1440, "Tag", "Tagen"), (60, "Stunde", "Stunden")):
        if minutes >= size:
            count = minutes // size
            return f"seit {count} {one if count == 1 else many}"
    return f"seit {minutes} {'Minute' if minutes == 1 else 'Minuten'}"
