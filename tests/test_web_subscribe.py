"""Subscription pages: double opt-in, one-click unsubscribe, CSRF, no enumeration."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from newsletter.context import Context
from newsletter.errors import InvalidAddressError
from newsletter.mail import sending
from newsletter.mail.transports import MemoryTransport
from newsletter.store import outbox as queue
from newsletter.store import subscribers as store
from newsletter.store.db import transaction
from newsletter.subscriptions import privacy, rules
from newsletter.subscriptions import service as subscriptions
from newsletter.subscriptions.tokens import Purpose
from tests._admin import app_client
from tests.delivery_helpers import add_subscriber, token_for
from tests.feedfixtures import sample_items, store_items


def csrf(client: TestClient, path: str) -> str:
    page = client.get(path).text
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
    assert found, page
    return found.group(1)


def subscribe(client: TestClient, email: str, regions: list[str], **extra: str) -> str:
    data = {
        "csrf_token": csrf(client, "/abonnieren"),
        "email": email,
        "regions": regions,
        "consent": "ja",
        **extra,
    }
    response = client.post("/abonnieren", data=data)
    return response.text


def outgoing(ctx: Context) -> list[dict[str, object]]:
    with transaction(ctx.engine) as conn:
        return queue.list_deliveries(conn)


def test_double_opt_in_flow(ctx: Context, client: TestClient) -> None:
    page = subscribe(client, " Anna@Pirna.DE ", ["dresden", "chemnitz"], name="Anna Beispiel")
    assert "Bitte bestätigen Sie Ihre Anmeldung" in page
    (mail,) = outgoing(ctx)
    assert mail.address == "Anna@pirna.de" and mail.kind == "confirm"
    text = mail.payload["text"]  # type: ignore[index]
    assert "Dresden" in text and "ignorieren Sie diese E-Mail" in text
    link = re.search(r"http://127\.0\.0\.1:8000(/bestaetigen/\S+)", text)
    assert link
    shown = client.get(link.group(1))
    assert shown.status_code == 200 and "bestätigen" in shown.text
    with transaction(ctx.engine) as conn:
        assert store.find_by_email(conn, "Anna@pirna.de").subscriptions == {  # type: ignore[union-attr]
            "chemnitz": "pending",
            "dresden": "pending",
        }
    token = csrf(client, link.group(1))
    done = client.post(link.group(1), data={"csrf_token": token})
    assert "Ihr Abonnement ist aktiv" in done.text
    with transaction(ctx.engine) as conn:
        subscriber = store.find_by_email(conn, "Anna@pirna.de")
    assert subscriber is not None and subscriber.confirmed_regions() == ("chemnitz", "dresden")
    events = [e.event for e in privacy.consent_record(ctx, "Anna@pirna.de")]
    assert events == ["subscribe_request", "confirm"]
    record = privacy.consent_record(ctx, "anna@pirna.de".replace("anna", "Anna"))[0]
    assert record.wording == rules.CONSENT_TEXT and (record.ip or "").startswith("hmac:")


def test_missing_or_wrong_csrf_is_403(client: TestClient) -> None:
    data = {"email": "a@example.org", "regions": ["dresden"], "consent": "ja"}
    assert client.post("/abonnieren", data=data).status_code == 403
    assert client.post("/abonnieren", data=data | {"csrf_token": "0" * 64}).status_code == 403


def test_same_answer_for_new_and_known_addresses(ctx: Context, client: TestClient) -> None:
    add_subscriber(ctx, "known@example.org", {"dresden": "confirmed"})
    strip = lambda page: re.sub(r'value="[0-9a-f]{64}"', "", page)  # noqa: E731
    known = subscribe(client, "known@example.org", ["dresden"])
    new = subscribe(client, "new@example.org", ["dresden"])
    assert strip(known) == strip(new)
    kinds = sorted(str(m.kind) for m in outgoing(ctx))
    assert kinds == ["confirm", "manage_link"]


def test_honeypot_sends_nothing(ctx: Context, client: TestClient) -> None:
    page = subscribe(client, "bot@example.org", ["dresden"], website="http://spam")
    assert "Bitte bestätigen" in page and outgoing(ctx) == []


def test_invalid_address_and_header_injection_are_refused(ctx: Context, client: TestClient) -> None:
    bad = client.post(
        "/abonnieren",
        data={
            "csrf_token": csrf(client, "/abonnieren"),
            "email": "kein-at-zeichen",
            "regions": ["dresden"],
            "consent": "ja",
        },
    )
    assert bad.status_code == 400 and "keine gültige E-Mail-Adresse" in bad.text
    injected = client.post(
        "/abonnieren",
        data={
            "csrf_token": csrf(client, "/abonnieren"),
            "email": "a@example.org",
            "name": "Eve\r\nBcc: victim@example.org",
            "regions": ["dresden"],
            "consent": "ja",
        },
    )
    assert injected.status_code == 400 and "Zeilenumbrüche" in injected.text
    assert outgoing(ctx) == []


def test_rate_limit_per_address(client: TestClient) -> None:
    codes = [
        client.post(
            "/abonnieren",
            data={
                "csrf_token": csrf(client, "/abonnieren"),
                "email": "same@example.org",
                "regions": ["dresden"],
                "consent": "ja",
            },
        ).status_code
        for _ in range(7)
    ]
    assert codes[:5] == [200] * 5 and codes[5:] == [429, 429]


def test_one_click_unsubscribe_needs_no_cookie_and_is_idempotent(ctx: Context) -> None:
    sid = add_subscriber(ctx, "a@example.org", {"zwickau": "confirmed", "dresden": "confirmed"})
    token = token_for(ctx, sid, Purpose.UNSUBSCRIBE, "zwickau")
    fresh = app_client(ctx)
    assert "Ja, abbestellen" in fresh.get(f"/abmelden/{token}").text
    with transaction(ctx.engine) as conn:
        assert store.get(conn, sid).subscriptions["zwickau"] == "confirmed"  # GET changed nothing
    for _ in range(2):
        response = fresh.post(
            f"/abmelden/{token}",
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            follow_redirects=False,
        )
        assert response.status_code == 200
    with transaction(ctx.engine) as conn:
        assert store.get(conn, sid).subscriptions == {
            "zwickau": "unsubscribed",
            "dresden": "confirmed",
        }


def test_tampered_token_gives_a_friendly_page(client: TestClient) -> None:
    response = client.get("/abmelden/not-a-token")
    assert response.status_code == 400
    assert "ungültig" in response.text and "Neuen Link anfordern" in response.text


def test_preferences_change_regions_and_unsubscribe_all(ctx: Context, client: TestClient) -> None:
    sid = add_subscriber(ctx, "a@example.org", {"zwickau": "confirmed"})
    path = f"/einstellungen/{token_for(ctx, sid, Purpose.MANAGE)}"
    token = csrf(client, path)
    client.post(
        path,
        data={
            "csrf_token": token,
            "regions": ["dresden", "chemnitz"],
            "name": "Neu",
            "organisation": "Stadt Pirna",
            "action": "speichern",
        },
    )
    with transaction(ctx.engine) as conn:
        assert store.get(conn, sid).confirmed_regions() == ("chemnitz", "dresden")
    client.post(path, data={"csrf_token": token, "action": "alle_abbestellen"})
    with transaction(ctx.engine) as conn:
        assert store.get(conn, sid).confirmed_regions() == ()


def test_forget_erases_and_blocks_silent_re_add(ctx: Context) -> None:
    add_subscriber(ctx, "gone@example.org", {"zwickau": "confirmed"})
    assert privacy.forget(ctx, "gone@example.org", actor="admin")
    with transaction(ctx.engine) as conn:
        assert store.find_by_email(conn, "gone@example.org") is None
        assert store.is_suppressed(conn, subscriptions.email_hash(ctx, "gone@example.org"))
    for confirmed_reason in (None, "Zusage am Telefon"):  # an admin cannot bring it back
        outcome = subscriptions.admin_add(
            ctx, email="Gone@Example.org", regions=["zwickau"], confirmed_reason=confirmed_reason
        )
        assert outcome == "suppressed" and outgoing(ctx) == []


def test_an_erased_address_comes_back_only_by_its_own_double_opt_in(ctx: Context) -> None:
    add_subscriber(ctx, "back@example.org", {"zwickau": "confirmed"})
    privacy.forget(ctx, "back@example.org", actor="admin")
    outcome = subscriptions.request_subscription(
        ctx,
        email="back@example.org",
        name="",
        organisation="",
        regions=["zwickau"],
        request=rules.Request(),
    )
    assert outcome == "confirm_sent"
    assert [m.kind for m in outgoing(ctx)] == ["confirm"]
    hashed = subscriptions.email_hash(ctx, "back@example.org")
    with transaction(ctx.engine) as conn:
        assert store.is_suppressed(conn, hashed)  # a request alone lifts nothing
        sid = store.find_by_email(conn, "back@example.org")
    assert sid is not None
    subscriptions.confirm(ctx, sid.id, rules.Request())
    with transaction(ctx.engine) as conn:
        assert not store.is_suppressed(conn, hashed)
        assert store.get(conn, sid.id).subscriptions == {"zwickau": "confirmed"}


def test_unsubscribe_link_in_a_real_digest_works(ctx: Context, client: TestClient) -> None:
    store_items(ctx, sample_items())
    sid = add_subscriber(ctx, "a@example.org", {"zwickau": "confirmed"})
    transport = MemoryTransport()
    sending.send_region(ctx, "zwickau", now=datetime(2026, 11, 25, tzinfo=UTC), transport=transport)
    import email
    import email.policy

    message = email.message_from_bytes(transport.sent[0][2], policy=email.policy.default)
    url = re.fullmatch(
        r"<http://127\.0\.0\.1:8000(/abmelden/[^>]+)>", str(message["List-Unsubscribe"])
    )
    assert url
    assert client.post(url.group(1), data={"List-Unsubscribe": "One-Click"}).status_code == 200
    with transaction(ctx.engine) as conn:
        assert store.get(conn, sid).subscriptions["zwickau"] == "unsubscribed"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" Anna@Pirna.DE ", "Anna@pirna.de"),
        ("info@müller-bau.de", "info@xn--mller-bau-q9a.de"),
        ("a.b+c@stadt.example", "a.b+c@stadt.example"),
    ],
)
def test_addresses_are_stored_so_every_server_takes_them(raw: str, expected: str) -> None:
    assert rules.normalise_email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("jörg@example.org", "Umlaute vor dem @"),
        ("kein-at-zeichen", "keine gültige E-Mail-Adresse"),
        ("a" * 250 + "@x.de", "höchstens 254 Zeichen"),
    ],
)
def test_bad_addresses_get_a_german_reason(raw: str, message: str) -> None:
    with pytest.raises(InvalidAddressError, match=message):
        rules.normalise_email(raw)
