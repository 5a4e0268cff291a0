"""Items -> RSS 2.0, Atom 1.0, JSON Feed 1.1 and OPML 2.0 bytes. Pure: no store, no network.

Ids are ``tag:<site domain>,<year first collected>:item/<item id>`` in all three formats
(RFC 4151); ``collected_at`` never changes, so neither does the id. Links are absolute: the
item's own URL, else our page ``/meldungen/<id>``. Dates are timezone-aware, shown in the
site's timezone. The feed's ``lastBuildDate``/``updated`` is the newest item change, not
"now", so unchanged content gives unchanged bytes (and ETags).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

from feedgen.feed import FeedGenerator

from newsletter.config import Config
from newsletter.models import STATEWIDE_NAME, Item, Region

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


def render(
    kind: FeedKind, info: FeedInfo, items: Sequence[Item], config: Config, empty_time: datetime
) -> bytes:
    """One feed as bytes; ``empty_time`` dates a feed without items."""
    if kind == "json":
        return render_json(info, items, config, empty_time)
    generator = _generator(kind, info, items, config, empty_time)
    if kind == "rss":
        return bytes(generator.rss_str(pretty=True))
    return bytes(generator.atom_str(pretty=True))


def _generator(
    kind: FeedKind, info: FeedInfo, items: Sequence[Item], config: Config, empty_time: datetime
) -> FeedGenerator:
    tz = ZoneInfo(config.site.timezone)
    base = config.site.base_url
    fg = FeedGenerator()
    fg.id(f"tag:{config.site.domain},2026:feed/{info.key}")
    fg.title(info.title)
    fg.subtitle(info.description)
    fg.description(info.description)
    fg.link(href=info.html_url, rel="alternate")
    fg.link(href=info.url(base, kind), rel="self", type=MEDIA_TYPES[kind].split(";")[0])
    if config.feeds.websub_hub:
        fg.link(href=config.feeds.websub_hub, rel="hub")
    fg.language(config.site.language)
    fg.author({"name": config.site.publisher, "email": config.site.contact_email})
    fg.generator("newsletter")
    fg.ttl(config.feeds.ttl_minutes)
    changed = newest(items, empty_time).astimezone(tz)
    fg.lastBuildDate(changed)
    fg.updated(changed)
    if config.site.logo_url:
        fg.logo(config.site.logo_url)
        fg.image(config.site.logo_url, title=info.title, link=info.html_url)
    names = {r.key: r.name for r in config.region_list()}
    for item in items:
        _entry(fg, item, base, config.site.domain, names, tz)
    return fg


def _entry(
    fg: FeedGenerator, item: Item, base: str, domain: str, names: dict[str, str], tz: ZoneInfo
) -> None:
    entry = fg.add_entry(order="append")
    entry.guid(entry_id(item, domain), permalink=False)
    entry.title(item.title)
    entry.link(href=item_link(item, base), rel="alternate")
    entry.summary(item.summary_html or item.title, type="html")  # also the RSS description
    if item.content_html:
        entry.content(item.content_html, type="html")
    entry.published(item.published_at.astimezone(tz))
    entry.updated(item.updated_at.astimezone(tz))
    for label in region_labels(item, names):
        entry.category(term=label, label=label)
    if item.author or item.source_name:
        entry.author({"name": item.author or item.source_name or ""})


def render_json(
    info: FeedInfo, items: Sequence[Item], config: Config, empty_time: datetime
) -> bytes:
    """JSON Feed 1.1 (https://jsonfeed.org/version/1.1)."""
    tz = ZoneInfo(config.site.timezone)
    base = config.site.base_url
    names = {r.key: r.name for r in config.region_list()}
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": info.title,
        "home_page_url": info.html_url,
        "feed_url": info.url(base, "json"),
        "description": info.description,
        "language": config.site.language,
        "authors": [{"name": config.site.publisher}],
        "items": [_json_item(item, base, config.site.domain, names, tz) for item in items],
    }
    if config.feeds.websub_hub:
        feed["hubs"] = [{"type": "WebSub", "url": config.feeds.websub_hub}]
    del empty_time  # JSON Feed has no feed-level date
    return json.dumps(feed, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"


def _json_item(
    item: Item, base: str, domain: str, names: dict[str, str], tz: ZoneInfo
) -> dict[str, object]:
    entry: dict[str, object] = {
        "id": entry_id(item, domain),
        "url": item_link(item, base),
        "title": item.title,
        "content_html": item.content_html or item.summary_html or item.title,
        "date_published": item.published_at.astimezone(tz).isoformat(),
        "date_modified": item.updated_at.astimezone(tz).isoformat(),
        "tags": region_labels(item, names),
    }
    if item.content_html and item.summary_html:
        entry["summary"] = item.summary_html
    if item.author or item.source_name:
        entry["authors"] = [{"name": item.author or item.source_name}]
    return entry


def render_opml(config: Config, created: datetime) -> bytes:
    """OPML 2.0 listing the RSS feed of Saxony and of every region."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = f"{config.site.name} – alle Feeds"
    ET.SubElement(head, "dateCreated").text = created.strftime("%a, %d %b %Y %H:%M:%S %z")
    body = ET.SubElement(root, "body")
    base = config.site.base_url
    for info in [feed_info(config, None)] + [feed_info(config, r) for r in config.region_list()]:
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
