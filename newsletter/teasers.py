"""The teaser of an item: what the digest (HTML and text part) and the feeds show of it.

One rule, pure (no store, no network), used by :mod:`newsletter.digests` for both parts of
the mail and by :mod:`newsletter.feeds` for RSS ``description``, Atom ``summary`` and JSON
Feed ``summary``:

- The source is the item's summary; when it has none (hand-written items), or when it ends
  on »:« and the item has a full text, the first part of the full text.
- The teaser is the source's first paragraph (leading headings skipped).
- A paragraph longer than :data:`PARAGRAPH_CHARS` is cut at the last sentence end within
  that budget, else at a word boundary with »…«.
- A paragraph ending on »:« announces what follows: when a list follows, the teaser takes
  it, bounded (:data:`LIST_ENTRIES` entries of at most :data:`ENTRY_CHARS` characters,
  :data:`LIST_CHARS` in all; »…« marks entries left out). When nothing or no list follows,
  the announcing sentence is dropped (cut at the sentence end before it), or, when it is the
  only sentence, its colon becomes »…«. A teaser never ends on »:«.

The input is HTML that was sanitised when it was stored (:mod:`newsletter.sanitize`); the
teaser keeps its markup where it keeps a node whole and writes escaped text where it cuts.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterator
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser, LexborNode

from newsletter.models import Item
from newsletter.sanitize import plain_text

PARAGRAPH_CHARS = 400
LIST_ENTRIES = 5
ENTRY_CHARS = 160
LIST_CHARS = 600
ELLIPSIS = "…"

_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_LISTS = frozenset({"ul", "ol"})
_CONTAINERS = frozenset({"div", "section", "article", "blockquote", "main", "body"})
_BLOCKS = _HEADINGS | _LISTS | _CONTAINERS | {"p", "pre", "dl", "hr", "table", "figure"}
# A sentence ends at . ! ? or … (perhaps with a closing quote or bracket) before a space;
# a full stop after a number (»am 25. November«) or an abbreviation ends none.
_SENTENCE_END = re.compile(r"([.!?…])[»«\"'“”)\]]?(?=\s+(\S))")
_WORD_BEFORE = re.compile(r"(\w+)$")
# fmt: off
_ABBREVIATIONS = frozenset({
    "abs", "bspw", "bzw", "ca", "dr", "etc", "evtl", "ggf", "inkl", "nr", "prof", "sog",
    "str", "tel", "ua", "usw", "uvm", "vgl",
})
# fmt: on


@dataclass(frozen=True)
class Teaser:
    """``html``: a sanitised fragment (``<p>``, perhaps a list); ``text``: the same as plain
    text, list entries as »- « lines; ``cut``: something of the source was left out."""

    html: str
    text: str
    cut: bool

    def __bool__(self) -> bool:
        return bool(self.text)


EMPTY = Teaser("", "", False)


@dataclass(frozen=True)
class _Block:
    kind: str  # "p", "list", "heading" or "other"
    inner_html: str
    text: str
    node: LexborNode | None = None


def teaser(item: Item) -> Teaser:
    """The item's teaser by the rule above."""
    summary, content = item.summary_html, item.content_html
    if _has_text(summary) and not (content and _ends_with_colon(summary)):
        return teaser_of(summary, more=bool(_has_text(content)))
    if _has_text(content):
        return teaser_of(content)
    return teaser_of(summary)


def teaser_of(fragment: str, *, more: bool = False) -> Teaser:
    """The teaser of one HTML fragment; ``more``: the item has text beyond it (sets ``cut``)."""
    blocks = [b for b in _blocks(fragment) if b.text]
    while blocks and blocks[0].kind == "heading" and len(blocks) > 1:
        blocks.pop(0)
    if not blocks:
        return EMPTY
    first, rest = blocks[0], blocks[1:]
    if first.kind == "list" and first.node is not None:
        return _bounded_list("", "", first.node, more or bool(rest))
    if len(first.text) > PARAGRAPH_CHARS:
        return _paragraph_text(_cut_to_budget(first.text), cut=True)
    if not first.text.endswith(":"):
        return Teaser(f"<p>{first.inner_html}</p>", first.text, more or bool(rest))
    if rest and rest[0].kind == "list" and rest[0].node is not None:
        return _bounded_list(f"<p>{first.inner_html}</p>", first.text, rest[0].node, True)
    return _paragraph_text(_drop_announcement(first.text), cut=True)


def _has_text(fragment: str) -> bool:
    return bool(fragment) and bool(plain_text(fragment))


def _ends_with_colon(fragment: str) -> bool:
    return plain_text(fragment).endswith(":")


def _paragraph_text(text: str, *, cut: bool) -> Teaser:
    return Teaser(f"<p>{html_lib.escape(text, quote=False)}</p>", text, cut)


def _blocks(fragment: str) -> Iterator[_Block]:
    """The fragment's top-level blocks; inline runs between blocks form a paragraph,
    containers (``div``, ``blockquote`` …) are looked into."""
    body = LexborHTMLParser(f"<body>{fragment}</body>").body
    if body is not None:
        yield from _walk(body)


def _walk(parent: LexborNode) -> Iterator[_Block]:
    inline: list[str] = []
    for node in parent.iter(include_text=True):
        tag = node.tag or ""
        if tag.startswith(("-", "_")) and tag != "-text":
            continue  # comments and the like
        if tag not in _BLOCKS:
            inline.append(_text_html(node) if tag == "-text" else (node.html or ""))
            continue
        if inline:
            yield _paragraph("".join(inline))
            inline = []
        if tag in _CONTAINERS:
            yield from _walk(node)
        else:
            yield _block(tag, node)
    if inline:
        yield _paragraph("".join(inline))


def _text_html(node: LexborNode) -> str:
    return html_lib.escape(node.text(deep=False) or "", quote=False)


def _paragraph(inner_html: str) -> _Block:
    inner = inner_html.strip()
    inner = re.sub(r"^(?:<br\s*/?>\s*)+|(?:\s*<br\s*/?>)+$", "", inner)
    return _Block("p", inner, plain_text(inner))


def _block(tag: str, node: LexborNode) -> _Block:
    inner = (node.inner_html or "").strip()
    text = plain_text(inner) if tag != "hr" else ""
    if tag == "p":
        return _paragraph(inner)
    if tag in _LISTS:
        return _Block("list", inner, text, node)
    if tag in _HEADINGS:
        return _Block("heading", inner, text)
    return _Block("other", html_lib.escape(text, quote=False), text)


def _bounded_list(lead_html: str, lead_text: str, node: LexborNode, more: bool) -> Teaser:
    """The lead paragraph and at most LIST_ENTRIES entries of the list (LIST_CHARS in all)."""
    entries = [e for e in node.iter() if e.tag == "li" and plain_text(e.inner_html or "")]
    if not entries:  # a list without entries announces nothing
        return _paragraph_text(_drop_announcement(lead_text), cut=True) if lead_text else EMPTY
    kept = _kept_entries(entries)
    left_out = len(kept) < len(entries)
    if left_out:
        kept.append((ELLIPSIS, ELLIPSIS))
    elif kept[-1][1].endswith(":"):  # the last entry announces more
        more = True
        ended = f"{kept[-1][1][:-1].rstrip()} {ELLIPSIS}"
        kept[-1] = (html_lib.escape(ended, quote=False), ended)
    tag = node.tag or "ul"
    html = lead_html + f"<{tag}>" + "".join(f"<li>{h}</li>" for h, _ in kept) + f"</{tag}>"
    text = "\n".join(([lead_text] if lead_text else []) + [f"- {t}" for _, t in kept])
    return Teaser(html, text, more or left_out)


def _kept_entries(entries: list[LexborNode]) -> list[tuple[str, str]]:
    """(html, text) of the first entries, within LIST_ENTRIES and LIST_CHARS (one at least)."""
    kept: list[tuple[str, str]] = []
    used = 0
    for entry in entries[:LIST_ENTRIES]:
        entry_html, entry_text = _entry(entry)
        if kept and used + len(entry_text) > LIST_CHARS:
            break
        kept.append((entry_html, entry_text))
        used += len(entry_text)
    return kept


def _entry(entry: LexborNode) -> tuple[str, str]:
    """One list entry: its markup when short and flat, else its text cut to ENTRY_CHARS."""
    inner = (entry.inner_html or "").strip()
    text = plain_text(inner)
    nested = any((child.tag or "") in _BLOCKS for child in entry.iter())
    if len(text) <= ENTRY_CHARS and not nested:
        return inner, text
    short = text if len(text) <= ENTRY_CHARS else _cut_at_word(text, ENTRY_CHARS)
    return html_lib.escape(short, quote=False), short


def _cut_to_budget(text: str) -> str:
    """At the last sentence end within PARAGRAPH_CHARS, else at a word with »…«."""
    window = text[: PARAGRAPH_CHARS + 1]
    ends = _sentence_ends(window)
    if ends and ends[-1] >= PARAGRAPH_CHARS // 3:
        return _no_colon(window[: ends[-1]])
    return _cut_at_word(text, PARAGRAPH_CHARS)


def _drop_announcement(text: str) -> str:
    """A paragraph ending on »:« with nothing to show after it: its earlier sentences,
    else the announcement with »…« for the colon."""
    body = text[:-1].rstrip()
    ends = _sentence_ends(body)
    if ends:
        return body[: ends[-1]]
    return f"{body} {ELLIPSIS}".strip()


def _sentence_ends(text: str) -> list[int]:
    """Where sentences end in ``text`` (offsets after the punctuation and closing quote)."""
    ends = []
    for match in _SENTENCE_END.finditer(text):
        if match.group(1) == "." and not _full_stop(text[: match.start()], match.group(2)):
            continue
        ends.append(match.end())
    return ends


def _full_stop(before: str, following: str) -> bool:
    """A ».« ends a sentence unless it follows a number, a single letter or an
    abbreviation, or the next word starts in lower case."""
    word = _WORD_BEFORE.search(before)
    if word is None:
        return True
    token = word.group(1)
    if token[-1].isdigit() or len(token) == 1 or token.lower() in _ABBREVIATIONS:
        return False
    return not following.islower()


def _cut_at_word(text: str, limit: int) -> str:
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return f"{_no_colon(cut.rstrip(' ,;:–-'))} {ELLIPSIS}"


def _no_colon(text: str) -> str:
    return text[:-1].rstrip() if text.endswith(":") else text
