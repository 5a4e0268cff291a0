"""HTML listing pages: CSS selectors, German dates, charset order (golden file)."""

from __future__ import annotations

import codecs
from datetime import UTC, datetime
from pathlib import Path

import pytest
from _golden import candidate_json, check_golden

from newsletter.dedup import prepare
from newsletter.errors import ParseError
from newsletter.sources.dates import as_datetime, parse_date
from newsletter.sources.page import decode_html, parse_page

PAGES = Path(__file__).parent / "data" / "pages"
URL = "https://www.freiberg.example.org/aktuelles/index.html"
SELECTORS = {
    "item": "article.news",
    "title": ".news-title",
    "link": ".news-title",
    "date": ".news-date",
    "teaser": ".teaser",
}
FETCHED_AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _items(headers: dict[str, str] | None = None) -> list[dict[str, object]]:
    body = (PAGES / "listing.html").read_bytes()
    parsed = parse_page(body, URL, SELECTORS, headers or {"Content-Type": "text/html"})
    return [
        candidate_json(prepare(p, scope="Seite", fetched_at=FETCHED_AT, tz="Europe/Berlin"))
        for p in parsed
    ]


def test_listing_page_matches_golden_file() -> None:
    check_golden(_items(), PAGES / "listing.html.expected.json")


def test_items_without_title_are_skipped_and_links_absolute() -> None:
    items = _items()
    assert [i["url"] for i in items] == [
        "https://www.freiberg.example.org/aktuelles/einbruchschutz.html",
        "https://www.example.org/pressemitteilung?id=5&utm_campaign=x",
        "https://www.freiberg.example.org/aktuelles/praeventionstag.html",
        "https://www.freiberg.example.org/aktuelles/ohne-datum.html",
    ]


def test_teaser_is_sanitised_with_absolute_links() -> None:
    teaser = str(_items()[0]["summary_html"])
    assert 'href="https://www.freiberg.example.org/aktuelles/termine.html"' in teaser
    assert "javascript" not in teaser and "onclick" not in teaser and "track()" not in teaser


def test_meta_charset_windows_1252_gives_umlauts() -> None:
    assert _items()[2]["title"] == "Präventionstag in Brand-Erbisdorf"


def test_dates_from_text_time_element_and_missing() -> None:
    dates = [(i["published_at"], i["published_estimated"]) for i in _items()]
    assert dates == [
        ("2026-11-16T23:00:00+00:00", False),  # »17. November 2026«, midnight in Berlin
        ("2026-11-10T15:00:00+00:00", False),  # <time datetime>
        ("2026-11-02T23:00:00+00:00", False),  # »Stand: 03.11.26«
        (FETCHED_AT.isoformat(), True),
    ]


def test_base_element_is_honoured() -> None:
    body = b'<html><head><base href="https://cdn.example.org/news/"></head><body><div class="i"><a class="t" href="x.html">Titel</a></div></body></html>'
    items = parse_page(body, URL, {"item": ".i", "title": ".t", "link": ".t"})
    assert items[0].url == "https://cdn.example.org/news/x.html"


def test_invalid_selector_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="Selektor"):
        parse_page(b"<p>x</p>", URL, {"item": "[[[", "title": "h2", "link": "a"})


def test_items_found_but_no_title_is_a_parse_error() -> None:
    body = b'<div class="i"><p>kein Titel</p></div>'
    with pytest.raises(ParseError, match="kein Eintrag"):
        parse_page(body, URL, {"item": ".i", "title": "h2", "link": "a"})


def test_no_items_is_an_empty_list() -> None:
    assert parse_page(b"<p>leer</p>", URL, {"item": ".i", "title": "h2", "link": "a"}) == []


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (
            codecs.BOM_UTF8 + "<meta charset=windows-1252>Ä".encode(),
            "text/html; charset=iso-8859-1",
            "Ä",
        ),
        ("<p>Ä</p>".encode("cp1252"), "text/html; charset=windows-1252", "Ä"),
        ('<meta charset="utf-8">Ä'.encode("cp1252"), "text/html; charset=windows-1252", "Ä"),
        (
            '<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1">€'.encode(
                "cp1252"
            ),
            "text/html",
            "€",
        ),
        ("<p>Ä</p>".encode(), "text/html", "Ä"),
        ("<p>Ä</p>".encode(), "text/html; charset=nonsense", "Ä"),
    ],
)
def test_charset_order_bom_http_meta_utf8(body: bytes, content_type: str, expected: str) -> None:
    assert expected in decode_html(body, content_type)


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("17. Dezember 2021", "2021-12-16T23:00:00+00:00"),
        ("17. Dez. 2021", "2021-12-16T23:00:00+00:00"),
        ("Freitag, 17. Dezember 2021, 14:30 Uhr", "2021-12-17T13:30:00+00:00"),
        ("3. März 2026", "2026-03-02T23:00:00+00:00"),
        ("17.12.2021", "2021-12-16T23:00:00+00:00"),
        ("17.12.21", "2021-12-16T23:00:00+00:00"),
        ("17.12.2021 14:30", "2021-12-17T13:30:00+00:00"),
        ("1.7.2021, 9.30 Uhr", "2021-07-01T07:30:00+00:00"),
        ("2021-12-17", "2021-12-16T23:00:00+00:00"),
        ("2021-12-17T14:30:00+01:00", "2021-12-17T13:30:00+00:00"),
        ("2021-12-17T14:30:00Z", "2021-12-17T14:30:00+00:00"),
        ("Fri, 17 Dec 2021 14:30:00 +0100", "2021-12-17T13:30:00+00:00"),
    ],
)
def test_german_and_iso_dates(text: str, iso: str) -> None:
    parsed = parse_date(text)
    assert parsed is not None and parsed.isoformat() == iso


@pytest.mark.parametrize("text", ["", "kein Datum", "31.02.2021", "17. Brumaire 2021"])
def test_unreadable_dates_are_none(text: str) -> None:
    assert parse_date(text) is None


def test_toml_dates_become_utc() -> None:
    from datetime import date

    assert as_datetime(date(2026, 7, 1)) == datetime(2026, 6, 30, 22, 0, tzinfo=UTC)
