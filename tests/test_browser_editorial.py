"""The admin »Redaktion« page in a real Chromium (Playwright) against uvicorn on loopback:
write an introduction with hostile Markdown, pin an item, save, and see the digest at once
in three previews side by side (desktop, 375 px, dark mode). A screenshot goes to
tests/artifacts/admin-editorial.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from newsletter.context import Context
from newsletter.web import create_app
from tests._admin import NAME, PASSWORD, make_client
from tests.feedfixtures import sample_items, store_items
from tests.livesrv import CHROMIUM, CHROMIUM_ARGS, serve_app

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
INTRO = (
    "**Adventszeit** ist Einbruchszeit: sichern Sie Fenster und Türen.\n\n"
    "<script>alert('x')</script> [Klick](javascript:alert(1))"
)


@pytest.fixture
def base_url(ctx: Context) -> Iterator[str]:
    make_client(ctx)  # the admin anna
    store_items(ctx, sample_items())
    with serve_app(create_app(ctx)) as url:
        yield url


def _brightness(frame: Any) -> int:
    """Sum of the RGB channels of the mail's background as the frame paints it."""
    colour = frame.evaluate(
        "() => getComputedStyle(document.querySelector('table') || document.body).backgroundColor"
    )
    channels = colour[colour.index("(") + 1 : colour.index(")")].split(",")[:3]
    return sum(int(float(c)) for c in channels)


def test_editor_writes_an_intro_and_sees_three_previews(base_url: str) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(locale="de-DE", viewport={"width": 1800, "height": 1100})
        page.set_default_timeout(15000)
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(f"{base_url}/admin/redaktion/zwickau")
        page.get_by_label("Name").fill(NAME)
        page.get_by_label("Passwort").fill(PASSWORD)
        page.get_by_role("button", name="Anmelden").click()
        expect(page).to_have_url(f"{base_url}/admin/redaktion/zwickau")

        page.get_by_label("Einleitung (Markdown)").fill(INTRO)
        page.get_by_label("Sicher im Netz <Teil 2> 🔒 oben anheften").check()
        page.get_by_role("button", name="Speichern und Vorschau zeigen").click()
        expect(page.get_by_role("status")).to_contain_text("Gespeichert")
        expect(page.get_by_label("Einleitung (Markdown)")).to_have_value(INTRO)

        frames = {}
        for name in ("Vorschau Desktop", "Vorschau Smartphone 375 px", "Vorschau Dunkelmodus"):
            frame_element = page.locator(f'iframe[title="{name}"]')
            expect(
                page.frame_locator(f'iframe[title="{name}"]').locator(
                    "strong", has_text="Adventszeit"
                )
            ).to_be_visible()
            frames[name] = (
                frame_element.bounding_box(),
                frame_element.element_handle().content_frame(),
            )
        for _, frame in frames.values():
            assert frame.evaluate("() => document.querySelectorAll('script, img').length") == 0
            assert (
                frame.evaluate(
                    "() => [...document.querySelectorAll('a')]"
                    ".filter(a => a.href.startsWith('javascript:')).length"
                )
                == 0
            )
            headings = frame.locator("h2").all_inner_texts()
            assert headings[0] == "Im Blickpunkt"
        desktop, mobile, dark = (box for box, _ in frames.values())
        assert desktop and mobile and dark
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "admin-editorial.png"), full_page=True)
        assert desktop["x"] < mobile["x"] < dark["x"], "the previews are not side by side"
        assert abs(desktop["y"] - mobile["y"]) < 2 and abs(mobile["y"] - dark["y"]) < 2
        mobile_frame = frames["Vorschau Smartphone 375 px"][1]
        assert mobile_frame.evaluate("() => document.documentElement.clientWidth") == 375
        assert _brightness(frames["Vorschau Desktop"][1]) > 600
        assert _brightness(frames["Vorschau Dunkelmodus"][1]) < 200
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "admin-editorial.png"), full_page=True)
        assert dialogs == []
        browser.close()
