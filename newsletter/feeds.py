"""Items -> RSS 2.0, Atom 1.0, JSON Feed 1.1 and OPML 2.0 bytes. Pure: no store, no network.

Ids are ``tag:<site domain>,<year first collected>:item/<item id>`` in all three formats
(RFC 4151); ``collected_at`` never changes, so neither does the id. Links are absolute: the
item's own URL, else our page ``/meldungen/<id>``. Dates are timezone-aware, shown in the
site's timezone. The feed's ``lastBuildDate``/``updated`` is the newest item change, not
"now", so unchanged content gives unchanged bytes (and ETags).
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, cast
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

from feedgen.entry import FeedEntry
from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from newsletter.config import Config
from newsletter.models import STATEWIDE_NAME, Item, Region
from newsletter.sanitize import markup_free_text
from newsletter.teasers import teaser

FeedKind = Literal["rss", "atom", "json"]
SAXONY = "sachsen"
MEDIA_TYPES: dict[str, str] = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
    "opml": "text/x-opml; charset=utf-8",
}
EXTENSIONS: dict[FeedKind, str] = {"rss": "rss", "atom": "atom", "json": "json"}
EMPTY_FEED_TIME = datetime(2026, 1, 1, tzinfo=UTC)  # the date of a feed without items
FEED_ID_YEAR = 2026  # the year in every feed's tag: id; never change it
ATOM_NS = "http://www.w3.org/2005/Atom"


@dataclass(frozen=True)
class FeedInfo:
    """What a feed is about: a region, or all of Saxony (``key == "sachsen"``)."""

    key: str
    title: str
    description: str
    html_url: str

    def url(self, base_url: str, kind: FeedKind) -> str:
        return f"{base_url}/feeds/{self.key}.{EXTENSIONS[kind]}"


def feed_info(config: Config, region: Region | None) -> FeedInfo:
    """Title, description and page of a region's feed (``None``: all of Saxony)."""
    base = config.site.base_url
    if region is None:
        return FeedInfo(
            SAXONY,
            f"{config.site.name} – Sachsen",
            "Präventionsnachrichten der Allianz Sichere Sächsische Kommunen für ganz Sachsen.",
            f"{base}/",
        )
    return FeedInfo(
        region.key,
        f"{config.site.name} – {region.name}",
        f"Präventionsnachrichten für die Region {region.name} und landesweite Meldungen.",
        f"{base}/regionen/{region.key}",
    )


def entry_id(item: Item, domain: str) -> str:
    """The item's permanent id, the same in every format."""
    return f"tag:{domain},{item.collected_at.year}:item/{item.id}"


def item_link(item: Item, base_url: str) -> str:
    return item.url or f"{base_url}/meldungen/{item.id}"


def region_labels(item: Item, names: dict[str, str]) -> list[str]:
    """Display names of the item's regions; statewide items say so."""
    if item.statewide:
        return [STATEWIDE_NAME]
    return [names.get(key, key) for key in item.regions]


def newest(items: Sequence[Item], fallback: datetime) -> datetime:
    return max((item.updated_at for item in items), default=fallback)


def feed_updated(items: Sequence[Item], changed: datetime) -> datetime:
    """The feed's date: its newest change, never older than an item it shows."""
    return max(newest(items, changed), changed)


def item_texts(item: Item) -> tuple[str, str]:
    """(summary, full text) of an item's entry, from one teaser.

    The summary is the item's HTML teaser (:func:`newsletter.teasers.teaser`, as in the
    digest), or its (escaped) title when it has no text at all. The full text, for
    ``content:encoded`` / Atom ``content`` / JSON ``content_html``, is the content, else
    the summary when the teaser left some of it out; else empty."""
    found = teaser(item)
    summary = found.html or html.escape(item.title, quote=False)
    full = item.content_html or (item.summary_html if found.cut else "")
    return summary, full


def render(
    kind: FeedKind, info: FeedInfo, items: Sequence[Item], config: Config, changed: datetime
) -> bytes:
    """One feed as bytes. ``changed`` is the feed's newest change (it also dates an empty
    feed); the feed's ``updated``/``lastBuildDate`` is that or the newest item, never now."""
    if kind == "json":
        return render_json(info, items, config, changed)
    generator = _generator(kind, info, items, config, changed)
    if kind == "rss":
        return bytes(generator.rss_str(pretty=True))
    return bytes(generator.atom_str(pretty=True))


def _generator(
    kind: FeedKind, info: FeedInfo, items: Sequence[Item], config: Config, changed: datetime
) -> FeedGenerator:
    tz = ZoneInfo(config.site.timezone)
    fg = FeedGenerator()
    fg.id(f"tag:{config.site.domain},{FEED_ID_YEAR}:feed/{info.key}")
    fg.title(info.title)
    fg.subtitle(info.description)
    fg.description(info.description)
    _links(fg, kind, info, config)
    fg.language(config.site.language)
    fg.author({"name": config.site.publisher, "email": config.site.contact_email})
    fg.generator("newsletter")
    fg.ttl(config.feeds.ttl_minutes)
    fg.lastBuildDate(feed_updated(items, changed).astimezone(tz))
    fg.updated(feed_updated(items, changed).astimezone(tz))
    if config.site.logo_url:
        fg.logo(config.site.logo_url)
        fg.image(config.site.logo_url, title=info.title, link=info.html_url)
    fg.load_extension("dc", atom=False, rss=True)
    names = {r.key: r.name for r in config.region_list()}
    for item in items:
        _entry(fg.add_entry(order="append"), item, config, names, tz)
    return fg


def _links(fg: FeedGenerator, kind: FeedKind, info: FeedInfo, config: Config) -> None:
    """Self and hub first: feedgen takes the last link as the RSS channel ``<link>``."""
    fg.link(href=info.url(config.site.base_url, kind), rel="self", type=media_type(kind))
    if config.feeds.websub_hub:
        fg.link(href=config.feeds.websub_hub, rel="hub")
        fg.register_extension("websub", _hub_extension(config.feeds.websub_hub), _NoEntryExt)
    fg.link(href=info.html_url, rel="alternate", type="text/html")


def media_type(kind: str) -> str:
    """``application/rss+xml`` etc., without the charset parameter."""
    return MEDIA_TYPES[kind].split(";")[0]


def _entry(
    entry: FeedEntry, item: Item, config: Config, names: dict[str, str], tz: ZoneInfo
) -> None:
    entry.guid(entry_id(item, config.site.domain), permalink=False)
    entry.title(item.title)
    entry.link(href=item_link(item, config.site.base_url), rel="alternate")
    summary, full = item_texts(item)
    entry.summary(summary, type="html")  # also the RSS description
    if full:
        entry.content(full, type="html")  # RSS: content:encoded
    entry.published(item.published_at.astimezone(tz))
    entry.updated(item.updated_at.astimezone(tz))
    for label in region_labels(item, names):
        entry.category(term=label, label=label)
    creator = item.author or item.source_name
    if creator:
        entry.author({"name": creator})  # Atom; RSS <author> would need an address
        entry.dc.dc_creator(creator)  # RSS: dc:creator


class _NoEntryExt(BaseEntryExtension):  # type: ignore[misc]  # feedgen is untyped
    """feedgen needs an entry class for every feed extension."""


def _hub_extension(hub: str) -> type[BaseExtension]:
    """A feedgen extension putting ``<atom:link rel="hub">`` into the RSS channel."""

    class WebSubHub(BaseExtension):  # type: ignore[misc]  # feedgen is untyped
        def extend_rss(self, rss: etree._Element) -> etree._Element:
            channel = rss[0]
            self_link = channel.find(f"{{{ATOM_NS}}}link[@rel='self']")
            hub_link = etree.Element(f"{{{ATOM_NS}}}link", href=hub, rel="hub")
            if self_link is not None:
                self_link.addnext(hub_link)
            else:
                channel.append(hub_link)
            return rss

    return WebSubHub


def render_json(info: FeedInfo, items: Sequence[Item], config: Config, changed: datetime) -> bytes:
    """JSON Feed 1.1 (https://jsonfeed.org/version/1.1); it has no feed-level date."""
    del changed
    tz = ZoneInfo(config.site.timezone)
    names = {r.key: r.name for r in config.region_list()}
    feed: dict[str, object] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": info.title,
        "home_page_url": info.html_url,
        "feed_url": info.url(config.site.base_url, "json"),
        "description": info.description,
        "language": config.site.language,
        "authors": [{"name": config.site.publisher}],
    }
    if config.site.logo_url:
        feed["icon"] = config.site.logo_url
    if config.feeds.websub_hub:
        feed["hubs"] = [{"type": "WebSub", "url": config.feeds.websub_hub}]
    feed["items"] = [_json_item(item, config, names, tz) for item in items]
    return json.dumps(feed, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"


def _json_item(
    item: Item, config: Config, names: dict[str, str], tz: ZoneInfo
) -> dict[str, object]:
    summary, full = item_texts(item)
    entry: dict[str, object] = {
        "id": entry_id(item, config.site.domain),
        "url": item_link(item, config.site.base_url),
        "title": item.title,
        "content_html": full or item.summary_html or summary,
        "date_published": item.published_at.astimezone(tz).isoformat(),
        "date_modified": item.updated_at.astimezone(tz).isoformat(),
        "tags": region_labels(item, names),
    }
    if full:  # the teaser says less than the full text
        entry["summary"] = markup_free_text(summary)  # JSON Feed: plain text
    if item.author or item.source_name:
        entry["authors"] = [{"name": item.author or item.source_name}]
    return entry


def render_opml(config: Config) -> bytes:
    """OPML 2.0 listing the RSS feed of Saxony and of every region (depends on config only)."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = f"{config.site.name} – alle Feeds"
    ET.SubElement(head, "ownerName").text = config.site.publisher
    body = ET.SubElement(root, "body")
    base = config.site.base_url
    for info in all_feeds(config):
        ET.SubElement(
            body,
            "outline",
            type="rss",
            text=info.title,
            title=info.title,
            xmlUrl=info.url(base, "rss"),
            htmlUrl=info.html_url,
        )
    ET.indent(root)
    body_bytes = bytes(ET.tostring(root, encoding="utf-8", xml_declaration=False))
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + body_bytes + b"\n"


def all_feeds(config: Config) -> list[FeedInfo]:
    """Saxony first, then every region in config order."""
    return [feed_info(config, None)] + [feed_info(config, r) for r in config.region_list()]


def feed_body(config: Config, key: str, kind: str, items: Sequence[Item]) -> bytes:
    """The bytes of ``/feeds/<key>.<kind>`` (``kind == "opml"``: the OPML file); the one
    place the server and the static export build them, so both give the same bytes."""
    if kind == "opml":
        return render_opml(config)
    region = None if key == SAXONY else config.region(key)
    info = feed_info(config, region)
    return render(cast(FeedKind, kind), info, items, config, EMPTY_FEED_TIME)
