"""The digest's fluid layout in a real Chromium (Playwright): the HTML part as it reached a
real SMTP server (aiosmtpd on loopback), at phone and card width, with and without its
``<style>`` block (several clients drop it). Screenshots go to tests/artifacts/."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from newsletter.config import Config
from newsletter.mail import sending
from newsletter.models import Item
from tests.configs import service_config
from tests.delivery_helpers import Sink, add_subscriber, sending_context
from tests.feedfixtures import sample_items, store_items
from tests.livesrv import chromium

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
LONG_WORD = "Grundstücksverkehrsgenehmigungszuständigkeitsübertragungsverordnungsentwurf"
LONG_URL = "https://www.polizei.sachsen.de/de/dokumente/" + "praevention-" * 8 + "merkblatt.pdf"
STYLE = re.compile(r"<style\b[^>]*>.*?</style>", re.IGNORECASE | re.DOTALL)


def layout_items() -> list[Item]:
    """The sample items and the hard cases of a phone: a long word, a long link text,
    a hand-written item whose first paragraph announces a list."""
    base = sample_items()[1]
    return [
        *sample_items(),
        replace(
            base,
            id="long1",
            title=f"Neue {LONG_WORD} in Zwickau",
            url=LONG_URL,
            summary_html=f'<p>Merkblatt: <a href="{LONG_URL}">{LONG_URL}</a> – {LONG_WORD}.</p>',
        ),
        replace(
            base,
            id="hand1",
            title="Betrug am Telefon: So schützen Sie sich",
            url=None,
            source_name=None,
            summary_html="",
            content_html=(
                "<p>Falsche Polizeibeamte rufen wieder an. Die Polizei rät:</p>"
                "<ul><li>Legen Sie auf.</li><li>Rufen Sie selbst die 110 an.</li>"
                "<li>Geben Sie nie Geld an Fremde.</li></ul><p>Weitere Hinweise folgen.</p>"
            ),
        ),
    ]


@pytest.fixture(scope="module")
def sent_html(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The HTML part of the digest as aiosmtpd received it."""
    folder = tmp_path_factory.mktemp("layout")

    def make_config(database_url: str | None = None, **sections: dict[str, Any]) -> Config:
        return service_config(folder, database_url, **sections)

    sink = Sink()
    with sending_context(make_config, sink) as ctx:  # stores the sample items
        store_items(ctx, layout_items()[len(sample_items()) :])
        add_subscriber(ctx, "koordination@stadt-zwickau.example", {"zwickau": "confirmed"})
        assert sending.send_region(ctx, "zwickau", now=NOW).recipients == 1
    (message,) = sink.parsed().values()
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert isinstance(html, str) and "<style" in html
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "digest-sent.html").write_text(html, encoding="utf-8")
    return html


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def show(browser: Browser) -> Iterator[Callable[..., Page]]:
    pages: list[Page] = []

    def open_page(html: str, width: int, dark: bool = False) -> Page:
        scheme = "dark" if dark else "light"
        page = browser.new_page(viewport={"width": width, "height": 800}, color_scheme=scheme)
        pages.append(page)
        page.set_content(html, wait_until="load")
        return page

    yield open_page
    for page in pages:
        page.close()


def shoot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"digest-{name}.png"), full_page=True)


def without_style(html: str) -> str:
    stripped = STYLE.sub("", html)
    assert "<style" not in stripped.lower()
    return stripped


@pytest.mark.parametrize("width", [375, 600])
@pytest.mark.parametrize("styled", [True, False], ids=["as-sent", "no-style"])
def test_digest_never_scrolls_sideways(
    sent_html: str, show: Callable[..., Page], width: int, styled: bool
) -> None:
    page = show(sent_html if styled else without_style(sent_html), width)
    shoot(page, f"{width}-{'sent' if styled else 'nostyle'}")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    card = page.locator("table.card").bounding_box()
    assert card is not None and card["width"] <= width
    assert page.get_by_text(LONG_WORD).first.is_visible()


@pytest.mark.parametrize("styled", [True, False], ids=["as-sent", "no-style"])
def test_phone_type_and_tap_targets(
    sent_html: str, show: Callable[..., Page], styled: bool
) -> None:
    page = show(sent_html if styled else without_style(sent_html), 375)
    body_sizes = page.eval_on_selector_all(
        "td.inner p:not(.meta), td.inner li",
        "nodes => nodes.map(n => parseFloat(getComputedStyle(n).fontSize))",
    )
    assert body_sizes and min(body_sizes) >= 16
    targets = page.locator("a.item-link, a.button, a.tap")
    # items of Zwickau, button, footer, »Im Browser ansehen«
    assert targets.count() == len(layout_items()) - 3 + 1 + 4 + 1
    for n in range(targets.count()):
        box = targets.nth(n).bounding_box()
        assert box is not None and box["height"] >= 44, targets.nth(n).inner_text()


def test_card_is_fluid_up_to_600_px(sent_html: str, show: Callable[..., Page]) -> None:
    for width, expected in ((375, 375), (1024, 600)):
        page = show(without_style(sent_html), width)
        card = page.locator("table.card").bounding_box()
        assert card is not None and round(card["width"]) == expected
    shoot(page, "1024-desktop")


def test_outlook_keeps_a_600_px_ghost_table(sent_html: str) -> None:
    ghost = re.search(r"<!--\[if mso\]>(.*?)<!\[endif\]-->", sent_html.split("<body", 1)[1])
    assert ghost is not None and 'width="600"' in ghost.group(1)
    assert "max-width:600px" in sent_html.replace(" ", "")


@pytest.mark.parametrize("width", [375, 600])
def test_dark_mode_is_an_enhancement(sent_html: str, show: Callable[..., Page], width: int) -> None:
    page = show(sent_html, width, dark=True)
    shoot(page, f"{width}-dark")
    background = page.eval_on_selector("table.card", "n => getComputedStyle(n).backgroundColor")
    assert background == "rgb(30, 30, 30)"
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    light = show(without_style(sent_html), width, dark=True)
    plain = light.eval_on_selector("table.card", "n => getComputedStyle(n).backgroundColor")
    assert plain == "rgb(255, 255, 255)"  # without <style>: the light card, still readable


def test_announced_list_reaches_the_html_part(sent_html: str) -> None:
    assert "Die Polizei rät:</p>" in sent_html
    assert re.search(r"<ul[^>]*>\s*<li[^>]*>Legen Sie auf\.</li>", sent_html)
