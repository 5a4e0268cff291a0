"""Subscribe, confirm, change regions and unsubscribe in a real Chromium (Playwright),
with the confirmation mail delivered over SMTP to aiosmtpd on loopback."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page

from newsletter.config import Config
from newsletter.context import Context
from newsletter.mail.outbox import drain
from newsletter.mail.transports import open_transport
from newsletter.store import subscribers as store
from newsletter.store.db import transaction
from newsletter.subscriptions.tokens import Purpose
from newsletter.web import create_app
from tests.delivery_helpers import Sink, smtp_sink
from tests.livesrv import chromium, serve_app

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture
def site(make_config: Callable[..., Config]) -> Iterator[tuple[Context, str, Sink]]:
    sink = Sink()
    with smtp_sink(sink) as port:
        ctx = Context(
            make_config(
                mail={
                    "transport": "smtp",
                    "smtp_host": "127.0.0.1",
                    "smtp_port": port,
                    "smtp_tls": "none",
                }
            )
        )
        ctx.init_db()
        with serve_app(create_app(ctx)) as url:
            yield ctx, url, sink
        ctx.close()


@pytest.fixture
def page() -> Iterator[Page]:
    with chromium() as browser:
        yield browser.new_page()


def deliver(ctx: Context) -> None:
    transport = open_transport(ctx.config)
    drain(ctx, transport, "browser-test")
    transport.close()


def test_subscribe_confirm_manage_unsubscribe(site: tuple[Context, str, Sink], page: Page) -> None:
    ctx, url, sink = site
    page.goto(url + "/abonnieren")
    page.get_by_label("E-Mail-Adresse (Pflichtfeld)").fill("koordination@stadt-plauen.example")
    page.get_by_label("Name (freiwillig)").fill("Kerstin Köhler")
    page.get_by_label("Zwickau").check()
    page.get_by_label("Ja, ich möchte den Newsletter").check()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "subscribe-form.png"), full_page=True)
    page.get_by_role("button", name="Abonnieren").click()
    assert page.get_by_role("heading", name="Bitte bestätigen Sie Ihre Anmeldung").is_visible()

    deliver(ctx)
    (message,) = sink.parsed().values()
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    link = re.search(r"(http://127\.0\.0\.1:8000)(/bestaetigen/\S+)", text)
    assert link and "Zwickau" in text
    page.goto(url + link.group(2))
    page.get_by_role("button", name="Ja, Newsletter bestätigen").click()
    assert page.get_by_role("heading", name="Vielen Dank – Ihr Abonnement ist aktiv").is_visible()
    with transaction(ctx.engine) as conn:
        subscriber = store.find_by_email(conn, "koordination@stadt-plauen.example")
    assert subscriber is not None and subscriber.confirmed_regions() == ("zwickau",)

    page.get_by_role("link", name="Regionen ändern oder abbestellen").click()
    page.get_by_label("Dresden").check()
    page.get_by_role("button", name="Speichern").click()
    assert page.get_by_role("status").inner_text() == "Ihre Einstellungen wurden gespeichert."
    with transaction(ctx.engine) as conn:
        assert store.get(conn, subscriber.id).confirmed_regions() == ("dresden", "zwickau")

    token = ctx.tokens.make(
        Purpose.UNSUBSCRIBE, subscriber.id, "zwickau", link_key=subscriber.link_key
    )
    page.goto(url + f"/abmelden/{token}")
    page.get_by_role("button", name="Ja, abbestellen").click()
    assert page.get_by_role("heading", name="Sie haben den Newsletter abbestellt").is_visible()
    dresden = ctx.tokens.make(
        Purpose.UNSUBSCRIBE, subscriber.id, "dresden", link_key=subscriber.link_key
    )
    one_click = httpx.post(
        url + f"/abmelden/{dresden}",
        data={"List-Unsubscribe": "One-Click"},
    )
    assert one_click.status_code == 200
    with transaction(ctx.engine) as conn:
        assert store.get(conn, subscriber.id).confirmed_regions() == ()


def test_form_errors_are_announced_and_linked(site: tuple[Context, str, Sink], page: Page) -> None:
    _, url, _ = site
    page.goto(url + "/abonnieren")
    page.get_by_label("E-Mail-Adresse (Pflichtfeld)").fill("kein-at-zeichen")
    page.get_by_label("Dresden").check()
    page.get_by_label("Ja, ich möchte den Newsletter").check()
    page.get_by_role("button", name="Abonnieren").click()
    alert = page.get_by_role("alert")
    assert "keine gültige E-Mail-Adresse" in alert.inner_text()
    assert page.get_by_label("E-Mail-Adresse (Pflichtfeld)").get_attribute("aria-invalid") == "true"
