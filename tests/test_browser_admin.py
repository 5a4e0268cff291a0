"""The admin web in a real Chromium (Playwright) against uvicorn on loopback.

Log in, look at the dashboard, correct an item's regions, preview a digest, send a test
to the admin and send for real to an aiosmtpd server, and watch the delivery table fill.
Screenshots of the dashboard and the preview go to tests/artifacts/.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsletter.config import Config
from newsletter.context import Context
from newsletter.curation import add_manual_item
from newsletter.store import items as item_store
from newsletter.store.db import transaction
from newsletter.web import create_app
from tests._admin import NAME, PASSWORD, make_client
from tests.livesrv import CHROMIUM, CHROMIUM_ARGS, serve_app

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture
def base_url(ctx: Context) -> Iterator[str]:
    """The admin app on a real uvicorn on loopback."""
    make_client(ctx)  # creates the admin
    app = create_app(ctx)
    with serve_app(app) as url:
        yield url


@pytest.fixture
def page(base_url: str) -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(locale="de-DE", viewport={"width": 1280, "height": 900})
        tab = context.new_page()
        tab.set_default_timeout(15000)
        yield tab
        browser.close()


def test_admin_logs_in_and_corrects_an_items_regions(
    ctx: Context, base_url: str, page: object
) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    item = add_manual_item(
        ctx,
        title="Präventionsabend in Plauen",
        text="Die Polizei lädt in Plauen ein.",
        published=datetime(2026, 11, 20, 18, tzinfo=UTC),
    )
    page.goto(f"{base_url}/admin/meldungen")
    expect(page).to_have_url(f"{base_url}/admin/anmelden?weiter=%2Fadmin%2Fmeldungen")
    page.get_by_label("Name").fill(NAME)
    page.get_by_label("Passwort").fill(PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    expect(page).to_have_url(f"{base_url}/admin/meldungen")

    page.goto(f"{base_url}/admin")
    expect(page.get_by_role("heading", name="Übersicht")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "admin-dashboard.png"), full_page=True)

    page.goto(f"{base_url}/admin/meldungen")
    page.get_by_role("link", name="Präventionsabend in Plauen").click()
    expect(page.get_by_role("cell", name="»Plauen«").first).to_be_visible()
    page.get_by_label("diese Regionen:").check()
    page.get_by_role("checkbox", name="Zwickau").uncheck()
    page.get_by_role("checkbox", name="Dresden").check()
    page.get_by_role("button", name="Regionen speichern").click()
    expect(page.get_by_role("status")).to_have_text("Die Regionen sind gespeichert.")
    with transaction(ctx.engine) as conn:
        assert item_store.get(conn, item.id).regions == ("dresden",)


def test_preview_test_send_and_send_now_fill_the_delivery_table(
    make_config: Callable[..., Config],
) -> None:
    from playwright.sync_api import expect, sync_playwright

    from tests.delivery_helpers import Sink, add_subscriber, smtp_sink
    from tests.livesrv import serve_app

    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (apt-get install chromium)")
    sink = Sink()
    with smtp_sink(sink) as port:
        mail = {
            "transport": "smtp",
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_tls": "none",
        }
        ctx = Context(make_config(mail=mail))
        ctx.init_db()
        make_client(ctx)  # the admin anna with her address
        add_manual_item(
            ctx, title="Präventionsabend in Plauen", text="Die Polizei lädt in Plauen ein."
        )
        for address in ("rathaus@plauen.example", "ordnungsamt@zwickau.example"):
            add_subscriber(ctx, address, {"zwickau": "confirmed"})
        with serve_app(create_app(ctx)) as base, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(locale="de-DE", viewport={"width": 1280, "height": 900})
            page.set_default_timeout(15000)
            page.goto(f"{base}/admin/newsletter/zwickau")
            page.get_by_label("Name").fill(NAME)
            page.get_by_label("Passwort").fill(PASSWORD)
            page.get_by_role("button", name="Anmelden").click()

            frame = page.frame_locator("iframe.preview-frame")
            expect(frame.get_by_text("Präventionsabend in Plauen").first).to_be_visible()
            expect(page.locator("pre.text-part")).to_contain_text("Präventionsabend in Plauen")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "admin-preview.png"), full_page=True)

            page.get_by_role("button", name="Testversand an mich").click()
            expect(page.get_by_role("status").first).to_contain_text(
                "Testversand an anna@example.org"
            )
            assert [rcpts for rcpts, _ in sink.messages] == [["anna@example.org"]]

            page.get_by_role("link", name="Jetzt senden …").click()
            page.get_by_role("button", name="Ja, an 2 Empfänger senden").click()
            expect(page).to_have_url(f"{base}/admin/newsletter/zwickau/fortschritt")
            expect(page.get_by_text("2 von 2 gesendet")).to_be_visible(timeout=30000)
            table = page.locator("#zustellungen")
            expect(table).to_contain_text("rathaus@plauen.example")
            expect(table).to_contain_text("250")
            page.screenshot(path=str(ARTIFACTS / "admin-delivery.png"), full_page=True)
            page.goto(f"{base}/admin")
            row = page.get_by_role("row", name="Zwickau")
            expect(row).to_contain_text("2 von 2 gesendet")
            page.screenshot(path=str(ARTIFACTS / "admin-dashboard-after-send.png"), full_page=True)
            browser.close()
        ctx.close()
    received = sorted(r[0] for r, _ in sink.messages)
    assert received == ["anna@example.org", "ordnungsamt@zwickau.example", "rathaus@plauen.example"]
