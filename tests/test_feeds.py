"""Feeds are valid RSS 2.0, Atom 1.0, JSON Feed 1.1 and OPML 2.0 with stable ids."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from xml.etree import ElementTree as ET

import feedparser
import pytest

from newsletter import feeds
from newsletter.config import Config
from newsletter.context import Context
from newsletter.models import Item
from newsletter.store import items as item_store
from newsletter.store.db import transaction
from tests.feedfixtures import T0, sample_items, store_items

ATOM = "{http://www.w3.org/2005/Atom}"


def build(config: Config, kind: feeds.FeedKind, region: str | None = "zwickau") -> bytes:
    items = sample_items()
    if region is not None:
        items = [i for i in items if i.statewide or region in i.regions]
    info = feeds.feed_info(config, config.region(region) if region else None)
    return feeds.render(
        kind, info, sorted(items, key=lambda i: i.published_at, reverse=True), config, T0
    )


@pytest.mark.parametrize("kind", ["rss", "atom"])
@pytest.mark.parametrize("region", ["zwickau", None])
def test_xml_feeds_parse_without_errors(
    config: Config, kind: feeds.FeedKind, region: str | None
) -> None:
    parsed = feedparser.parse(build(config, kind, region))
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.feed.language.lower() == "de-de"
    assert all(
        e.link.startswith("http://127.0.0.1:8000/") or e.link.startswith("https://")
        for e in parsed.entries
    )


def test_region_feed_holds_own_and_statewide_items(config: Config) -> None:
    titles = [e.title for e in feedparser.parse(build(config, "rss")).entries]
    assert titles == [
        "Sicher im Netz <Teil 2> 🔒",
        "Fahrräder codieren – Aktion in Zwickau & Plauen",
    ]


def test_rss_has_required_elements_and_guid_is_not_a_permalink(config: Config) -> None:
    channel = ET.fromstring(build(config, "rss")).find("channel")
    assert channel is not None
    for name in ("title", "link", "description", "language", "lastBuildDate", "ttl"):
        assert channel.find(name) is not None, name
    assert channel.find("{http://www.w3.org/2005/Atom}link[@rel='self']") is not None
    for item in channel.findall("item"):
        for name in ("title", "link", "description", "guid", "pubDate"):
            assert item.find(name) is not None, name
        guid = item.find("guid")
        assert guid is not None and guid.get("isPermaLink") == "false"
        assert guid.text and guid.text.startswith("tag:127.0.0.1,2026:item/")


def test_rss_dates_have_numeric_zone_and_last_build_is_newest_item(config: Config) -> None:
    channel = ET.fromstring(build(config, "rss")).find("channel")
    assert channel is not None
    assert channel.findtext("lastBuildDate") == "Fri, 20 Nov 2026 12:30:00 +0100"
    assert channel.findtext("item/pubDate", "").endswith("+0100")


def test_atom_has_required_elements(config: Config) -> None:
    root = ET.fromstring(build(config, "atom"))
    for name in ("id", "title", "updated", "author"):
        assert root.find(ATOM + name) is not None, name
    self_link = root.find(ATOM + "link[@rel='self']")
    assert self_link is not None
    assert self_link.get("href") == "http://127.0.0.1:8000/feeds/zwickau.atom"
    for entry in root.findall(ATOM + "entry"):
        summary = entry.find(ATOM + "summary")
        assert summary is not None and summary.get("type") == "html"
        for name in ("id", "title", "updated"):
            assert entry.find(ATOM + name) is not None, name
        link = entry.find(ATOM + "link")
        # RFC 4287 §4.2.7.2: a link without rel is rel="alternate"
        assert link is not None and link.get("rel", "alternate") == "alternate"
        assert (link.get("href") or "").startswith(("http://", "https://"))


def test_json_feed_has_required_fields(config: Config) -> None:
    feed = json.loads(build(config, "json"))
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["feed_url"] == "http://127.0.0.1:8000/feeds/zwickau.json"
    assert {"title", "home_page_url", "language", "items"} <= feed.keys()
    for item in feed["items"]:
        assert isinstance(item["id"], str) and item["content_html"]
    assert feed["items"][0]["tags"] == ["Sachsen (landesweit)"]


def test_same_id_in_all_formats(config: Config) -> None:
    rss = {e.id for e in feedparser.parse(build(config, "rss")).entries}
    atom = {e.id for e in feedparser.parse(build(config, "atom")).entries}
    json_ids = {i["id"] for i in json.loads(build(config, "json"))["items"]}
    assert rss == atom == json_ids and len(rss) == 2


def test_item_without_link_points_to_our_page(config: Config) -> None:
    links = {e.title: e.link for e in feedparser.parse(build(config, "rss")).entries}
    assert links["Sicher im Netz <Teil 2> 🔒"] == "http://127.0.0.1:8000/meldungen/item03"


def test_same_items_give_identical_bytes(config: Config) -> None:
    assert build(config, "rss") == build(config, "rss")
    assert build(config, "atom") == build(config, "atom")


def test_ids_survive_a_restart_and_edits_change_only_updated(ctx: Context) -> None:
    store_items(ctx, sample_items())
    first = _ids_and_updated(ctx)
    ctx.close()
    again = Context(ctx.config)
    assert _ids_and_updated(again) == first
    with transaction(again.engine) as conn:
        item = item_store.get(conn, "item02")
        edited = replace(item, title="Neuer Titel", updated_at=item.updated_at + timedelta(days=1))
        item_store.update_item(conn, edited)
    after = _ids_and_updated(again)
    assert set(after) == set(first)
    changed = [k for k in after if after[k] != first[k]]
    assert len(changed) == 1
    again.close()


def _ids_and_updated(ctx: Context) -> dict[str, str]:
    with transaction(ctx.engine) as conn:
        items: list[Item] = item_store.latest(conn, "zwickau")
    info = feeds.feed_info(ctx.config, ctx.config.region("zwickau"))
    parsed = feedparser.parse(feeds.render("atom", info, items, ctx.config, T0))
    return {e.id: e.updated for e in parsed.entries}


def test_opml_lists_saxony_and_every_region(config: Config) -> None:
    root = ET.fromstring(feeds.render_opml(config, T0))
    assert root.get("version") == "2.0"
    assert root.findtext("head/title")
    outlines = root.findall("body/outline")
    assert [o.get("xmlUrl") for o in outlines] == [
        f"http://127.0.0.1:8000/feeds/{key}.rss"
        for key in [
            "sachsen",
            "leipzig-nordsachsen",
            "chemnitz",
            "ostsachsen",
            "zwickau",
            "dresden",
        ]
    ]
    assert all(o.get("type") == "rss" and o.get("htmlUrl") for o in outlines)


def test_websub_hub_is_advertised_when_configured(make_config: object) -> None:
    config = make_config(feeds={"websub_hub": "https://hub.example.org/"})  # type: ignore[operator]
    assert b'rel="hub"' in build(config, "atom")
    assert json.loads(build(config, "json"))["hubs"][0]["url"] == "https://hub.example.org/"


@pytest.mark.parametrize("kind", ["rss", "atom", "json"])
def test_golden_feed_bytes(config: Config, kind: feeds.FeedKind) -> None:
    """Umlauts, &, <, an emoji, an item without link, a statewide item; fixed clock."""
    from tests._golden import check_golden_bytes

    golden = Path(__file__).parent / "data" / "golden" / f"feed-zwickau.{kind}"
    check_golden_bytes(build(config, kind), golden)


def test_golden_opml(config: Config) -> None:
    from tests._golden import check_golden_bytes

    check_golden_bytes(
        feeds.render_opml(config, T0), Path(__file__).parent / "data" / "golden" / "feeds.opml"
    )
