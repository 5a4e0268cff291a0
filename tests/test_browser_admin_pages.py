"""Every admin page in a real Chromium at 1280 and 390 px: axe-core finds nothing serious
or critical, nothing is wider than the phone, no English or raw key shows; the region
override by ticking a box (with and without JavaScript) and paging through subscribers.
Screenshots go to tests/artifacts/admin-*-1280.png and admin-*-390.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from newsletter.context import Context
from newsletter.curation import add_manual_item
from newsletter.mail import sending
from newsletter.store import audit
from newsletter.store import digests as digest_store
from newsletter.store import items as item_store
from newsletter.store import subscribers as subscriber_store
from newsletter.store.db import transaction
from newsletter.web import create_app
from tests._admin import NAME, PASSWORD, make_client
from tests.livesrv import CHROMIUM, CHROMIUM_ARGS, serve_app
from tests.test_admin_lists import fill_subscribers

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
WIDTHS = (1280, 390)
# what must never reach an admin's eyes: English words of the code, raw keys, lists, hashes
RAW = re.compile(
    r"\bfolder\b|\bmunicipality\b|stored in Maildir|subscribe_request|über form\b|"
    r"\b(?:digest|item|subscriber|subscribers|admin|sources)\.[a-z_]+\b|\['|\b[0-9a-f]{32}\b|"
    r"\b(?:confirmed|pending|unsubscribed|queued|failed|nothing_new)\b"
)


@pytest.fixture
def site(ctx: Context) -> Iterator[dict[str, Any]]:
    """A service with 120 subscribers, items, a sent digest and a CLI entry in the log."""
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (apt-get install chromium)")
    make_client(ctx)
    fill_subscribers(ctx, 120)
    now = datetime.now(UTC)
    items = [
        add_manual_item(
            ctx,
            title=f"Präventionsabend {i} in Plauen",
            text="Die Polizei lädt zu einem Abend über Enkeltrick und Schockanrufe ein.",
            published=now - timedelta(days=i * 3),
        )
        for i in range(12)
    ]
    sending.send_region(ctx, "zwickau")
    with transaction(ctx.engine) as conn:
        audit.record(conn, audit.CLI_ACTOR, "digest.send", "zwickau", {"recipients": 24})
        digest = digest_store.latest_for_region(conn, "zwickau")
        subscriber = subscriber_store.find_by_email(conn, "p0003@example.org")
    assert digest is not None and subscriber is not None
    with serve_app(create_app(ctx)) as url:
        yield {"url": url, "item": items[0].id, "digest": digest.id, "subscriber": subscriber.id}


def _browser(width: int, javascript: bool = True) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(
            locale="de-DE",
            viewport={"width": width, "height": 900},
            java_script_enabled=javascript,
        )
        page = context.new_page()
        page.set_default_timeout(15000)
        yield page
        browser.close()


def _login(page: Any, url: str) -> None:
    page.goto(f"{url}/admin/anmelden")
    page.get_by_label("Name").fill(NAME)
    page.get_by_label("Passwort").fill(PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    page.wait_for_url(f"{url}/admin")


def admin_pages(site: dict[str, Any]) -> dict[str, str]:
    return {
        "uebersicht": "/admin",
        "meldungen": "/admin/meldungen",
        "meldung": f"/admin/meldungen/{site['item']}",
        "meldung-neu": "/admin/meldungen/neu",
        "newsletter": "/admin/newsletter",
        "newsletter-region": "/admin/newsletter/zwickau",
        "senden": "/admin/newsletter/zwickau/senden",
        "fortschritt": "/admin/newsletter/zwickau/fortschritt",
        "versand": f"/admin/newsletter/versand/{site['digest']}",
        "abonnenten": "/admin/abonnenten",
        "abonnent": f"/admin/abonnenten/{site['subscriber']}",
        "import": "/admin/abonnenten/import",
        "protokoll": "/admin/protokoll",
        "redaktion": "/admin/redaktion/alle",
        "redaktion-region": "/admin/redaktion/zwickau",
    }


@pytest.mark.parametrize("width", WIDTHS)
def test_every_admin_page_is_accessible_german_and_fits(site: dict[str, Any], width: int) -> None:
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []
    for page in _browser(width):
        page.goto(f"{site['url']}/admin/anmelden")
        _check(page, axe, "anmelden", width, problems)
        _login(page, site["url"])
        for name, path in admin_pages(site).items():
            page.goto(site["url"] + path)
            page.wait_for_load_state("load")
            _check(page, axe, name, width, problems)
    assert problems == []


def _check(page: Any, axe: Any, name: str, width: int, problems: list[str]) -> None:
    page.screenshot(path=str(ARTIFACTS / f"admin-{name}-{width}.png"), full_page=True)
    found = axe.run(page).response["violations"]
    problems += [
        f"{name}@{width}: {v['id']} ({v['impact']}): {v['nodes'][0]['html'][:120]}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]
    wide = page.evaluate("document.documentElement.scrollWidth")
    if wide > width:
        problems.append(f"{name}@{width}: {wide} px wide")
    text = page.locator("main").inner_text()
    problems += [f"{name}@{width}: »{m.group(0)}«" for m in RAW.finditer(text)]


@pytest.mark.parametrize("javascript", [True, False])
def test_ticking_a_region_selects_these_regions(
    ctx: Context, site: dict[str, Any], javascript: bool
) -> None:
    from playwright.sync_api import expect

    for page in _browser(1280, javascript):
        _login(page, site["url"])
        page.goto(f"{site['url']}/admin/meldungen/{site['item']}")
        expect(page.get_by_label("automatisch", exact=False)).to_be_checked()
        page.get_by_role("checkbox", name="Dresden").check()
        if javascript:
            expect(page.get_by_label("diese Regionen:")).to_be_checked()
        page.get_by_role("button", name="Regionen speichern").click()
        expect(page.get_by_role("status").first).to_have_text("Die Regionen sind gespeichert.")
        expect(page.get_by_label("diese Regionen:")).to_be_checked()
        page.get_by_role("button", name="Regionen speichern").click()
        expect(page.get_by_role("status").first).to_have_text(
            "Nichts geändert: die Regionen waren schon so."
        )
    with transaction(ctx.engine) as conn:
        assert item_store.get(conn, site["item"]).region_override == ("dresden", "zwickau")


def test_paging_and_searching_subscribers(site: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    for page in _browser(390):
        _login(page, site["url"])
        page.goto(f"{site['url']}/admin/abonnenten")
        expect(page.get_by_text("120 Abonnenten, hier 1–50 (Seite 1 von 3).")).to_be_visible()
        page.get_by_role("link", name="Nächste ›").click()
        expect(page.get_by_text("hier 51–100 (Seite 2 von 3)")).to_be_visible()
        expect(page.get_by_role("link", name="p0050@example.org")).to_be_visible()
        page.get_by_label("Region").select_option(label="Leipzig/Nordsachsen")
        page.get_by_label("Suche (E-Mail, Name, Organisation)").fill("plauen")
        page.get_by_role("button", name="Filtern").click()
        expect(page.get_by_text("12 Abonnenten.")).to_be_visible()  # every tenth, all Leipzig
        page.screenshot(path=str(ARTIFACTS / "admin-abonnenten-suche-390.png"), full_page=True)


def test_send_progress_bar_updates_from_the_fragment(ctx: Context) -> None:
    """With JavaScript the page polls only the progress fragment (no meta refresh); the
    bar moves as the worker sends; without JavaScript the meta refresh stays."""
    from playwright.sync_api import expect

    from newsletter.mail.outbox import drain
    from newsletter.mail.transports import open_transport

    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (apt-get install chromium)")
    make_client(ctx)
    fill_subscribers(ctx, 60)
    add_manual_item(ctx, title="Präventionsabend in Plauen", text="In Plauen.")
    assert sending.enqueue_region(ctx, "zwickau").recipients == 12
    path = "/admin/newsletter/zwickau/fortschritt"
    with serve_app(create_app(ctx)) as url:
        for page in _browser(390, javascript=False):
            _login(page, url)
            page.goto(url + path)
            assert page.locator("meta[http-equiv=refresh]").count() == 1
        for page in _browser(390):
            _login(page, url)
            page.goto(url + path)
            expect(page.locator("progress")).to_have_attribute("value", "0")
            expect(page.get_by_text("0 von 12 gesendet, 12 offen")).to_be_visible()
            assert page.locator("meta[http-equiv=refresh]").count() == 0  # admin.js took over
            transport = open_transport(ctx.config)
            with page.expect_request("**/fortschritt/stand"):
                drain(ctx, transport, "test-worker", max_messages=5)
            expect(page.locator("progress")).to_have_attribute("value", "5", timeout=10000)
            drain(ctx, transport, "test-worker")
            transport.close()
            expect(page.get_by_text("12 von 12 gesendet.")).to_be_visible(timeout=10000)
            page.screenshot(
                path=str(ARTIFACTS / "admin-fortschritt-fertig-390.png"), full_page=True
            )
