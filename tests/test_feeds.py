"""Feeds are valid RSS 2.0, Atom 1.0, JSON Feed 1.1 and OPML 2.0 with stable ids."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree as ET

import feedparser
import pytest
from lxml import etree

from newsletter import curation, feeds
from newsletter.collect import collect_all
from newsletter.config import Config
from newsletter.context import Context
from newsletter.models import Item
from newsletter.sanitize import clean_html
from newsletter.store import items as item_store
from newsletter.store import sources as source_store
from newsletter.store.db import transaction, utcnow
from tests._golden import check_golden_bytes
from tests.feedfixtures import T0, sample_items, store_items

ATOM = "{http://www.w3.org/2005/Atom}"
GOLDEN = Path(__file__).parent / "data" / "golden"


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


def test_ids_survive_a_restart_and_edits_change_only_updated(db_ctx: Context) -> None:
    store_items(db_ctx, sample_items())
    first = _ids_and_updated(db_ctx)
    db_ctx.close()
    again = Context(db_ctx.config)  # a restart: new engine, new process state
    assert _ids_and_updated(again) == first
    with transaction(again.engine) as conn:
        item = item_store.get(conn, "item02")
        edited = replace(item, title="Neuer Titel", updated_at=item.updated_at + timedelta(days=1))
        item_store.update_item(conn, edited)
    after = _ids_and_updated(again)
    again.close()
    edited_id = "tag:127.0.0.1,2026:item/item02"
    assert set(after) == set(first)
    assert [k for k in after if after[k] != first[k]] == [edited_id]
    assert after[edited_id] > first[edited_id]


def _ids_and_updated(ctx: Context, region: str | None = "zwickau") -> dict[str, str]:
    with transaction(ctx.engine) as conn:
        items: list[Item] = item_store.latest(conn, region)
    info = feeds.feed_info(ctx.config, ctx.config.region(region) if region else None)
    parsed = feedparser.parse(feeds.render("atom", info, items, ctx.config, T0))
    return {e.id: e.updated for e in parsed.entries}


def test_ids_survive_a_restart_and_a_real_recollect(db_ctx: Context, tmp_path: Path) -> None:
    """The sample news folder collected, the process restarted, one file edited, collected
    again: the same ids in the same feed, only the edited entry has a new ``updated``."""
    folder = tmp_path / "news"
    shutil.copytree(Path(__file__).resolve().parent.parent / "news", folder)
    with transaction(db_ctx.engine) as conn:
        source_store.add(conn, name="Redaktion", kind="folder", location=str(folder))
    collect_all(db_ctx)
    first = _ids_and_updated(db_ctx, None)
    db_ctx.close()
    again = Context(db_ctx.config)
    edited = next(folder.glob("*zwickau*.md"))
    edited.write_text(edited.read_text(encoding="utf-8") + "\nNachtrag.\n", encoding="utf-8")
    collect_all(again)
    after = _ids_and_updated(again, None)
    again.close()
    assert len(first) >= 15 and set(after) == set(first)
    changed = [k for k in after if after[k] != first[k]]
    assert len(changed) == 1 and after[changed[0]] > first[changed[0]]


def test_opml_lists_saxony_and_every_region(config: Config) -> None:
    root = ET.fromstring(feeds.render_opml(config))
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
@pytest.mark.parametrize("region", ["zwickau", None])
def test_golden_feed_bytes(config: Config, kind: feeds.FeedKind, region: str | None) -> None:
    """Umlauts, &, <, an emoji, an item without link, a statewide item, an author, full
    content; fixed clock. ``UPDATE_GOLDEN=1`` rewrites the files (review the diff)."""
    name = f"feed-{region or feeds.SAXONY}.{kind}"
    check_golden_bytes(build(config, kind, region), GOLDEN / name)


def test_golden_opml(config: Config) -> None:
    check_golden_bytes(feeds.render_opml(config), GOLDEN / "feeds.opml")


# --- validity against the specifications -------------------------------------------------

ATOM_SCHEMA = etree.RelaxNG(etree.parse(str(Path(__file__).parent / "data" / "atom.rng")))


def configured(make_config: Callable[..., Config]) -> Config:
    """Every optional feature on: logo, WebSub hub."""
    return make_config(
        site={"logo_url": "https://example.org/logo.png"},
        feeds={"websub_hub": "https://hub.example.org/"},
    )


def every_feed(config: Config) -> Iterator[tuple[str, bytes]]:
    """Each kind for Saxony, for Zwickau and for a feed without items."""
    for kind in ("rss", "atom", "json"):
        for region in (None, "zwickau"):
            yield f"{region}.{kind}", build(config, kind, region)
        info = feeds.feed_info(config, config.region("chemnitz"))
        yield f"empty.{kind}", feeds.render(kind, info, [], config, T0)


@pytest.mark.parametrize("full", [False, True], ids=["plain", "logo+hub"])
def test_every_xml_feed_parses_without_bozo(make_config: Callable[..., Config], full: bool) -> None:
    config = configured(make_config) if full else make_config()
    for name, body in every_feed(config):
        if name.endswith(".json"):
            continue  # feedparser 6.0 reads no JSON Feed: see the next test
        parsed = feedparser.parse(body)
        assert parsed.bozo == 0, (name, parsed.get("bozo_exception"))
        assert parsed.version == {"rss": "rss20", "atom": "atom10"}[name.rsplit(".")[-1]]


@pytest.mark.parametrize("full", [False, True], ids=["plain", "logo+hub"])
def test_every_json_feed_has_the_json_feed_1_1_fields(
    make_config: Callable[..., Config], full: bool
) -> None:
    config = configured(make_config) if full else make_config()
    for name, body in every_feed(config):
        if name.endswith(".json"):
            _check_json_feed(json.loads(body.decode("utf-8")))


def _check_json_feed(feed: dict[str, object]) -> None:
    """JSON Feed 1.1: required ``version``, ``title``, ``items``; each item a string ``id``
    and ``content_html`` or ``content_text``; URLs absolute; dates RFC 3339 with a zone."""
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert isinstance(feed["title"], str) and feed["title"]
    for key in ("home_page_url", "feed_url", "icon"):
        assert str(feed.get(key, "https://")).startswith(("http://", "https://")), key
    for hub in feed.get("hubs", []):  # type: ignore[attr-defined]
        assert set(hub) == {"type", "url"}
    items = feed["items"]
    assert isinstance(items, list)
    for item in items:
        assert isinstance(item["id"], str) and item["id"]
        assert isinstance(item.get("content_html") or item.get("content_text"), str)
        assert item["url"].startswith(("http://", "https://"))
        for key in ("date_published", "date_modified"):
            assert datetime.fromisoformat(item[key]).tzinfo is not None
        assert all(isinstance(a["name"], str) for a in item.get("authors", []))


@pytest.mark.parametrize("full", [False, True], ids=["plain", "logo+hub"])
def test_atom_feeds_match_the_rfc_4287_schema(
    make_config: Callable[..., Config], full: bool
) -> None:
    config = configured(make_config) if full else make_config()
    for name, body in every_feed(config):
        if name.endswith(".atom"):
            document = etree.fromstring(body)
            assert ATOM_SCHEMA.validate(document), (name, ATOM_SCHEMA.error_log)
            _check_atom_schematron_rules(document)


def _check_atom_schematron_rules(feed: etree._Element) -> None:
    """The two rules RFC 4287 states in Schematron beside the RELAX NG grammar."""
    entries = feed.findall(ATOM + "entry")
    if feed.find(ATOM + "author") is None:
        assert all(e.find(ATOM + "author") is not None for e in entries)
    for entry in entries:
        alternate = [
            link
            for link in entry.findall(ATOM + "link")
            if link.get("rel", "alternate") == "alternate"
        ]
        assert alternate or entry.find(ATOM + "content") is not None


def test_the_schema_rejects_an_atom_feed_without_ids(config: Config) -> None:
    """The schema test can fail: an entry without ``atom:id`` is refused."""
    document = etree.fromstring(build(config, "atom"))
    entry = document.find(ATOM + "entry")
    assert entry is not None
    entry.remove(entry.find(ATOM + "id"))
    assert not ATOM_SCHEMA.validate(document)


def test_rss_channel_link_is_our_page_and_hub_is_announced(
    make_config: Callable[..., Config],
) -> None:
    channel = ET.fromstring(build(configured(make_config), "rss")).find("channel")
    assert channel is not None
    assert channel.findtext("link") == "http://127.0.0.1:8000/regionen/zwickau"
    rels = {link.get("rel"): link.get("href") for link in channel.findall(ATOM + "link")}
    assert rels == {
        "self": "http://127.0.0.1:8000/feeds/zwickau.rss",
        "hub": "https://hub.example.org/",
    }
    assert channel.findtext("image/url") == "https://example.org/logo.png"
    assert channel.findtext("image/link") == "http://127.0.0.1:8000/regionen/zwickau"


def test_atom_has_logo_and_the_feed_date_is_the_newest_change(
    make_config: Callable[..., Config],
) -> None:
    config = configured(make_config)
    root = ET.fromstring(build(config, "atom"))
    assert root.findtext(ATOM + "logo") == "https://example.org/logo.png"
    assert root.findtext(ATOM + "updated") == "2026-11-20T12:30:00+01:00"
    later = T0 + timedelta(days=1)  # e.g. an item of this feed was hidden since
    info = feeds.feed_info(config, config.region("zwickau"))
    moved = ET.fromstring(feeds.render("atom", info, [], config, later))
    assert moved.findtext(ATOM + "updated") == "2026-11-21T09:30:00+01:00"


def test_item_without_summary_shows_its_title_escaped(config: Config) -> None:
    item = replace(sample_items()[2], summary_html="")
    info = feeds.feed_info(config, None)
    feed = json.loads(feeds.render("json", info, [item], config, T0))
    assert feed["items"][0]["content_html"] == "Sicher im Netz &lt;Teil 2&gt; 🔒"
    entry = feedparser.parse(feeds.render("atom", info, [item], config, T0)).entries[0]
    assert entry.summary == "Sicher im Netz &lt;Teil 2&gt; 🔒"


def test_json_summary_is_plain_text_and_content_is_html(config: Config) -> None:
    feed = json.loads(build(config, "json", None))
    pirna = next(i for i in feed["items"] if i["id"].endswith("item05"))
    assert pirna["summary"] == "Schulwege in Pirna sicherer – Details."
    assert pirna["content_html"].startswith("<p>Langfassung")
    assert all(i["date_published"].endswith("+01:00") for i in feed["items"])


def test_json_summary_of_a_hostile_item_holds_no_tags(config: Config) -> None:
    """Escaped markup in a summary is text to the sanitiser; decoded, it must not become tags."""
    hostile = (
        "<p>&lt;script&gt;alert(1)&lt;/script&gt;Text &lt;b onclick=x&gt;fett&lt;/b&gt; "
        "&lt;style&gt;p{}&lt;/style&gt;&amp;lt;img&amp;gt; Tempo &lt; 30 &amp; mehr"
        "<script>alert(2)</script></p>"
    )
    item = replace(sample_items()[4], summary_html=clean_html(hostile, "https://e.org/"))
    feed = json.loads(feeds.render("json", feeds.feed_info(config, None), [item], config, T0))
    summary = feed["items"][0]["summary"]
    assert summary == "Text fett &lt;img&gt; Tempo < 30 & mehr"


def test_rss_names_author_or_source_as_creator(config: Config) -> None:
    entries = feedparser.parse(build(config, "rss", None)).entries
    assert {e.title: e.author for e in entries}["Präventionstag Leipzig"] == "Stadt Leipzig"
    assert all(e.get("author") for e in entries)


def test_store_version_moves_on_every_write(db_ctx: Context) -> None:
    """The feed cache's key: an insert, an edit, hiding and a region change each move it."""
    versions = []
    with transaction(db_ctx.engine) as conn:
        versions.append(item_store.version(conn))
    store_items(db_ctx, sample_items()[:2])
    with transaction(db_ctx.engine) as conn:
        versions.append(item_store.version(conn))
        item = item_store.get(conn, "item01")
        item_store.update_item(conn, replace(item, title="Neu", updated_at=utcnow()))
        versions.append(item_store.version(conn))
        item_store.set_hidden(conn, "item02", True)
        versions.append(item_store.version(conn))
        curation.set_regions(conn, "item02", override=["dresden"])
        versions.append(item_store.version(conn))
    assert versions[0] == (None, 0) and versions[1][1] == 2
    assert len(set(versions)) == len(versions)


def test_latest_reads_region_and_statewide_items_newest_first(db_ctx: Context) -> None:
    store_items(db_ctx, sample_items())
    with transaction(db_ctx.engine) as conn:
        zwickau = [i.id for i in item_store.latest(conn, "zwickau", limit=50)]
        first = [i.id for i in item_store.latest(conn, "zwickau", limit=1)]
        item_store.set_hidden(conn, "item03", True)
        hidden = [i.id for i in item_store.latest(conn, "zwickau", limit=50)]
    assert zwickau == ["item03", "item02"] and first == ["item03"] and hidden == ["item02"]
