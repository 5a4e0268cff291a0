"""An HTML news listing page → items, by CSS selectors from the config (selectolax/lexbor).

Selectors: ``item`` (one per news item), inside it ``title``, ``link`` (an ``<a>``, or an
element containing one), optional ``date`` (a ``<time datetime>`` or German text such as
»17. Dezember 2021«, »17.12.2021«) and ``teaser`` (HTML, links made absolute against
the page). Charset: BOM → HTTP ``charset`` → ``<meta charset>`` → UTF-8 (WHATWG order).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from datetime import datetime

from selectolax.lexbor import LexborHTMLParser, LexborNode

from newsletter.errors import ParseError
from newsletter.models import ParsedItem
from newsletter.sanitize import absolutize_links, join_url, plain_text
from newsletter.sources.dates import parse_date

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_HTTP_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
_META_CHARSET = re.compile(
    rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE
)  # covers <meta charset> and http-equiv content="…; charset=…"


def parse_page(
    body: bytes, url: str, selectors: Mapping[str, str], headers: Mapping[str, str] | None = None
) -> list[ParsedItem]:
    """The items the ``selectors`` find on the page at ``url``."""
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    text = decode_html(body, headers.get("content-type", ""))
    tree = LexborHTMLParser(text)
    base = _base_url(tree, url)
    try:
        nodes = tree.css(selectors["item"])
    except Exception as exc:  # lexbor raises plain errors for bad selectors
        raise ParseError(f"CSS-Selektor »{selectors['item']}« ungültig: {exc}", url=url) from exc
    items = [_item(node, base, selectors) for node in nodes]
    found = [item for item in items if item is not None]
    if nodes and not found:
        raise ParseError("Seite gefunden, aber kein Eintrag hat einen Titel", url=url)
    return found


def decode_html(body: bytes, content_type: str = "") -> str:
    """Bytes → text: BOM, then HTTP charset, then ``<meta charset>``, then UTF-8."""
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(encoding, errors="replace")
    for label in (_http_charset(content_type), _meta_charset(body[:4096])):
        codec = _known(label)
        if codec:
            return body.decode(codec, errors="replace")
    return body.decode("utf-8", errors="replace")


def _http_charset(content_type: str) -> str | None:
    found = _HTTP_CHARSET.search(content_type)
    return found.group(1) if found else None


def _meta_charset(head: bytes) -> str | None:
    found = _META_CHARSET.search(head)
    return found.group(1).decode("ascii", errors="ignore") if found else None


def _known(label: str | None) -> str | None:
    """A Python codec for ``label``; ISO-8859-1/ASCII mean windows-1252 (WHATWG)."""
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip()).name
    except LookupError:
        return None
    return "cp1252" if name in ("iso8859-1", "latin-1", "ascii") else name


def _base_url(tree: LexborHTMLParser, url: str) -> str:
    base = tree.css_first("base[href]")
    href = base.attributes.get("href") if base is not None else None
    return join_url(url, href) if href else url


def _item(node: LexborNode, base: str, selectors: Mapping[str, str]) -> ParsedItem | None:
    title_node = node.css_first(selectors["title"])
    title = plain_text(title_node.html or "") if title_node is not None else ""
    if not title:
        return None
    link = _link(node, selectors["link"], base)
    teaser = _teaser(node, selectors.get("teaser"), base)
    return ParsedItem(
        guid=None,
        url=link,
        title=title,
        summary_html=teaser,
        published_at=_date(node, selectors.get("date")),
    )


def _link(node: LexborNode, selector: str, base: str) -> str | None:
    target = node.css_first(selector)
    if target is not None and "href" not in target.attributes:
        target = target.css_first("a[href]")
    href = target.attributes.get("href") if target is not None else None
    return join_url(base, href) if href and href.strip() else None


def _date(node: LexborNode, selector: str | None) -> datetime | None:
    if not selector:
        return None
    found = node.css_first(selector)
    if found is None:
        return None
    stamp = found.attributes.get("datetime") or found.attributes.get("content")
    return parse_date(stamp or "") or parse_date(found.text(separator=" "))


def _teaser(node: LexborNode, selector: str | None, base: str) -> str:
    if not selector:
        return ""
    found = node.css_first(selector)
    if found is None:
        return ""
    html = found.inner_html or ""
    return absolutize_links(html, base) if html.strip() else ""
