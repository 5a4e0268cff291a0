"""Hostile item text end to end: feed (real HTTP server on loopback), folder and
``items add`` items go into a digest that real SMTP (aiosmtpd) delivers to two people."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from newsletter.collect import collect_all
from newsletter.config import Config
from newsletter.context import Context
from newsletter.curation import add_manual_item
from newsletter.errors import InvalidInputError, ParseError
from newsletter.mail import sending
from newsletter.sanitize import safe_link
from newsletter.sources.folder import read_file
from newsletter.store import items as item_store
from newsletter.store import sources as source_store
from newsletter.store.db import transaction
from tests.delivery_helpers import Sink, add_subscriber, sending_context

SLOTS = ("%%NL_UNSUBSCRIBE_URL%%", "%%NL_MANAGE_URL%%", "%%NL_RECIPIENT%%", "%%NL_REGIONS%%")
EVIL = "https://evil.example/?next="
RSS = "application/rss+xml; charset=utf-8"


def hostile_rss() -> bytes:
    """Two RSS items with every placeholder in title, link, summary (the first) and
    content (the second: the digest shows the content when there is no summary)."""
    slots = " ".join(SLOTS)
    summary = (
        f'<description>Zusammenfassung {slots} &lt;a href="{EVIL}%%NL_UNSUBSCRIBE_URL%%"'
        "&gt;hier&lt;/a&gt;</description>"
    )
    content = (
        f'<content:encoded><![CDATA[<p>Inhalt {slots} <a href="{EVIL}%%NL_MANAGE_URL%%">'
        "mehr</a></p>]]></content:encoded>"
    )
    items = "".join(
        f"""<item><guid isPermaLink="false">{tag}</guid>
<title>Feed {tag} Titel {slots}</title>
<link>{EVIL}%%NL_MANAGE_URL%%&amp;r=%%NL_RECIPIENT%%&amp;i={tag}</link>{text}
<pubDate>Mon, 23 Nov 2026 10:00:00 +0100</pubDate></item>"""
        for tag, text in (("rss-1", summary), ("rss-2", content))
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>
<title>T</title><link>https://e.org/</link><description>d</description>{items}
</channel></rss>""".encode()


def hostile_markdown() -> str:
    slots = " ".join(SLOTS)
    return (
        f'+++\ntitle = "Ordner Titel {slots}"\nlink = "{EVIL}%%NL_MANAGE_URL%%"\n'
        f'summary = "Kurz {slots}"\nregions = ["zwickau"]\n+++\n'
        f"Text {slots} [mehr]({EVIL}%%NL_UNSUBSCRIBE_URL%%)\n"
    )


@pytest.fixture
def sink() -> Sink:
    return Sink()


@pytest.fixture
def smtp_ctx(make_config: Callable[..., Config], sink: Sink) -> Iterator[Context]:
    with sending_context(make_config, sink) as ctx:
        yield ctx


def add_source(ctx: Context, name: str, kind: str, location: str) -> None:
    with transaction(ctx.engine) as conn:
        source_store.add(
            conn,
            name=name,
            kind=kind,
            location=location,
            region="zwickau",
            options={"allow_private": "true"},
        )


def bodies(message: EmailMessage) -> str:
    parts = [message.get_body((kind,)) for kind in ("plain", "html")]
    return "\n".join(p.get_content() for p in parts if p is not None)


def personal_links(body: str) -> set[str]:
    return set(re.findall(r"https?://[^\s\"<>]+/(?:abmelden|einstellungen)/[^\s\"<>]+", body))


def test_item_text_never_reaches_a_recipients_personal_values(
    smtp_ctx: Context, sink: Sink, httpserver: HTTPServer, tmp_path: Path
) -> None:
    feed = hostile_rss()
    httpserver.expect_request("/feed.xml").respond_with_data(feed, 200, {"Content-Type": RSS})
    add_source(smtp_ctx, "Feind", "feed", httpserver.url_for("/feed.xml"))
    folder = tmp_path / "ordner"
    folder.mkdir()
    (folder / "feind.md").write_text(hostile_markdown(), encoding="utf-8")
    add_source(smtp_ctx, "Ordner", "folder", str(folder))
    summary = collect_all(smtp_ctx)
    assert all(not r.error for r in summary.reports), summary.reports
    slots = " ".join(SLOTS)
    add_manual_item(
        smtp_ctx,
        title=f"Handarbeit {slots}",
        link=f"{EVIL}%%NL_RECIPIENT%%",
        text=f"Text {slots} [x]({EVIL}%%NL_MANAGE_URL%%)",
        regions=["zwickau"],
    )
    people = ["anna@gemeinde-zwickau.de", "bert@plauen.de"]
    for address in people:
        add_subscriber(smtp_ctx, address, {"zwickau": "confirmed"})

    result = sending.send_region(smtp_ctx, "zwickau")

    assert result.recipients == 2
    received = sink.parsed()
    assert sorted(received) == people
    texts = {address: bodies(received[address]) for address in people}
    links = {address: personal_links(texts[address]) for address in people}
    for address in people:
        body, other = texts[address], next(p for p in people if p != address)
        for marker in ("rss-1 Titel", "rss-2 Titel", "Ordner", "Handarbeit", "Inhalt", "Kurz"):
            assert marker in body  # the hostile items are in the digest
        # exactly the footer's slots: one address, one manage and one unsubscribe link per part
        assert body.count(address) == 2
        assert len(links[address]) == 2 and all("evil.example" not in x for x in links[address])
        for line in body.splitlines():
            if "evil.example" in line or any(s in line for s in ("Titel", "Inhalt", "Kurz")):
                assert address not in line and "/abmelden/" not in line, line
                assert "/einstellungen/" not in line, line
        assert other not in body and not links[other] & set(personal_links(body))
        raw = next(data for rcpts, data in sink.messages if rcpts == [address])
        assert other.encode() not in raw
        assert not any(link.encode() in raw for link in links[other])


BAD_SCHEMES = [
    "javascript:alert(1)",
    "JAVASCRIPT:alert(1)",
    " \x01javascript:alert(1)",
    "java\tscript:alert(1)",
    "\x0bjavascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "ftp://e.org/datei",
]
BAD_LINKS = [*BAD_SCHEMES, "//evil.example/pfad", "/relativ"]  # relative: no item link


@pytest.mark.parametrize("link", BAD_LINKS)
def test_safe_link_drops_every_other_scheme(link: str) -> None:
    assert safe_link(link) is None


def test_safe_link_keeps_http_links_and_escapes_a_bare_percent() -> None:
    assert safe_link(" https://e.org/a?b=1 ") == "https://e.org/a?b=1"
    assert safe_link("HTTP://e.org/%41") == "HTTP://e.org/%41"
    assert safe_link("https://e.org/?n=%%NL_X%%") == "https://e.org/?n=%25%25NL_X%25%25"


def _anchors(links: list[str]) -> str:
    return "".join(f'<a href="{html.escape(link)}">x</a> ' for link in links)


def _bad_feeds() -> dict[str, tuple[str, bytes]]:
    xml_links = [link for link in BAD_SCHEMES if "\x01" not in link and "\x0b" not in link]
    rss = "".join(
        f"<item><guid isPermaLink='false'>r{i}</guid><title>RSS Meldung Nummer {i}</title>"
        f"<link>{html.escape(link)}</link><description>"
        f"{html.escape('<p>' + _anchors(xml_links) + '</p>')}</description></item>"
        for i, link in enumerate(xml_links)
    )
    json_items = [
        {"id": f"j{i}", "url": link, "title": f"JSON Meldung Nummer {i}",
         "content_html": f"<p>{_anchors(BAD_SCHEMES)}</p>"}
        for i, link in enumerate(BAD_SCHEMES)
    ]  # fmt: skip
    page = "".join(
        f'<article class="n"><h2><a href="{html.escape(link)}">Seiten Meldung Nummer {i}</a></h2>'
        f'<div class="t">{_anchors(BAD_SCHEMES)}</div></article>'
        for i, link in enumerate(BAD_SCHEMES)
    )
    return {
        "rss": (RSS, f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
                f"<link>https://e.org/</link><description>d</description>{rss}</channel></rss>"
                .encode()),
        "json": ("application/feed+json", json.dumps(
            {"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": json_items}
        ).encode()),
        "page": ("text/html; charset=utf-8", f"<html><body>{page}</body></html>".encode()),
    }  # fmt: skip


def test_feed_and_page_sources_store_no_dangerous_link(
    make_config: Callable[..., Config], httpserver: HTTPServer
) -> None:
    ctx = Context(make_config())
    ctx.init_db()
    for kind, (mime, body) in _bad_feeds().items():
        httpserver.expect_request(f"/{kind}").respond_with_data(body, 200, {"Content-Type": mime})
        options = {"allow_private": "true"}
        if kind == "page":
            options |= {"item": "article.n", "title": "h2", "link": "h2 a", "teaser": ".t"}
        with transaction(ctx.engine) as conn:
            source_store.add(
                conn,
                name=kind,
                kind="page" if kind == "page" else "feed",
                location=httpserver.url_for(f"/{kind}"),
                region="zwickau",
                options=options,
            )
    summary = collect_all(ctx)
    assert all(not r.error for r in summary.reports), summary.reports
    with transaction(ctx.engine) as conn:
        stored = item_store.search(conn, limit=100)
    assert len(stored) == 6 + 2 * len(BAD_SCHEMES)  # no control characters in XML
    for item in stored:
        assert item.url is None, (item.title, item.url)
        html_text = (item.summary_html + item.content_html).lower()
        assert html_text.count("<a") == (6 if item.title.startswith("RSS") else len(BAD_SCHEMES))
        assert "href" not in html_text and "script" not in html_text, item.title
    ctx.close()


@pytest.mark.parametrize("link", BAD_LINKS)
def test_folder_and_items_add_refuse_a_dangerous_link(
    ctx: Context, link: str, tmp_path: Path
) -> None:
    path = tmp_path / "x.md"
    path.write_text(f'+++\ntitle = "Ordner Meldung"\nlink = {json.dumps(link)}\n+++\nText\n')
    with pytest.raises(ParseError, match="http"):
        read_file(path)
    with pytest.raises(InvalidInputError, match="http"):
        add_manual_item(ctx, title="Handarbeit mit Link", link=link, regions=["zwickau"])
