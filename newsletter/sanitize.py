"""Make fetched HTML safe to show in pages, feeds and mails (nh3), and titles plain.

Order matters: relative links are made absolute against the item's URL first, then
nh3 removes everything outside the allowlist (STANDARDS §8): ``<script>``/``<style>``
with their content, event handlers, ``style``, and every URL scheme except http, https
and mailto. Images are dropped too: remote images in our pages and mails would be
third-party content loaded without consent (STANDARDS §6).

An item's own link (:func:`safe_link`) must be an absolute http(s) URL, read the way a
browser reads it (leading control characters and spaces ignored, tabs and line breaks
removed): ``javascript:``, ``data:``, ``vbscript:`` and the like are dropped. Every
source goes through :func:`newsletter.dedup.prepare`, which applies both rules; the
folder source and ``items add`` use :func:`safe_link` to refuse such a link outright.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urljoin, urlsplit

import nh3
from selectolax.lexbor import LexborHTMLParser as HTMLParser

ALLOWED_TAGS = frozenset(
    {
        "a",
        "abbr",
        "b",
        "blockquote",
        "br",
        "cite",
        "code",
        "dd",
        "dl",
        "dt",
        "em",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "li",
        "ol",
        "p",
        "pre",
        "q",
        "small",
        "strong",
        "sub",
        "sup",
        "ul",
    }
)
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_SCHEMES = frozenset({"http", "https"})
LINK_REL = "noopener noreferrer"
_URL_ATTRIBUTES = ("href", "src")
_SPACE = re.compile(r"\s+")
_C0_OR_SPACE = "".join(chr(c) for c in range(0x21))  # WHATWG URL: stripped at both ends
_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")  # WHATWG URL: removed anywhere
_BARE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_BLOCK_END = re.compile(
    r"<br\s*/?>|</(?:p|div|li|h[1-6]|blockquote|pre|tr|td|th|dd|dt|ul|ol|section|article)\s*>",
    re.IGNORECASE,
)


def clean_html(html: str, base_url: str | None = None) -> str:
    """Absolutise links against ``base_url``, then clean ``html`` with the allowlist."""
    if not html or not html.strip():
        return ""
    html = absolutize_links(html, base_url)
    cleaned = nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags={"script", "style"},
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
    )
    return cleaned.strip()


def safe_link(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) URL (trimmed, a bare ``%`` escaped), else None."""
    value = _TAB_OR_NEWLINE.sub("", (url or "").strip(_C0_OR_SPACE))
    if not value or any(unicodedata.category(ch) == "Cc" for ch in value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme.lower() not in LINK_SCHEMES or not parts.netloc:
        return None
    return _BARE_PERCENT.sub("%25", value)


def absolutize_links(html: str, base_url: str | None) -> str:
    """Every ``href``/``src`` of the fragment resolved against ``base_url`` (if any)."""
    tree = HTMLParser(html)
    body = tree.body
    if body is None:
        return html
    for name in _URL_ATTRIBUTES:
        for node in body.css(f"[{name}]"):
            if name not in node.attributes:  # svg's xlink:href matches [href]; nh3 drops it
                continue
            value = (node.attributes.get(name) or "").strip()
            if value:
                node.attrs[name] = join_url(base_url, value) if base_url else value
            else:  # an emptied link (feedparser blanks javascript:) must not point home
                del node.attrs[name]
    return body.inner_html or ""


def join_url(base: str, value: str) -> str:
    """``value`` resolved against ``base``; a value urllib cannot parse stays as it is."""
    try:
        return urljoin(base, value.strip())
    except ValueError:  # e.g. an invalid IPv6 literal; nh3 then drops the link
        return value


def plain_text(html_or_text: str) -> str:
    """Text without tags, entities decoded, whitespace collapsed (titles, teasers)."""
    if "<" not in html_or_text and "&" not in html_or_text:
        return normalize_space(html_or_text)
    spaced = _BLOCK_END.sub(lambda m: m.group(0) + " ", html_or_text)
    tree = HTMLParser(f"<body>{spaced}</body>")
    tree.strip_tags(["script", "style"])
    body = tree.body
    text = body.text(deep=True) if body is not None else html_or_text
    return normalize_space(text)


def markup_free_text(html: str, rounds: int = 4) -> str:
    """Plain text that holds no tags even after its entities were decoded: ``&lt;script&gt;``
    in the HTML is a ``<script>`` in :func:`plain_text`, so the text is parsed again
    (``&`` kept literal) until no tag is left: script and style with their content, then
    the other tags, dropped."""
    text = plain_text(html)
    for _ in range(rounds):
        if "<" not in text:
            break
        again = plain_text(text.replace("&", "&amp;"))
        if again == text:
            break
        text = again
    return text


def normalize_space(text: str) -> str:
    """NFC, control characters removed, runs of whitespace as one space."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(ch for ch in text if ch in "\t\n" or unicodedata.category(ch) != "Cc")
    return _SPACE.sub(" ", text).strip()


def text_excerpt(html: str, limit: int = 300) -> str:
    """A plain-text excerpt of sanitised HTML, cut at a word boundary."""
    text = plain_text(html)
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut + " …"
