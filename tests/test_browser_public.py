"""The public site in a real Chromium (Playwright): the map, the place look-up, the form's
errors, the feed page, long words at 390 px, and axe-core on every public page at 1280 and
390 px with a screenshot of each in tests/artifacts/."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from newsletter.config import Config
from newsletter.context import Context
from newsletter.regionmap import region_map
from newsletter.store import subscribers as store
from newsletter.store.db import transaction
from newsletter.subscriptions import service
from newsletter.subscriptions.rules import Request as Who
from newsletter.subscriptions.tokens import Purpose
from newsletter.web import create_app
from tests.feedfixtures import sample_items, store_items
from tests.livesrv import chromium, serve_app

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
LONG_TITLE = (
    "Weihnachtsmärkten: Kriminalpräventionsveranstaltungsreihe mit "
    "Taschendiebstahlvorbeugungsinformationsständen"
)
WIDTHS = (1280, 390)


@pytest.fixture
def site(make_config: Callable[..., Config]) -> Iterator[tuple[Context, str]]:
    ctx = Context(make_config())
    ctx.init_db()
    items = sample_items()
    items.append(replace(items[4], id="lang01", title=LONG_TITLE, regions=("dresden",)))
    store_items(ctx, items)
    with serve_app(create_app(ctx)) as url:
        yield ctx, url
    ctx.close()


@pytest.fixture
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser) -> Page:
    return browser.new_page(viewport={"width": 1280, "height": 900})


def click_region_on_map(page: Page, selector: str, key: str) -> None:
    """Click the map where the region's biggest district has its centre (real mouse)."""
    area = next(r for r in region_map(_regions(page)).regions if r.key == key)
    district = max(area.districts, key=lambda d: d.area)
    page.locator(selector).scroll_into_view_if_needed()
    box = page.locator(selector).bounding_box()  # in the viewport, as the mouse needs it
    assert box is not None
    scale = box["width"] / 800
    page.mouse.click(box["x"] + district.centre[0] * scale, box["y"] + district.centre[1] * scale)


def _regions(page: Page) -> Any:
    from newsletter.config import load_config  # the default regions of config.toml

    return load_config().region_list()


@pytest.mark.parametrize("javascript", [False, True])
def test_a_click_on_the_map_ticks_the_region(browser: Browser, site: Any, javascript: bool) -> None:
    _, url = site
    page = browser.new_page(java_script_enabled=javascript, viewport={"width": 1280, "height": 900})
    page.goto(url + "/abonnieren")
    dresden, zwickau = page.locator("#region-dresden"), page.locator("#region-zwickau")
    assert not dresden.is_checked()
    click_region_on_map(page, ".map-stack", "dresden")
    assert dresden.is_checked() and not zwickau.is_checked()
    click_region_on_map(page, ".map-stack", "zwickau")
    assert dresden.is_checked() and zwickau.is_checked()
    click_region_on_map(page, ".map-stack", "dresden")
    assert not dresden.is_checked()
    fill = page.locator(".map-zwickau path").first.evaluate("p => getComputedStyle(p).fill")
    assert fill == "rgb(94, 79, 162)"  # the chosen region is drawn dark


def test_the_start_page_map_opens_a_region(site: Any, page: Page) -> None:
    _, url = site
    page.goto(url + "/")
    click_region_on_map(page, ".region-map svg", "ostsachsen")
    page.wait_for_url("**/regionen/ostsachsen")
    assert page.get_by_role("heading", name="Meldungen für Ostsachsen").is_visible()


def test_the_lookup_finds_connewitz_and_keeps_the_form(site: Any, page: Page) -> None:
    _, url = site
    page.goto(url + "/abonnieren")
    page.get_by_label("E-Mail-Adresse (Pflichtfeld)").fill("praevention@leipzig.example")
    page.get_by_label("Ja, ich möchte den Newsletter").check()
    page.get_by_label("Ihre Gemeinde, Stadt oder Ihr Ortsteil").fill("Connewitz")
    page.get_by_role("button", name="Region suchen").click()
    result = page.get_by_role("status")
    assert "Connewitz (Stadtteil von Leipzig) gehört zur Region Leipzig/Nordsachsen" in (
        result.inner_text()
    )
    assert page.locator("#region-leipzig-nordsachsen").is_checked()
    assert page.get_by_label("E-Mail-Adresse (Pflichtfeld)").input_value() == (
        "praevention@leipzig.example"
    )
    assert page.get_by_label("Ja, ich möchte den Newsletter").is_checked()
    page.get_by_role("button", name="Abonnieren").click()
    assert page.get_by_role("heading", name="Bitte bestätigen Sie Ihre Anmeldung").is_visible()
    assert "7 Tage" in page.locator("main").inner_text()


def test_the_form_shows_every_error_at_once_and_keeps_values(site: Any, page: Page) -> None:
    _, url = site
    page.goto(url + "/abonnieren")
    page.get_by_label("E-Mail-Adresse (Pflichtfeld)").fill("kein-at-zeichen")
    page.get_by_label("Name (freiwillig)").fill("Anna\u202eSchmidt")
    page.get_by_label("Kommune oder Organisation (freiwillig)").fill("Stadt Pirna")
    page.get_by_label("Ja, ich möchte den Newsletter").check()
    page.get_by_role("button", name="Abonnieren").click()
    summary = page.get_by_role("alert")
    links = summary.get_by_role("link")
    assert links.count() == 3  # address, name, regions
    texts = links.all_inner_texts()
    assert "keine gültige E-Mail-Adresse" in texts[0]
    assert "Steuerzeichen" in texts[1] and "mindestens eine Region" in texts[2]
    assert page.get_by_label("Kommune oder Organisation (freiwillig)").input_value() == (
        "Stadt Pirna"
    )
    assert page.get_by_label("Ja, ich möchte den Newsletter").is_checked()
    links.nth(2).click()
    assert page.evaluate("document.activeElement.id") == "region-leipzig-nordsachsen"


def test_a_region_page_subscribes_with_its_region_ticked(site: Any, page: Page) -> None:
    _, url = site
    page.goto(url + "/regionen/zwickau")
    page.get_by_role("link", name="Newsletter abonnieren").last.click()
    assert page.locator("#region-zwickau").is_checked()
    assert not page.locator("#region-dresden").is_checked()


def test_the_rss_link_opens_a_german_feed_page(site: Any, page: Page) -> None:
    _, url = site
    page.goto(url + "/regionen/dresden")
    page.get_by_role("link", name="RSS", exact=True).click()
    assert page.get_by_role("heading", name="Feed »Dresden« abonnieren").is_visible()
    field = page.get_by_label("Feed-Adresse (RSS)")
    assert field.input_value() == "http://127.0.0.1:8000/feeds/dresden.rss"
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_role("button", name="Adresse kopieren").click()
    expect(page.get_by_role("status")).to_contain_text("Die Adresse ist kopiert")
    assert page.evaluate("navigator.clipboard.readText()") == field.input_value()


def test_long_words_wrap_on_a_phone(site: Any, browser: Browser) -> None:
    _, url = site
    page = browser.new_page(viewport={"width": 390, "height": 844})
    for path in ("/meldungen/lang01", "/regionen/dresden", "/", "/abonnieren"):
        page.goto(url + path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
    page.goto(url + "/meldungen/lang01")
    page.get_by_role("link", name="alle Meldungen für Dresden").click()
    assert page.get_by_role("heading", name="Meldungen für Dresden").is_visible()


def _public_pages(ctx: Context, url: str) -> dict[str, str]:
    """Every public page a partner can reach, by a name for its screenshot."""
    who = Who("127.0.0.1", "test")
    service.request_subscription(
        ctx, email="p@stadt.example", name="", organisation="", regions=["dresden"], request=who
    )
    with transaction(ctx.engine) as conn:
        subscriber = store.find_by_email(conn, "p@stadt.example")
    assert subscriber is not None

    def token(purpose: Purpose, region: str | None = None) -> str:
        return ctx.tokens.make(purpose, subscriber.id, region, link_key=subscriber.link_key)

    confirm = token(Purpose.CONFIRM)
    return {
        "start": "/",
        "region": "/regionen/dresden",
        "item": "/meldungen/item05",
        "item-long": "/meldungen/lang01",
        "subscribe": "/abonnieren",
        "subscribe-lookup": "/abonnieren?ort=Plauen",
        "feed-help": "/feed/dresden",
        "region-404": "/regionen/erzgebirge",
        "feed-404": "/feeds/erzgebirge.rss",
        "impressum": "/impressum",
        "datenschutz": "/datenschutz",
        "barrierefreiheit": "/barrierefreiheit",
        "confirm": f"/bestaetigen/{confirm}",
        "manage": f"/einstellungen/{token(Purpose.MANAGE)}",
        "unsubscribe": f"/abmelden/{token(Purpose.UNSUBSCRIBE, 'dresden')}",
        "broken-link": "/abmelden/kaputt",
    }


def _check(page: Page, name: str, width: int) -> list[str]:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"public-{name}-{width}.png"), full_page=True)
    results = Axe().run(page)
    return [
        f"{name} @{width}: {v['id']} ({v['impact']}): {v['help']} – {v['nodes'][0]['target']}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_every_public_page_passes_axe_at_1280_and_390(site: Any, browser: Browser) -> None:
    ctx, url = site
    pages = _public_pages(ctx, url)
    findings: list[str] = []
    for width in WIDTHS:
        page = browser.new_page(viewport={"width": width, "height": 900})
        for name, path in pages.items():
            page.goto(url + path)
            findings += _check(page, name, width)
        # the pages behind a form: errors, thank-you, confirmed, unsubscribed
        page.goto(url + "/abonnieren")
        page.get_by_role("button", name="Abonnieren").click()
        findings += _check(page, "subscribe-errors", width)
        page.goto(url + pages["confirm"])
        page.get_by_role("button", name="Ja, Newsletter bestätigen").click()
        findings += _check(page, "confirmed", width)
        page.goto(url + pages["unsubscribe"])
        page.get_by_role("button", name="Ja, abbestellen").click()
        findings += _check(page, "unsubscribed", width)
        page.goto(url + "/abonnieren")
        page.get_by_label("E-Mail-Adresse (Pflichtfeld)").fill(f"neu{width}@stadt.example")
        page.get_by_label("Dresden").check()
        page.get_by_label("Ja, ich möchte den Newsletter").check()
        page.get_by_role("button", name="Abonnieren").click()
        findings += _check(page, "thanks", width)
        page.close()
    assert findings == []


def test_the_axe_check_reports_what_it_should(page: Page) -> None:
    """The harness itself: a field without a label is a critical finding."""
    page.set_content('<html lang="de"><title>t</title><main><input type="text"></main></html>')
    assert [f.split(": ")[1].split(" ")[0] for f in _check(page, "canary", 0)] == ["label"]
