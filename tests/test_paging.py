"""Keyset paging of the region pages: cursors, the page decision, and the store's reads on
SQLite and PostgreSQL (every item exactly once, ties on the published time included)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from newsletter.context import Context
from newsletter.errors import InvalidInputError
from newsletter.models import Item, ItemKey
from newsletter.store import items as store
from newsletter.store.db import transaction
from newsletter.web import paging
from tests.test_store_items import make_item as store_item

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def make_item(n: int, regions: tuple[str, ...], hours: int) -> Item:
    return store_item(f"i{n:04d}", regions, hours)


def add(ctx: Context, items: list[Item]) -> None:
    with transaction(ctx.engine) as conn:
        store.insert_items(conn, [(item, None, item.id) for item in items])


def mixed(count: int, start: int = 0) -> list[Item]:
    """Zwickau, Dresden and statewide items; three share each published hour (ties)."""
    regions: list[tuple[str, ...]] = [("zwickau",), ("dresden",), ()]
    return [make_item(n, regions[n % 3], n // 3) for n in range(start, start + count)]


# --- cursors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "moment",
    [T0, T0.replace(microsecond=123456), datetime(1969, 12, 31, 23, 59, 59, 1, tzinfo=UTC)],
)
def test_a_cursor_is_exact_to_the_microsecond(moment: datetime) -> None:
    key = ItemKey(moment, "0123456789abcdef01234567")
    assert paging.decode(paging.encode(key)) == key


@pytest.mark.parametrize(
    "text", ["", "abc", "123", "1,", ",abc", "1,a b", "1,a/b", "9" * 18 + ",x", "1,a,b"]
)
def test_a_broken_cursor_is_a_german_400(text: str) -> None:
    with pytest.raises(InvalidInputError, match="ungültig") as caught:
        paging.decode(text)
    assert caught.value.http_status == 400


def test_the_canonical_query_of_each_position() -> None:
    key = ItemKey(T0, "abc")
    micros = paging.encode(key)
    assert paging.position().query() == ""
    assert paging.position(1).query() == ""
    assert paging.position(4).query() == "?seite=4"
    assert paging.position(3, vor=micros).query() == f"?vor={micros}&seite=3"
    assert paging.position(1, vor=micros).query() == f"?vor={micros}&seite=2"
    assert paging.position(2, nach=micros).query() == f"?nach={micros}&seite=2"


# --- the page decision (pure) ------------------------------------------------------------


def test_the_first_page_links_only_to_older_ones() -> None:
    rows = mixed(paging.PAGE_SIZE + 1)
    page = paging.page_of(paging.Position(), rows, 100, top=True)
    assert page.items == rows[:20] and page.number == 1 and page.pages == 5
    assert page.newer is None
    assert page.older == f"?vor={paging.encode(paging.key_of(rows[19]))}&seite=2"


def test_the_last_page_links_only_to_newer_ones() -> None:
    rows = mixed(7)
    after = paging.Position(3, after=paging.key_of(make_item(9, (), -100)))
    page = paging.page_of(after, rows, 47, top=False)
    assert page.items == rows and page.older is None and page.number == 3
    assert page.newer == f"?nach={paging.encode(paging.key_of(rows[0]))}&seite=2"


def test_page_two_links_back_to_the_start() -> None:
    rows = mixed(paging.PAGE_SIZE + 1)
    after = paging.Position(2, after=paging.key_of(rows[0]))
    assert paging.page_of(after, rows, 100, top=False).newer == ""


def test_a_page_above_shows_the_rows_nearest_its_cursor() -> None:
    rows = mixed(paging.PAGE_SIZE + 1)
    before = paging.Position(2, before=paging.key_of(make_item(99, (), 999)))
    page = paging.page_of(before, rows, 100, top=False)
    assert page.items == rows[1:] and page.newer == "" and page.older is not None


def test_an_old_page_number_past_the_end_links_to_the_start() -> None:
    page = paging.page_of(paging.Position(99), [], 30, top=False)
    assert page.items == [] and page.newer == "" and page.older is None


# --- the store's keyset reads (SQLite and PostgreSQL) ------------------------------------


def walk_down(ctx: Context, region: str, between: list[list[Item]] | None = None) -> list[str]:
    """Every page from the newest down, following the last item; ``between`` are items
    stored between two reads."""
    seen: list[str] = []
    after = None
    for step in range(1000):
        with transaction(ctx.engine) as conn:
            rows = store.older(conn, region, after, limit=paging.PAGE_SIZE)
        if not rows:
            return seen
        seen += [item.id for item in rows]
        after = paging.key_of(rows[-1])
        if between and step < len(between):
            add(ctx, between[step])
    raise AssertionError("no end")


def test_keyset_reads_give_every_item_once_with_ties(db_ctx: Context) -> None:
    add(db_ctx, mixed(100))
    seen = walk_down(db_ctx, "zwickau")
    with transaction(db_ctx.engine) as conn:
        expected = [i.id for i in store.latest(conn, "zwickau", limit=1000)]
    assert seen == expected and len(expected) == 67  # own + statewide, newest first


def test_keyset_reads_are_stable_while_items_arrive(db_ctx: Context) -> None:
    add(db_ctx, mixed(100))
    newer = [[make_item(1000 + n, ("zwickau",), 500 + n)] for n in range(10)]
    seen = walk_down(db_ctx, "zwickau", between=newer)
    assert len(seen) == len(set(seen)) == 67  # none twice, none lost, newer ones above


def test_reading_upwards_mirrors_reading_downwards(db_ctx: Context) -> None:
    add(db_ctx, mixed(60))
    with transaction(db_ctx.engine) as conn:
        everything = store.older(conn, None, None, limit=100)
        middle = paging.key_of(everything[30])
        above = store.newer(conn, None, middle, limit=10)
        below = store.older(conn, None, middle, limit=10)
    assert [i.id for i in above] == [i.id for i in everything[20:30]]
    assert [i.id for i in below] == [i.id for i in everything[31:41]]


def test_region_totals_count_what_the_pages_list(db_ctx: Context) -> None:
    items = mixed(90)
    items[3] = replace(items[3], hidden=True)  # a Zwickau item
    items[5] = replace(items[5], hidden=True)  # a statewide one
    add(db_ctx, items)
    keys = ["zwickau", "dresden", "chemnitz"]
    with transaction(db_ctx.engine) as conn:
        totals = store.region_totals(conn, keys)
        expected = {key: store.count(conn, key) for key in keys}
    assert totals == expected == {"zwickau": 58, "dresden": 59, "chemnitz": 29}
