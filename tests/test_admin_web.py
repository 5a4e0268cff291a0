"""Admin pages through the TestClient: dashboard, sources, items, audit log."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import select

from newsletter.context import Context
from newsletter.curation import add_manual_item
from newsletter.store import items as item_store
from newsletter.store.db import transaction
from newsletter.store.schema import audit_log
from tests._admin import post


def _audit(ctx: Context) -> list[tuple[str, str, str | None]]:
    with ctx.engine.connect() as conn:
        return [(r.actor, r.action, r.target) for r in conn.execute(select(audit_log))]


def _item(
    ctx: Context,
    title: str = "Einbruchschutz-Beratung in Plauen",
    text: str = "Die Polizei berät in Plauen im Vogtland.",
) -> str:
    item = add_manual_item(
        ctx,
        title=title,
        text=text,
        published=datetime(2026, 11, 20, 10, tzinfo=UTC),
    )
    return item.id


def test_dashboard_lists_regions_schedule_and_sources(
    ctx: Context, admin_client: TestClient
) -> None:
    _item(ctx)
    page = admin_client.get("/admin")
    assert page.status_code == 200
    for region in ctx.config.region_list():
        assert region.name in page.text
    assert "Do., " in page.text and "09:00 Uhr" in page.text  # next digest, German, local
    assert "Alle Quellen jetzt abrufen" in page.text
    assert 'lang="de"' in page.text


def test_collect_now_runs_the_sources_and_reports(
    ctx: Context, admin_client: TestClient, tmp_path: object
) -> None:
    answer = post(admin_client, "/admin/quellen/abrufen", {})
    assert answer.status_code == 303  # type: ignore[attr-defined]
    page = admin_client.get("/admin")
    assert "Abruf beendet: 0 Quellen" in page.text
    assert ("anna", "sources.collect", "alle") in _audit(ctx)
    assert "Abruf beendet" not in admin_client.get("/admin").text  # a notice is shown once


def test_items_list_filters_by_statewide_and_region(ctx: Context, admin_client: TestClient) -> None:
    vogtland = _item(ctx)
    statewide = _item(ctx, "Landesweiter Aktionstag gegen Trickbetrug", "Überall im Freistaat.")
    everything = admin_client.get("/admin/meldungen").text
    assert "Einbruchschutz-Beratung in Plauen" in everything and "Aktionstag" in everything
    only_statewide = admin_client.get("/admin/meldungen?landesweit=ja").text
    assert "Aktionstag" in only_statewide and "Plauen" not in only_statewide
    dresden = admin_client.get("/admin/meldungen?region=dresden&landesweit=nein").text
    assert "Plauen" not in dresden and "Aktionstag" not in dresden
    zwickau = admin_client.get("/admin/meldungen?region=zwickau").text
    assert "Plauen" in zwickau
    assert vogtland != statewide
    bad = admin_client.get("/admin/meldungen?ab=gestern")
    assert bad.status_code == 400 and "kein Datum" in bad.text


def test_item_page_explains_and_overrides_regions(ctx: Context, admin_client: TestClient) -> None:
    item_id = _item(ctx)
    page = admin_client.get(f"/admin/meldungen/{item_id}").text
    assert "»Plauen«" in page and "Zwickau" in page  # the classifier's reason
    answer = post(
        admin_client,
        f"/admin/meldungen/{item_id}/regionen",
        {"mode": "regions", "region": ["dresden", "chemnitz"]},
        page=f"/admin/meldungen/{item_id}",
    )
    assert answer.status_code == 303  # type: ignore[attr-defined]
    with transaction(ctx.engine) as conn:
        item = item_store.get(conn, item_id)
    assert item.regions == ("chemnitz", "dresden") and item.region_override is not None
    assert "Die Regionen sind gespeichert." in admin_client.get(f"/admin/meldungen/{item_id}").text
    post(admin_client, f"/admin/meldungen/{item_id}/regionen", {"mode": "auto"})
    with transaction(ctx.engine) as conn:
        assert item_store.get(conn, item_id).regions == ("zwickau",)
    post(admin_client, f"/admin/meldungen/{item_id}/regionen", {"mode": "statewide"})
    with transaction(ctx.engine) as conn:
        assert item_store.get(conn, item_id).statewide
    assert [a for a in _audit(ctx) if a[1] == "item.regions"] == [
        ("anna", "item.regions", item_id)
    ] * 3


def test_override_with_an_unknown_region_is_refused(ctx: Context, admin_client: TestClient) -> None:
    item_id = _item(ctx)
    answer = post(
        admin_client,
        f"/admin/meldungen/{item_id}/regionen",
        {"mode": "regions", "region": "bayern"},
    )
    assert answer.status_code == 400  # type: ignore[attr-defined]
    assert "Unbekannte Region »bayern«" in answer.text  # type: ignore[attr-defined]
    with transaction(ctx.engine) as conn:
        assert item_store.get(conn, item_id).region_override is None


def test_hide_and_show_an_item(ctx: Context, admin_client: TestClient) -> None:
    item_id = _item(ctx)
    post(admin_client, f"/admin/meldungen/{item_id}/sichtbarkeit", {"hidden": "1"})
    with transaction(ctx.engine) as conn:
        assert item_store.get(conn, item_id).hidden
        assert item_store.latest(conn, "zwickau") == []
    assert "ausgeblendet" in admin_client.get(f"/admin/meldungen/{item_id}").text
    post(admin_client, f"/admin/meldungen/{item_id}/sichtbarkeit", {"hidden": "0"})
    with transaction(ctx.engine) as conn:
        assert not item_store.get(conn, item_id).hidden


def test_add_an_item_by_hand(ctx: Context, admin_client: TestClient) -> None:
    answer = post(
        admin_client,
        "/admin/meldungen/neu",
        {
            "title": "Präventionstag in Görlitz",
            "text": "Am **Samstag** in Görlitz.",
            "date": "2026-11-21",
        },
        page="/admin/meldungen/neu",
    )
    assert answer.status_code == 303  # type: ignore[attr-defined]
    item_id = answer.headers["location"].rsplit("/", 1)[-1]  # type: ignore[attr-defined]
    with transaction(ctx.engine) as conn:
        item = item_store.get(conn, item_id)
    assert item.regions == ("ostsachsen",) and "<strong>Samstag</strong>" in item.content_html
    empty = post(admin_client, "/admin/meldungen/neu", {"title": ""})
    assert empty.status_code == 400 and "Titel" in empty.text  # type: ignore[attr-defined]
    assert ("anna", "item.add", item_id) in _audit(ctx)


def test_unknown_item_is_a_german_404(admin_client: TestClient) -> None:
    answer = admin_client.get("/admin/meldungen/gibtsnicht")
    assert answer.status_code == 404 and "gibt es nicht" in answer.text


def test_audit_log_page_lists_actions(ctx: Context, admin_client: TestClient) -> None:
    page = admin_client.get("/admin/protokoll").text
    assert "login" in page and "anna" in page and "admin.add" in page
    only = admin_client.get("/admin/protokoll?wer=test").text
    assert "admin.add" in only and "<code>login</code>" not in only


# --- digests ---------------------------------------------------------------------------


def _maildir(ctx: Context) -> list[bytes]:
    import mailbox

    box = mailbox.Maildir(ctx.config.path(ctx.config.mail.maildir), create=True)
    return [bytes(m) for m in box]


def test_preview_page_and_sandboxed_frame(ctx: Context, admin_client: TestClient) -> None:
    _item(ctx)
    page = admin_client.get("/admin/newsletter/zwickau")
    assert page.status_code == 200
    assert "Einbruchschutz-Beratung in Plauen" in page.text  # the text part
    assert 'src="/admin/vorschau/zwickau.html" sandbox' in page.text
    frame = admin_client.get("/admin/vorschau/zwickau.html")
    assert frame.headers["content-security-policy"].startswith("sandbox")
    assert "Einbruchschutz-Beratung in Plauen" in frame.text
    assert "%%NL_" not in frame.text and "/abmelden/" in frame.text
    assert admin_client.get("/admin/newsletter/bayern").status_code == 404


def test_test_send_goes_to_the_admin_only(ctx: Context, admin_client: TestClient) -> None:
    _item(ctx)
    from tests.delivery_helpers import add_subscriber

    add_subscriber(ctx, "partner@example.org", {"zwickau": "confirmed"})
    answer = post(
        admin_client, "/admin/newsletter/zwickau/test", {}, page="/admin/newsletter/zwickau"
    )
    assert answer.status_code == 303  # type: ignore[attr-defined]
    mails = _maildir(ctx)
    assert len(mails) == 1 and b"To: anna@example.org" in mails[0]
    assert "Testversand an anna@example.org" in admin_client.get("/admin/newsletter/zwickau").text
    with transaction(ctx.engine) as conn:
        from newsletter.store import digests as digest_store

        assert digest_store.last_cutoff(conn, "zwickau") is None  # a test is no digest


def test_send_now_confirms_the_recipient_count_then_fills_the_delivery_table(
    ctx: Context, admin_client: TestClient
) -> None:
    from tests.delivery_helpers import add_subscriber

    _item(ctx)
    add_subscriber(ctx, "eins@example.org", {"zwickau": "confirmed"})
    add_subscriber(ctx, "zwei@example.org", {"zwickau": "confirmed"})
    add_subscriber(ctx, "drei@example.org", {"zwickau": "pending"})
    confirm = admin_client.get("/admin/newsletter/zwickau/senden")
    assert "an 2 Empfänger senden" in confirm.text
    answer = post(
        admin_client,
        "/admin/newsletter/zwickau/senden",
        {},
        page="/admin/newsletter/zwickau/senden",
    )
    assert answer.headers["location"] == "/admin/newsletter/zwickau/fortschritt"  # type: ignore[attr-defined]
    progress = admin_client.get("/admin/newsletter/zwickau/fortschritt").text
    assert "2 von 2 gesendet" in progress
    assert "eins@example.org" in progress and "250 stored in Maildir" in progress
    assert 'http-equiv="refresh"' not in progress  # done: no more refreshing
    assert len(_maildir(ctx)) == 2
    assert ("anna", "digest.send", "zwickau") in _audit(ctx)
    overview = admin_client.get("/admin/newsletter").text
    assert "Verwaltung (anna)" in overview  # the trigger, in German
    again = admin_client.get("/admin/newsletter/zwickau/senden").text
    assert "nichts zu senden" in again


def test_retry_failed_requeues_and_sends(ctx: Context, admin_client: TestClient) -> None:
    from sqlalchemy import update

    from newsletter.store.schema import deliveries
    from tests.delivery_helpers import add_subscriber

    _item(ctx)
    add_subscriber(ctx, "eins@example.org", {"zwickau": "confirmed"})
    post(admin_client, "/admin/newsletter/zwickau/senden", {})
    with ctx.engine.begin() as conn:
        conn.execute(
            update(deliveries).values(status="failed", last_reply="550 5.1.1 unknown user")
        )
        digest_id = conn.execute(select(deliveries.c.digest_id)).scalar_one()
    detail = admin_client.get(f"/admin/newsletter/versand/{digest_id}").text
    assert "550 5.1.1 unknown user" in detail and "Fehlgeschlagene erneut senden" in detail
    post(admin_client, f"/admin/newsletter/versand/{digest_id}/wiederholen", {})
    detail = admin_client.get(f"/admin/newsletter/versand/{digest_id}").text
    assert "1 von 1 gesendet" in detail
    assert len(_maildir(ctx)) == 2
    assert ("anna", "digest.retry", str(digest_id)) in _audit(ctx)


# --- subscribers -----------------------------------------------------------------------


def test_add_confirmed_search_filter_and_unsubscribe(
    ctx: Context, admin_client: TestClient
) -> None:
    answer = post(
        admin_client,
        "/admin/abonnenten/neu",
        {
            "email": "Buergermeister@Plauen.example",
            "name": "Rathaus Plauen",
            "region": ["zwickau"],
            "reason": "schriftlich am 3.11.2026",
        },
        page="/admin/abonnenten",
    )
    assert answer.status_code == 303  # type: ignore[attr-defined]
    post(
        admin_client,
        "/admin/abonnenten/neu",
        {"email": "ordnungsamt@dresden.example", "region": "dresden"},
    )
    admin_client.get("/admin/abonnenten")  # shows (and clears) the notice
    listed = admin_client.get("/admin/abonnenten?suche=plauen").text
    assert "Buergermeister@plauen.example" in listed and "dresden.example" not in listed
    pending = admin_client.get("/admin/abonnenten?status=pending").text
    assert "ordnungsamt@dresden.example" in pending and "plauen" not in pending
    from newsletter.store import subscribers as store

    with transaction(ctx.engine) as conn:
        sub = store.find_by_email(conn, "Buergermeister@plauen.example")
    assert sub is not None and sub.subscriptions == {"zwickau": "confirmed"}
    page = admin_client.get(f"/admin/abonnenten/{sub.id}").text
    assert "admin_confirm" in page and "anna" in page  # the consent proof names the admin
    post(
        admin_client,
        f"/admin/abonnenten/{sub.id}/abmelden",
        {"region": "zwickau"},
        page=f"/admin/abonnenten/{sub.id}",
    )
    with transaction(ctx.engine) as conn:
        assert store.get(conn, sub.id).subscriptions == {"zwickau": "unsubscribed"}
    actions = [a for a in _audit(ctx) if a[1].startswith("subscriber.")]
    assert ("anna", "subscriber.unsubscribe", f"#{sub.id}") in actions
    assert all("@" not in (target or "") for _, _, target in actions)


def test_forget_needs_the_address_typed(ctx: Context, admin_client: TestClient) -> None:
    from newsletter.store import subscribers as store

    post(
        admin_client,
        "/admin/abonnenten/neu",
        {"email": "weg@example.org", "region": "dresden", "reason": "Telefon"},
    )
    with transaction(ctx.engine) as conn:
        sub = store.find_by_email(conn, "weg@example.org")
    assert sub is not None
    wrong = post(admin_client, f"/admin/abonnenten/{sub.id}/vergessen", {"confirm": "x"})
    assert wrong.status_code == 400  # type: ignore[attr-defined]
    post(admin_client, f"/admin/abonnenten/{sub.id}/vergessen", {"confirm": "weg@example.org"})
    with transaction(ctx.engine) as conn:
        assert store.find_by_email(conn, "weg@example.org") is None
    assert admin_client.get(f"/admin/abonnenten/{sub.id}").status_code == 404


CSV = (
    b"email;name;organisation;ags;regions\n"
    b"eins@example.org;Eins;Gemeinde A;;zwickau\n"
    b"kaputt;Zwei;;;dresden\n"
    b"drei@example.org;Drei;;;Bayern\n"
)


def test_csv_import_dry_run_then_import_then_export(ctx: Context, admin_client: TestClient) -> None:
    from newsletter.web.security import CSRF_FIELD
    from tests._admin import csrf

    token = csrf(admin_client, "/admin/abonnenten/import")
    dry = admin_client.post(
        "/admin/abonnenten/import",
        data={CSRF_FIELD: token, "reason": "Liste LPR 2026"},
        files={"file": ("partner.csv", CSV, "text/csv")},
    )
    assert dry.status_code == 200
    assert (
        "1 neu" in dry.text
        and "2 abgelehnt" in dry.text
        and "Noch ist nichts gespeichert" in dry.text
    )
    assert "unbekannte Region »Bayern«" in dry.text
    assert "eins@example.org" not in admin_client.get("/admin/abonnenten").text
    carried = re.search(r'name="data" value="([^"]+)"', dry.text)
    assert carried
    done = admin_client.post(
        "/admin/abonnenten/import",
        data={
            CSRF_FIELD: token,
            "data": carried.group(1),
            "reason": "Liste LPR 2026",
            "commit": "1",
            "filename": "partner.csv",
        },
    )
    assert done.status_code == 303
    assert "Import fertig: 1 neu" in admin_client.get("/admin/abonnenten").text
    exported = admin_client.get("/admin/abonnenten/export.csv?region=zwickau")
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    assert exported.text.splitlines() == [
        "email,name,organisation,ags,regions",
        "eins@example.org,Eins,Gemeinde A,,zwickau",
    ]
    actions = [a[1] for a in _audit(ctx)]
    assert "subscribers.import" in actions and "subscribers.export" in actions
