"""The public web archive: every sent digest at /newsletter/<region>/<period>, reached from
the mail's »Im Browser ansehen«, listed per region and linked from the region page; the
page holds no token and no address of any recipient (asserted on the HTML)."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

from fastapi.testclient import TestClient

from newsletter import editor
from newsletter.archive import period_key_of, period_slug
from newsletter.config import Config
from newsletter.mail import sending
from tests._admin import app_client
from tests.delivery_helpers import Sink, add_subscriber, sending_context

RECIPIENTS = ("rathaus@plauen.example", "ordnungsamt@zwickau.example")
_TOKEN_LINK = re.compile(r"/(?:abmelden|einstellungen)/([A-Za-z0-9_\-.]+)")


def test_archive_page_from_the_mail_has_no_token_and_no_address(
    make_config: Callable[..., Config],
) -> None:
    sink = Sink()
    with sending_context(make_config, sink) as ctx:
        for address in RECIPIENTS:
            add_subscriber(ctx, address, {"zwickau": "confirmed"})
        editor.save(
            ctx, "zwickau", "**Adventszeit** ist Einbruchszeit.", actor="anna", pinned=["item03"]
        )
        result = sending.send_region(ctx, "zwickau", triggered_by="cli")
        assert result.status == "sent" and result.recipients == 2
        mails = sink.parsed()
        tokens: set[str] = set()
        links: set[str] = set()
        for address in RECIPIENTS:
            message = mails[address]
            html = message.get_body(("html",)).get_content()
            tokens |= set(_TOKEN_LINK.findall(html + message["List-Unsubscribe"]))
            found = re.search(r'<a [^>]*href="([^"]+)"[^>]*>Im Browser ansehen</a>', html)
            assert found, "no »Im Browser ansehen« link at the top"
            assert html.index("Im Browser ansehen") < html.index("<h1")
            links.add(found.group(1))
        assert len(tokens) >= 4  # unsubscribe and preferences links of two people
        (link,) = links  # the same public page for every recipient
        client = app_client(ctx)
        page = client.get(urlsplit(link).path)
        assert page.status_code == 200
        body = page.text
        assert "ASSKomm-Nachrichten Zwickau" in body
        assert "<strong>Adventszeit</strong> ist Einbruchszeit." in body
        assert body.index("Im Blickpunkt") < body.index("Sicher im Netz")
        assert "Fahrräder codieren" in body
        for address in RECIPIENTS:
            assert address not in body and address.split("@")[0] not in body
        for token in tokens:
            assert token not in body
        assert "/abmelden/" not in body and "/einstellungen/" not in body
        assert "%%NL_" not in body

        listing = client.get("/newsletter/zwickau").text
        assert urlsplit(link).path in listing
        assert 'href="/newsletter/zwickau"' in client.get("/regionen/zwickau").text


def test_unknown_periods_and_regions_are_german_404s(client: TestClient) -> None:
    for path in (
        "/newsletter/zwickau/2026-11-26T080000Z",
        "/newsletter/zwickau/gestern",
        "/newsletter/atlantis",
        "/newsletter/atlantis/2026-11-26T080000Z",
    ):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert "gibt es nicht" in answer.text


def test_period_names_round_trip() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    moment = datetime(2026, 11, 26, 9, 0, 5, tzinfo=timezone(timedelta(hours=1)))
    assert period_slug(moment) == "2026-11-26T080005Z"
    assert period_key_of("2026-11-26T080005Z") == "2026-11-26T08:00:05Z"
    assert period_key_of("2026-13-26T080005Z") is None
    assert period_slug(moment.astimezone(UTC)) == period_slug(moment)


def test_archive_pages_are_cached_and_a_sent_digest_reaches_the_list(
    make_config: Callable[..., Config],
) -> None:
    import time

    with sending_context(make_config, Sink()) as ctx:
        add_subscriber(ctx, RECIPIENTS[0], {"zwickau": "confirmed"})
        client = app_client(ctx)
        empty = client.get("/newsletter/zwickau")  # cached before any digest exists
        assert empty.status_code == 200 and 'href="/newsletter/zwickau/' not in empty.text
        assert sending.send_region(ctx, "zwickau", triggered_by="cli").status == "sent"
        time.sleep(ctx.config.feeds.recheck_seconds + 0.05)  # then the store's version is read
        listing = client.get(
            "/newsletter/zwickau", headers={"If-None-Match": empty.headers["etag"]}
        )
        assert listing.status_code == 200, "a sent digest must move the public pages' version"
        (period,) = re.findall(r'href="/newsletter/zwickau/([^"]+)"', listing.text)
        assert listing.headers["cache-control"].startswith("public")
        again = client.get(
            "/newsletter/zwickau", headers={"If-None-Match": listing.headers["etag"]}
        )
        assert again.status_code == 304 and again.content == b""
        page = client.get(f"/newsletter/zwickau/{period}")
        assert page.status_code == 200 and page.headers["etag"] and "set-cookie" not in page.headers
        assert client.head(f"/newsletter/zwickau/{period}").status_code == 200
