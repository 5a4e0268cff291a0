"""Item store on SQLite and PostgreSQL: regions, statewide, overrides, hiding, periods."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from newsletter.context import Context
from newsletter.curation import set_regions
from newsletter.errors import NotFoundError
from newsletter.models import Item
from newsletter.store import items as store
from newsletter.store.db import transaction

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def make_item(item_id: str, regions: tuple[str, ...], hours: int = 0, **extra: object) -> Item:
    moment = T0 + timedelta(hours=hours)
    values: dict[str, object] = {
        "id": item_id,
        "title": f"Meldung {item_id}",
        "url": f"https://example.org/{item_id}",
        "summary_html": "<p>Text</p>",
        "content_html": "",
        "published_at": moment,
        "collected_at": moment,
        "updated_at": moment,
        "regions": regions,
        "classified_regions": regions,
    }
    return Item(**(values | extra))  # type: ignore[arg-type]


def add(ctx: Context, *items: Item) -> None:
    with transaction(ctx.engine) as conn:
        for item in items:
            store.insert_item(conn, item, canonical_url=item.url, title_key=item.id)


def test_region_feed_holds_own_and_statewide_items_newest_first(db_ctx: Context) -> None:
    add(
        db_ctx,
        make_item("a", ("zwickau",), 1),
        make_item("b", (), 2),
        make_item("c", ("dresden",), 3),
        make_item("d", ("zwickau", "chemnitz"), 4),
    )
    with transaction(db_ctx.engine) as conn:
        assert [i.id for i in store.latest(conn, "zwickau")] == ["d", "b", "a"]
        assert [i.id for i in store.latest(conn, None)] == ["d", "c", "b", "a"]
        assert store.count(conn, "dresden") == 2


def test_round_trip_keeps_aware_times_and_fields(db_ctx: Context) -> None:
    item = make_item("x", ("ostsachsen",), author="Polizeidirektion Görlitz")
    add(db_ctx, item)
    with transaction(db_ctx.engine) as conn:
        stored = store.get(conn, "x")
    assert stored.published_at == item.published_at
    assert stored.published_at.tzinfo is not None
    assert stored.author == "Polizeidirektion Görlitz"
    assert stored.regions == ("ostsachsen",) and not stored.statewide


def test_override_wins_and_can_be_cleared(db_ctx: Context) -> None:
    add(db_ctx, make_item("x", ("zwickau",)))
    with transaction(db_ctx.engine) as conn:
        changed = set_regions(conn, "x", override=["dresden"])
        assert changed.regions == ("dresden",)
        assert [i.id for i in store.latest(conn, "zwickau")] == []
        statewide = set_regions(conn, "x", override=[])
        assert statewide.statewide and [i.id for i in store.latest(conn, "zwickau")] == ["x"]
        back = set_regions(conn, "x", override=None)
        assert back.regions == ("zwickau",) and back.region_override is None


def test_reclassification_keeps_override(db_ctx: Context) -> None:
    add(db_ctx, make_item("x", ("zwickau",)))
    with transaction(db_ctx.engine) as conn:
        set_regions(conn, "x", override=["dresden"])
        item = set_regions(conn, "x", classified=["chemnitz"])
    assert item.regions == ("dresden",) and item.classified_regions == ("chemnitz",)


def test_hidden_items_leave_feeds_and_change_the_cache_key(db_ctx: Context) -> None:
    add(db_ctx, make_item("x", ()))
    with transaction(db_ctx.engine) as conn:
        before = store.newest_change(conn, "dresden")
        store.set_hidden(conn, "x", True)
        assert store.latest(conn, "dresden") == []
        assert store.newest_change(conn, "dresden") != before
        assert [i.id for i in store.search(conn)] == ["x"]


def test_collected_between_is_half_open(db_ctx: Context) -> None:
    add(
        db_ctx,
        make_item("a", ("zwickau",), 0),
        make_item("b", ("zwickau",), 5),
        make_item("c", ("zwickau",), 10),
    )
    with transaction(db_ctx.engine) as conn:
        got = store.collected_between(conn, "zwickau", T0, T0 + timedelta(hours=10))
    assert [i.id for i in got] == ["c", "b"]


def test_unknown_item_is_a_german_not_found(db_ctx: Context) -> None:
    with transaction(db_ctx.engine) as conn, pytest.raises(NotFoundError, match="gibt es nicht"):
        store.get(conn, "nope")
