"""nh3 allowlist (STANDARDS §8): nothing executable survives, links are absolute."""

from __future__ import annotations

import re
import unicodedata

import pytest

from newsletter.sanitize import (
    absolutize_links,
    clean_html,
    normalize_space,
    plain_text,
    text_excerpt,
)

BASE = "https://www.example.org/aktuelles/meldung.html"


def test_script_and_style_are_removed_with_their_content() -> None:
    html = "<p>Text</p><script>alert('x')</script><style>p{color:red}</style>"
    assert clean_html(html, BASE) == "<p>Text</p>"


@pytest.mark.parametrize(
    "attribute",
    ['onclick="steal()"', 'onmouseover="x()"', 'style="background:url(x)"', 'class="x"'],
)
def test_event_handlers_and_styles_are_removed(attribute: str) -> None:
    cleaned = clean_html(f"<p {attribute}>Hallo</p>", BASE)
    assert cleaned == "<p>Hallo</p>"


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "java&#09;script:alert(1)",
        " javascript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "vbscript:msgbox(1)",
    ],
)
def test_dangerous_link_schemes_are_removed(href: str) -> None:
    cleaned = clean_html(f'<a href="{href}">Klick</a>', BASE)
    assert "href" not in cleaned
    assert "Klick" in cleaned


def test_relative_links_become_absolute_against_the_item_url() -> None:
    html = '<a href="/kontakt">K</a> <a href="tipps.html">T</a> <a href="../archiv/">A</a>'
    cleaned = clean_html(html, BASE)
    assert 'href="https://www.example.org/kontakt"' in cleaned
    assert 'href="https://www.example.org/aktuelles/tipps.html"' in cleaned
    assert 'href="https://www.example.org/archiv/"' in cleaned


@pytest.mark.parametrize("href", ["", "   ", "\t"])
def test_an_empty_link_does_not_point_to_the_item(href: str) -> None:
    assert clean_html(f'<a href="{href}">K</a>', BASE) == '<a rel="noopener noreferrer">K</a>'


def test_without_a_base_relative_links_stay_relative() -> None:
    cleaned = clean_html('<a href=" /kontakt ">K</a> <a href="https://e.org/">E</a>')
    assert cleaned == (
        '<a href="/kontakt" rel="noopener noreferrer">K</a> '
        '<a href="https://e.org/" rel="noopener noreferrer">E</a>'
    )


def test_links_get_noopener_and_only_href_and_title() -> None:
    cleaned = clean_html('<a href="https://e.org/" title="T" target="_blank" id="x">L</a>', BASE)
    assert cleaned == '<a href="https://e.org/" title="T" rel="noopener noreferrer">L</a>'


def test_mailto_is_kept() -> None:
    assert 'href="mailto:info@example.org"' in clean_html('<a href="mailto:info@example.org">M</a>')


def test_images_and_iframes_are_dropped() -> None:
    html = '<p>a<img src="https://tracker.example.com/p.gif"><iframe src="https://e.org"></iframe>b</p>'
    assert clean_html(html, BASE) == "<p>ab</p>"


def test_allowed_structure_survives() -> None:
    html = "<h2>Ü</h2><ul><li><strong>fett</strong> <em>kursiv</em></li></ul><blockquote>Z</blockquote>"
    assert clean_html(html, BASE) == html


def test_empty_and_whitespace() -> None:
    assert clean_html("", BASE) == ""
    assert clean_html("   \n", BASE) == ""


def test_absolutize_keeps_absolute_links() -> None:
    html = '<a href="https://other.example.org/x">x</a>'
    assert absolutize_links(html, BASE) == html


def test_plain_text_decodes_entities_and_drops_tags() -> None:
    assert plain_text("Tipps &amp; Tricks <b>für</b>\n Senioren<script>x()</script>") == (
        "Tipps & Tricks für Senioren"
    )
    assert plain_text("a < b") == "a < b"


def test_normalize_space_removes_control_characters() -> None:
    assert normalize_space("A\x00B\x1b  C\n") == "AB C"


def test_normalize_space_drops_exactly_the_unicode_control_characters() -> None:
    """The regex in normalize_space agrees with Unicode's category Cc on every code point."""

    def by_category(text: str) -> str:
        text = unicodedata.normalize("NFC", text)
        kept = "".join(c for c in text if c in "\t\n" or unicodedata.category(c) != "Cc")
        return re.sub(r"\s+", " ", kept).strip()

    for code in range(0x3000):
        text = f"a{chr(code)}b"
        assert normalize_space(text) == by_category(text), hex(code)


def test_text_excerpt_cuts_at_a_word() -> None:
    text = text_excerpt("<p>" + "Wort " * 100 + "</p>", 30)
    assert text.endswith(" …")
    assert len(text) <= 32
