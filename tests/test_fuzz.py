"""Fuzzing the paths that read outside input: no unhandled exception, nothing unsafe out.

Each target gets generated and mutated input (Hypothesis) and may only answer with its
result or with the service's own error for bad input (``ParseError``, ``InvalidInputError``,
``ConfigError``: a German message, never a traceback). Where a result carries HTML, the
sanitiser's promise is checked on it too.

``make test`` runs a few dozen examples per target; ``make fuzz`` runs thousands
(``NEWSLETTER_FUZZ_EXAMPLES``) and prints the slowest input's time per target, so a
pathological input shows up as a number, not as a flaky timed assertion here.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser

from newsletter.config import load_config
from newsletter.errors import ConfigError, InvalidInputError, ParseError
from newsletter.regions import classify, load_gazetteer
from newsletter.sanitize import clean_html
from newsletter.sources.feed import parse_feed
from newsletter.sources.folder import split_front_matter
from newsletter.sources.page import parse_page
from newsletter.subscriptions.roster import LineReport, RosterRow, parse

EXAMPLES = int(os.environ.get("NEWSLETTER_FUZZ_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
SLOWEST: dict[str, float] = {}

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>
<title>Polizei Sachsen</title><link>https://example.org/</link><description>x</description>
<item><title>Einbruch in Connewitz</title><link>https://example.org/1</link>
<guid>https://example.org/1</guid><pubDate>Tue, 01 Dec 2026 08:00:00 +0100</pubDate>
<description>&lt;p&gt;Unbekannte brachen in Leipzig-Connewitz ein.&lt;/p&gt;</description>
<content:encoded><![CDATA[<p>Die Polizei <b>bittet</b> um Hinweise.</p>]]></content:encoded></item>
</channel></rss>"""
ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Stadt Pirna</title><id>urn:x</id>
<updated>2026-12-01T08:00:00Z</updated>
<entry><title>Weihnachtsmarkt in Pirna</title><id>urn:x:1</id>
<link href="https://example.org/2"/><updated>2026-12-01T08:00:00Z</updated>
<summary type="html">&lt;p&gt;Taschendiebe auf dem Markt.&lt;/p&gt;</summary></entry></feed>"""
JSON_FEED = (
    b'{"version":"https://jsonfeed.org/version/1.1","title":"Landkreis Zwickau",'
    b'"items":[{"id":"1","url":"https://example.org/3","title":"Warnung in Zwickau",'
    b'"content_html":"<p>Falsche Handwerker in Crimmitschau.</p>",'
    b'"date_published":"2026-12-01T08:00:00+01:00"}]}'
)
PAGE = b"""<!doctype html><html><head><meta charset="utf-8"><base href="https://example.org/"></head>
<body><article class="news"><h2><a href="/4">Fahrraddiebstahl in Bautzen</a></h2>
<time datetime="2026-12-01">1. Dezember 2026</time><p>Die Polizei sucht Zeugen.</p></article>
</body></html>"""
SELECTORS = {"item": "article.news", "title": "h2", "link": "h2 a", "date": "time", "teaser": "p"}
CSV = "email;name;organisation;ags;regions\nanna@pirna.de;Anna;Stadt Pirna;14628310;dresden\n"
FRONT = '+++\ntitle = "Hinweis"\ndate = 2026-12-01\nregions = ["zwickau"]\n+++\nText **fett**.\n'
CONFIG = """[site]
title = "ASSKomm"
base_url = "http://127.0.0.1:8000"
[schedule]
collect = "*/30 * * * *"
[mail]
transport = "maildir"
"""

# Snippets that broke or bloated parsers elsewhere: entities, deep nesting, encodings.
HOSTILE = [
    b'<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>',
    b'<!ENTITY x SYSTEM "file:///etc/passwd">&x;',
    b"<a>" * 200,
    b"<![CDATA[<script>alert(1)</script>]]>",
    b'<a href="javascript:alert(1)">x</a>',
    b"<img src=x onerror=alert(1)>",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b'<?xml version="1.0" encoding="windows-1252"?>',
    b'<?xml version="1.0" encoding="utf-16"?>',
    b"\x00\x01\x02",
    b"&#0;&#x110000;&#xD800;",
    "Görlitz".encode("latin-1"),
    b'<svg><script xlink:href="data:,alert(1)"/></svg>',
    b'<style>@import "javascript:alert(1)";</style>',
]


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """``seed`` with a few random edits: cut, insert random or hostile bytes, overwrite."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(0, 6))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["cut", "random", "hostile", "repeat"]))
        if kind == "cut":
            del data[at : at + draw(st.integers(1, 80))]
        elif kind == "random":
            data[at:at] = draw(st.binary(min_size=1, max_size=40))
        elif kind == "hostile":
            data[at:at] = draw(st.sampled_from(HOSTILE))
        else:
            data[at:at] = bytes(data[at : at + 20]) * draw(st.integers(2, 50))
    return bytes(data)


@contextmanager
def timed(target: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    SLOWEST[target] = max(SLOWEST.get(target, 0.0), time.perf_counter() - start)


def assert_sanitised(html: str) -> None:
    """What the sanitiser lets through has no script, handler or script link (as markup)."""
    tree = LexborHTMLParser(clean_html(html, "https://example.org/"))
    assert not tree.css("script, style, iframe, object, embed, svg, form")
    for node in tree.css("*"):
        for name, value in node.attributes.items():
            assert not name.lower().startswith("on"), node.html
            if name.lower() in ("href", "src"):
                assert (value or "").startswith(("https://", "http://", "mailto:")), node.html


@FUZZ
@given(st.one_of(mutated(RSS), mutated(ATOM), mutated(JSON_FEED), st.binary(max_size=2000)))
@example(RSS.replace(b'encoding="utf-8"', b'encoding="\x00utf-8"'))  # found: feedparser ValueError
def test_feed_parsing_answers_items_or_a_parse_error(body: bytes) -> None:
    with timed("feed"):
        try:
            items = parse_feed(body, "https://example.org/feed")
        except ParseError as exc:
            assert exc.message
            return
    for item in items:
        assert isinstance(item.title, str)
        assert_sanitised(item.summary_html + item.content_html)


@FUZZ
@given(st.one_of(mutated(PAGE), st.binary(max_size=2000)))
@example(PAGE.replace(b'href="https://example.org/"', b'href="http://[::1/"'))  # found: urljoin
@example(PAGE.replace(b"<p>", b'<p><svg><a xlink:href="x">s</a></svg>'))  # found: KeyError
def test_page_parsing_answers_items_or_a_parse_error(body: bytes) -> None:
    with timed("page"):
        try:
            items = parse_page(body, "https://example.org/news", SELECTORS)
        except ParseError as exc:
            assert exc.message
            return
    for item in items:
        assert_sanitised(item.summary_html)


@FUZZ
@given(st.one_of(mutated(CSV.encode()), mutated(CSV.encode("utf-16")), st.binary(max_size=800)))
def test_roster_rows_or_line_reports_or_one_clear_error(data: bytes) -> None:
    with timed("roster"):
        try:
            rows = parse(data)
        except InvalidInputError as exc:
            assert exc.message
            return
    lines = [row.line for row in rows]
    assert lines == sorted(lines), "rows keep their file order and line numbers"
    assert all(isinstance(row, RosterRow | LineReport) for row in rows)


@FUZZ
@given(st.one_of(mutated(FRONT.encode()), st.text(max_size=600).map(str.encode)))
def test_front_matter_splits_or_names_the_problem(data: bytes) -> None:
    text = data.decode("utf-8", errors="replace")
    with timed("front matter"):
        try:
            meta, body = split_front_matter(text, "meldung.md")
        except ParseError as exc:
            assert exc.message
            return
    assert isinstance(meta, dict)
    assert isinstance(body, str)


@FUZZ
@given(mutated(CONFIG.encode()))
def test_config_loads_or_says_which_key(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path: Path = tmp_path_factory.mktemp("cfg") / "config.toml"
    path.write_bytes(data)
    with timed("config"):
        try:
            config = load_config(path, environ={})
        except ConfigError as exc:
            assert exc.message
            return
    assert config.path("x") == path.parent / "x", "paths resolve against the config's folder"


GAZETTEER = load_gazetteer()
PLACE_WORDS = ["Leipzig", "Connewitz", "Görlitz", "Freiberg", "Colditz", "Oelsnitz", "OT", "in",
               "bei", "Landkreis", "Thomas", "-", ".", ",", "/", "Vorstadt", "Straße", "Polizei"]  # fmt: skip


@FUZZ
@given(
    st.one_of(
        st.text(max_size=400), st.lists(st.sampled_from(PLACE_WORDS), max_size=120).map(" ".join)
    )
)
def test_classifier_answers_known_regions_for_any_text(text: str) -> None:
    with timed("regions"):
        result = classify(text, GAZETTEER)
    assert result.regions <= GAZETTEER.regions.keys()


@pytest.fixture(scope="module", autouse=True)
def report_slowest() -> Iterator[None]:
    yield
    if os.environ.get("NEWSLETTER_FUZZ_EXAMPLES"):
        lines = [
            f"  {name:<13} {seconds * 1000:8.1f} ms" for name, seconds in sorted(SLOWEST.items())
        ]
        print(f"\nLangsamste Eingabe je Ziel ({EXAMPLES} Beispiele):\n" + "\n".join(lines))
