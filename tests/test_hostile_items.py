"""Hostile item text end to end: feed (real HTTP server on loopback), folder and
``items add`` items go into a digest that real SMTP (aiosmtpd) delivers to two people."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from newsletter import sending
from newsletter.collect import collect_all
from newsletter.config import Config
from newsletter.context import Context
from newsletter.curation import add_manual_item
from newsletter.store import sources as source_store
from newsletter.store.db import transaction
from tests.delivery_helpers import Sink, add_subscriber, smtp_context, smtp_sink

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
    with smtp_sink(sink) as port:
        ctx = smtp_context(make_config, port)
        yield ctx
        ctx.close()


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
