"""Feed parsing: golden files (feed in → items out), charsets, hostile XML."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest
from _golden import candidate_json, check_golden

from newsletter.dedup import prepare
from newsletter.errors import ParseError
from newsletter.sources.feed import parse_feed

FEEDS = Path(__file__).parent / "data" / "feeds"
FETCHED_AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
GOLDEN = ["rss2.xml", "atom.xml", "rss091.xml", "jsonfeed.json", "latin1.xml", "cp1252.xml"]


def _parse(name: str, content_type: str = "application/xml") -> list[dict[str, object]]:
    body = (FEEDS / name).read_bytes()
    url = f"https://feeds.example.org/{name}"
    items = parse_feed(body, url, {"Content-Type": content_type})
    return [
        candidate_json(prepare(i, scope="Test", fetched_at=FETCHED_AT, tz="Europe/Berlin"))
        for i in items
    ]


@pytest.mark.parametrize("name", GOLDEN)
def test_feed_matches_golden_file(name: str) -> None:
    content_type = "application/feed+json" if name.endswith(".json") else "application/xml"
    check_golden(_parse(name, content_type), FEEDS / f"{name}.expected.json")


def test_rss_html_is_sanitised_and_links_absolute() -> None:
    first, second, _ = _parse("rss2.xml")
    summary = str(first["summary_html"])
    assert "<script" not in summary and "onclick" not in summary
    assert "javascript:" not in summary and "<img" not in summary
    assert 'href="https://polizei.example.org/leipzig/tipps"' in summary
    assert 'href="https://polizei.example.org/leipzig/meldung/kontakt.html"' in str(
        second["content_html"]
    )
    assert "style" not in str(second["content_html"])


def test_tracking_parameters_leave_the_canonical_url() -> None:
    first = _parse("rss2.xml")[0]
    assert first["canonical_url"] == "https://polizei.example.org/leipzig/meldung/4711"


def test_missing_date_is_fetch_time_and_marked() -> None:
    undated = _parse("rss2.xml")[2]
    assert undated["published_at"] == FETCHED_AT.isoformat()
    assert undated["published_estimated"] is True


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("latin1.xml", "Schöne Grüße aus Zwickau: Präventionsrat tagt öffentlich"),
        ("cp1252.xml", "„Sicher wohnen“ in Plauen – Beratung kostet 0 €"),
    ],
)
def test_legacy_charsets_give_correct_umlauts(name: str, expected: str) -> None:
    assert _parse(name)[0]["title"] == expected


def test_charset_from_http_header_beats_a_missing_declaration() -> None:
    body = (
        '<rss version="2.0"><channel><title>t</title><item><title>Größe</title>'
        "<link>https://e.org/1</link></item></channel></rss>"
    ).encode("iso-8859-1")
    items = parse_feed(
        body, "https://e.org/f", {"content-type": "application/rss+xml; charset=ISO-8859-1"}
    )
    assert items[0].title == "Größe"


def test_malformed_xml_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="kein wohlgeformtes XML") as info:
        parse_feed((FEEDS / "malformed.xml").read_bytes(), "https://kaputt.example.org/f")
    assert info.value.url == "https://kaputt.example.org/f"


@pytest.mark.parametrize("name", ["bomb.xml", "xxe.xml"])
def test_entity_declarations_are_refused_with_little_memory(name: str) -> None:
    body = (FEEDS / name).read_bytes()
    tracemalloc.start()
    try:
        with pytest.raises(ParseError, match="Entity-Deklarationen"):
            parse_feed(body, "https://evil.example.org/f")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000


def test_feedparser_alone_also_neutralises_the_bomb_and_xxe() -> None:
    """Defence in depth: even past our prolog check, feedparser expands nothing."""
    import feedparser

    for name in ("bomb.xml", "xxe.xml"):
        tracemalloc.start()
        result = feedparser.parse((FEEDS / name).read_bytes(), response_headers={})
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        titles = " ".join(str(e.get("title", "")) for e in result.entries)
        assert result.bozo
        assert "lollollol" not in titles and "root:" not in titles
        assert peak < 5_000_000


def test_an_entity_mentioned_in_content_is_fine() -> None:
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item>'
        b"<title>XML lernen</title><link>https://e.org/1</link>"
        b"<description><![CDATA[<p>Schreiben Sie <!ENTITY> nie in Feeds.</p>]]></description>"
        b"</item></channel></rss>"
    )
    assert parse_feed(body, "https://e.org/f")[0].title == "XML lernen"


def test_html_page_is_not_a_feed() -> None:
    body = b"<!DOCTYPE html><html><head><title>Start</title></head><body><p>Hallo</p></body></html>"
    with pytest.raises(ParseError):
        parse_feed(body, "https://e.org/", {"content-type": "text/html"})


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"version": "1", "items": []}',
        b'{"version": "https://jsonfeed.org/version/1.1"}',
    ],
)
def test_broken_json_feeds_are_parse_errors(body: bytes) -> None:
    with pytest.raises(ParseError):
        parse_feed(body, "https://e.org/feed.json", {"content-type": "application/feed+json"})
