"""The admin page of bounces: per address, with the server's reply and the raw message."""

from __future__ import annotations

from fastapi.testclient import TestClient

from newsletter.context import Context
from newsletter.models import BounceKind
from newsletter.store import bounces as bounce_store
from newsletter.store import outbox as queue
from newsletter.store.db import transaction, utcnow
from tests.delivery_helpers import add_subscriber

HOSTILE = "<script>alert(1)</script>"


def _record(ctx: Context, address: str, kind: BounceKind, sid: int | None, **extra: str) -> None:
    values = {
        "received_at": utcnow(),
        "message_hash": f"{address}-{kind}",
        "address": address,
        "subscriber_id": sid,
        "kind": kind.value,
        "status": "5.1.1",
        "diagnostic": "550 5.1.1 user unknown",
        "reporter": "relay.example.org",
        "action": "dauerhaft unzustellbar: Adresse gesperrt",
        "raw": "From: MAILER-DAEMON@relay.example.org\n\nSorry.",
    } | extra
    with transaction(ctx.engine) as conn:
        bounce_store.record(conn, **values)


def test_the_page_lists_addresses_and_one_address_shows_each_raw_reply(
    ctx: Context, admin_client: TestClient
) -> None:
    sid = add_subscriber(ctx, "weg@gemeinde.example", {"zwickau": "confirmed"})
    with transaction(ctx.engine) as conn:
        queue.suspend(conn, sid, "Unzustellbar (Rückläufer): 5.1.1")
    _record(ctx, "weg@gemeinde.example", BounceKind.HARD, sid, raw=f"Subject: x\n\n{HOSTILE}")
    _record(ctx, "voll@amt.example", BounceKind.SOFT, None, status="4.2.2")

    page = admin_client.get("/admin/ruecklaeufer")
    assert page.status_code == 200
    assert 'href="/admin/ruecklaeufer"' in page.text  # in the admin navigation
    assert "weg@gemeinde.example" in page.text and "gesperrt" in page.text
    assert "voll@amt.example" in page.text and "nicht zugeordnet" in page.text

    one = admin_client.get("/admin/ruecklaeufer", params={"adresse": "WEG@gemeinde.example"})
    assert one.status_code == 200
    assert "550 5.1.1 user unknown" in one.text and "relay.example.org" in one.text
    assert HOSTILE not in one.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in one.text
    assert f"/admin/abonnenten/{sid}" in one.text


def test_the_page_needs_an_admin(ctx: Context, client: TestClient) -> None:
    answer = client.get("/admin/ruecklaeufer", follow_redirects=False)
    assert answer.status_code in (303, 401)
    assert "Rückläufer" not in answer.text


def test_the_subscriber_page_links_its_bounces(ctx: Context, admin_client: TestClient) -> None:
    sid = add_subscriber(ctx, "weg+x@gemeinde.example", {"zwickau": "confirmed"})
    page = admin_client.get(f"/admin/abonnenten/{sid}")
    assert page.status_code == 200
    assert "/admin/ruecklaeufer?adresse=weg%2Bx%40gemeinde.example" in page.text
