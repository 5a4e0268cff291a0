"""Paging a region's items by keyset, decided without I/O.

A link to an older page names the last item shown (``?vor=<published>,<id>``: microseconds
since 1970 in UTC and the item id), a link to a newer page the first one (``?nach=…``); the
store reads the page from there (:func:`newsletter.store.items.older` and ``newer``), so a
page costs the same however deep it is and however many items are stored, and items
added meanwhile never make a page repeat or skip one. ``seite`` travels along as the
number shown (»Seite 3 von 40«). A plain ``?seite=N`` (links from before, bookmarks)
still works: that page is read by offset once, and its own links are keyset links again.

Every position has one canonical query (:meth:`Position.query`), which is also the
page's key in the page cache: the links written into pages are those queries, so a
visitor following them is answered from the cache in front of the framework.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from newsletter.errors import InvalidInputError
from newsletter.models import Item, ItemKey

PAGE_SIZE = 20
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_CURSOR = re.compile(r"(-?\d{1,17}),([A-Za-z0-9._-]{1,32})")


def encode(key: ItemKey) -> str:
    """``<microseconds since 1970, UTC>,<id>``: exact, and safe in a query unescaped."""
    return f"{(key.published_at - EPOCH) // _MICROSECOND},{key.id}"


def decode(text: str) -> ItemKey:
    """The key of :func:`encode`; a German 400 for anything else."""
    found = _CURSOR.fullmatch(text)
    if found is None:
        raise InvalidInputError("Dieser Link zu einer Seite der Meldungen ist ungültig.")
    micros = int(found.group(1))
    try:
        when = EPOCH + micros * _MICROSECOND
    except OverflowError:
        raise InvalidInputError("Dieser Link zu einer Seite der Meldungen ist ungültig.") from None
    return ItemKey(when, found.group(2))


def key_of(item: Item) -> ItemKey:
    return ItemKey(item.published_at.astimezone(UTC), item.id)


@dataclass(frozen=True)
class Position:
    """Which page of a region is asked for: ``after`` (``?vor=``) the items older than a
    key, ``before`` (``?nach=``) those newer than one, else page ``page`` by offset."""

    page: int = 1
    after: ItemKey | None = None
    before: ItemKey | None = None

    def query(self) -> str:
        """The canonical query string (with its ``?``, empty for the first page)."""
        if self.after is not None:
            return f"?vor={encode(self.after)}&seite={self.page}"
        if self.before is not None:
            return f"?nach={encode(self.before)}&seite={self.page}"
        return f"?seite={self.page}" if self.page > 1 else ""


def position(seite: int = 1, vor: str | None = None, nach: str | None = None) -> Position:
    """The position a request names; ``vor`` wins over ``nach``."""
    if vor is not None:
        return Position(max(seite, 2), after=decode(vor))
    if nach is not None:
        return Position(max(seite, 1), before=decode(nach))
    return Position(seite)


@dataclass(frozen=True)
class Page:
    """What a region page shows: its items, its number, and the links around it."""

    items: list[Item]
    number: int
    pages: int
    total: int
    newer: str | None  # query of the page above (``""``: the first page), None on the first
    older: str | None  # query of the page below, None on the last


def page_of(position: Position, rows: list[Item], total: int, *, top: bool) -> Page:
    """Decide the page from what the store read for ``position``: up to ``PAGE_SIZE + 1``
    rows (one more than shown tells whether there is an older page; for ``before``, the
    extra one is the newest and tells whether there is a newer page). ``top``: the rows
    are the first page (no position, or ``before`` reached the newest item)."""
    if position.before is not None and not top:
        shown, more_above, more_below = rows[-PAGE_SIZE:], len(rows) > PAGE_SIZE, True
    else:
        shown, more_above = rows[:PAGE_SIZE], not top
        more_below = len(rows) > PAGE_SIZE
    pages = max(-(-total // PAGE_SIZE), 1)
    number = 1 if top else min(max(position.page, 2), max(pages, 2))
    newer = older = None
    if not shown and not top:  # past the end (an old ?seite= link): back to the start
        newer = ""
    if shown and more_above:
        newer = Position(number - 1, before=key_of(shown[0])).query() if number > 2 else ""
    if shown and more_below:
        older = Position(number + 1, after=key_of(shown[-1])).query()
    return Page(shown, number, pages, total, newer, older)
