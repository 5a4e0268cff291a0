"""RSS 0.9x/1.0/2.0 and Atom (feedparser) and JSON Feed 1.0/1.1 (parsed here) → items.

feedparser is only handed bytes and the real response headers, never a URL, so it
never fetches. It drops external and nested entities and sets ``bozo``; like
lemon24/reader we treat a bozo feed as broken (except for harmless charset notes),
and refuse any entity declaration up front with a clear message (billion laughs, XXE).
Titles become plain text; HTML stays raw here and is sanitised by :mod:`collect`, which
makes relative links absolute against the item's URL. Only a feed that declares
``xml:base`` has its links resolved by feedparser, by that base (RFC 4287 §2); otherwise
feedparser would resolve against the feed's URL, which is wrong for RSS item content.
"""

from __future__ import annotations

import calendar
import json
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import urljoin

import feedparser

from newsletter.errors import ParseError
from newsletter.models import ParsedItem
from newsletter.sanitize import plain_text
from newsletter.sources.dates import parse_date

_ENTITY_DECLARATION = re.compile(rb"<!ENTITY", re.IGNORECASE)
_FIRST_ELEMENT = re.compile(rb"<(?![?!])")
_JSON_TYPES = ("application/feed+json", "application/json")


def parse_feed(body: bytes, url: str, headers: Mapping[str, str] | None = None) -> list[ParsedItem]:
    """The items of a feed document; raises :class:`ParseError` if it is not a usable feed."""
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    if _looks_like_json(body, headers.get("content-type", "")):
        return parse_json_feed(body, url)
    return _parse_xml_feed(body, url, headers)


def _looks_like_json(body: bytes, content_type: str) -> bool:
    if content_type.split(";", 1)[0].strip().lower() in _JSON_TYPES:
        return True
    return body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"


def _parse_xml_feed(body: bytes, url: str, headers: dict[str, str]) -> list[ParsedItem]:
    if _declares_entities(body):
        raise ParseError(
            "Feed enthält Entity-Deklarationen (DTD) – aus Sicherheitsgründen abgelehnt", url=url
        )
    headers.setdefault("content-location", url)
    declares_base = b"xml:base" in body  # then feedparser resolves by it (RFC 4287 §2)
    try:
        result = feedparser.parse(
            body, response_headers=headers, resolve_relative_uris=declares_base
        )
    except Exception as exc:  # feedparser lets some hostile bytes escape (a NUL in the encoding)
        raise ParseError(f"Feed nicht lesbar ({exc.__class__.__name__})", url=url) from exc
    _check_bozo(result, url)
    if not result.get("version") and not result.entries:
        raise ParseError("Kein RSS-, Atom- oder JSON-Feed erkannt", url=url)
    return [_from_entry(entry) for entry in result.entries]


def _declares_entities(body: bytes) -> bool:
    """An ``<!ENTITY`` in the prolog (before the root element): a DTD we never expand."""
    root = _FIRST_ELEMENT.search(body)
    return _ENTITY_DECLARATION.search(body, 0, root.start() if root else len(body)) is not None


def _check_bozo(result: Any, url: str) -> None:
    if not result.get("bozo"):
        return
    exc = result.get("bozo_exception")
    if isinstance(exc, feedparser.ThingsNobodyCaresAboutButMe):
        return
    line = getattr(exc, "getLineNumber", lambda: None)()
    where = f" (Zeile {line})" if line else ""
    raise ParseError(f"Feed ist kein wohlgeformtes XML: {exc}{where}", url=url)


def _from_entry(entry: Any) -> ParsedItem:
    content = entry.get("content") or []
    content_html = str(content[0].get("value", "")) if content else ""
    summary = str(entry.get("summary", ""))
    if summary == content_html:
        summary = ""
    return ParsedItem(
        guid=_text_or_none(entry.get("id")),
        url=_text_or_none(entry.get("link")),
        title=plain_text(str(entry.get("title", ""))),
        summary_html=summary,
        content_html=content_html,
        author=_text_or_none(entry.get("author")),
        published_at=_struct_time(entry.get("published_parsed") or entry.get("updated_parsed")),
    )


def _struct_time(value: time.struct_time | None) -> datetime | None:
    """feedparser's UTC struct_time as an aware datetime."""
    if value is None:
        return None
    return datetime.fromtimestamp(calendar.timegm(value), UTC)


def _text_or_none(value: object) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def parse_json_feed(body: bytes, url: str) -> list[ParsedItem]:
    """JSON Feed 1.0/1.1 (https://jsonfeed.org/version/1.1) → items."""
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParseError(f"JSON-Feed nicht lesbar: {exc}", url=url) from exc
    if not isinstance(data, dict) or "jsonfeed.org/version/" not in str(data.get("version", "")):
        raise ParseError("Kein JSON-Feed (»version« fehlt oder ist unbekannt)", url=url)
    entries = data.get("items")
    if not isinstance(entries, list):
        raise ParseError("JSON-Feed ohne »items«-Liste", url=url)
    return [_from_json_item(entry, url) for entry in entries if isinstance(entry, dict)]


def _from_json_item(entry: dict[str, Any], feed_url: str) -> ParsedItem:
    link = _text_or_none(entry.get("url"))
    text = str(entry.get("content_text") or "")
    content_html = str(entry.get("content_html") or "") or _paragraphs(text)
    title = plain_text(str(entry.get("title") or ""))
    return ParsedItem(
        guid=_text_or_none(entry.get("id")),
        url=urljoin(feed_url, link) if link else None,
        title=title or plain_text(text)[:120],
        summary_html=_paragraphs(str(entry.get("summary") or "")),
        content_html=content_html,
        author=_json_author(entry),
        published_at=parse_date(
            str(entry.get("date_published") or entry.get("date_modified") or "")
        ),
    )


def _json_author(entry: dict[str, Any]) -> str | None:
    authors = entry.get("authors") or ([entry["author"]] if entry.get("author") else [])
    names = [str(a.get("name")) for a in authors if isinstance(a, dict) and a.get("name")]
    return ", ".join(names) or None


def _paragraphs(text: str) -> str:
    parts = [p.strip() for p in text.split("\n\n") if p.strip()]
    return "".join(f"<p>{escape(p)}</p>" for p in parts)
