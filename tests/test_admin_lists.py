"""The admin lists at scale and the admin's words: subscribers and items searched, filtered
and paged in SQL (SQLite and PostgreSQL), the region override, the import dry run, the
dashboard charts and the send progress fragment."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from newsletter.context import Context
from newsletter.curation import add_manual_item
from newsletter.models import SubscriptionStatus
from newsletter.store import items as item_store
from newsletter.store import subscribers as store
from newsletter.store.db import transaction
from newsletter.web.admin.common import Pager, german_duration, send_progress
from newsletter.web.charts import Chart, line_chart, nice_max, series_of, stacked_bars
from tests._admin import admin_client, csrf

REGIONS = ["leipzig-nordsachsen", "chemnitz", "ostsachsen", "zwickau", "dresden"]
ROWS = re.compile(r'<a href="/admin/abonnenten/\d+">([^<]+)</a>')


def fill_subscribers(ctx: Context, n: int) -> None:
    rows = [
        {
            "email": f"p{i:04d}@example.org",
            "name": f"Person {i}",
            "organisation": "Stadt Plauen" if i % 10 == 0 else "Gemeinde",
            "ags": None,
        }
        for i in range(n)
    ]
    with transaction(ctx.engine) as conn:
        ids = store.create_many(conn, rows, source="import")
        pairs = [(sid, REGIONS[i % 5]) for i, sid in enumerate(ids)]
        store.set_status_many(conn, pairs, SubscriptionStatus.CONFIRMED, datetime.now(UTC))


def test_subscribers_page_50_at_a_time_with_count_and_the_add_form_on_top(
    db_ctx: Context,
) -> None:
    fill_subscribers(db_ctx, 130)
    client = admin_client(db_ctx)
    page = client.get("/admin/abonnenten").text
    assert len(ROWS.findall(page)) == 50
    assert "130 Abonnenten, hier 1–50 (Seite 1 von 3)" in page
    assert page.index("Abonnent eintragen") < page.index("<table")
    last = client.get("/admin/abonnenten?seite=3").text
    assert ROWS.findall(last)[-1] == "p0129@example.org" and len(ROWS.findall(last)) == 30
    assert "« Erste" in last and "Nächste ›" not in last


def test_subscriber_search_and_filters_run_in_the_database(db_ctx: Context) -> None:
    fill_subscribers(db_ctx, 130)
    client = admin_client(db_ctx)
    found = client.get("/admin/abonnenten", params={"suche": "PLAUEN"}).text
    assert "13 Abonnenten." in found  # every tenth: in the organisation, any case
    zwickau = client.get("/admin/abonnenten", params={"region": "zwickau"}).text
    assert "26 Abonnenten." in zwickau
    both = client.get(
        "/admin/abonnenten", params={"region": "zwickau", "suche": "p000", "status": "confirmed"}
    ).text
    assert ROWS.findall(both) == ["p0003@example.org", "p0008@example.org"]
    none = client.get("/admin/abonnenten", params={"suche": "100%_"}).text  # wildcards literal
    assert "Keine Abonnenten für diese Auswahl." in none


def test_items_list_counts_pages_and_shows_a_teaser(ctx: Context, admin_client: TestClient) -> None:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    for i in range(55):
        add_manual_item(
            ctx,
            title=f"Meldung {i:02d} aus Plauen",
            text=f"Text der Meldung {i} mit Details.",
            published=start + timedelta(hours=i),
        )
    page = admin_client.get("/admin/meldungen").text
    assert "55 Meldungen, hier 1–50 (Seite 1 von 2)" in page
    assert '<span class="teaser">Text der Meldung 54 mit Details.</span>' in page
    second = admin_client.get("/admin/meldungen?seite=2").text
    assert "Meldung 04 aus Plauen" in second and "Meldung 05 aus Plauen" not in second
    search = admin_client.get("/admin/meldungen", params={"suche": "meldung 1"}).text
    assert "10 Meldungen." in search


def _override(client: TestClient, item_id: str, **form: object) -> str:
    data = {"csrf_token": csrf(client, f"/admin/meldungen/{item_id}")} | form
    answer = client.post(f"/admin/meldungen/{item_id}/regionen", data=data)
    assert answer.status_code == 303
    return client.get(f"/admin/meldungen/{item_id}").text


def test_ticking_a_region_without_the_radio_overrides_and_no_change_says_so(
    ctx: Context, admin_client: TestClient
) -> None:
    item = add_manual_item(ctx, title="Präventionsabend in Plauen", text="In Plauen.")
    assert item.regions == ("zwickau",)
    # the form as a browser without JavaScript sends it: radio still on »automatisch«
    shown = {"shown_mode": "auto", "shown_region": ["zwickau"], "mode": "auto"}
    page = _override(admin_client, item.id, **shown, region=["zwickau", "dresden"])
    assert "Die Regionen sind gespeichert." in page
    with transaction(ctx.engine) as conn:
        assert item_store.get(conn, item.id).region_override == ("dresden", "zwickau")
    again = {"shown_mode": "regions", "shown_region": ["dresden", "zwickau"], "mode": "regions"}
    page = _override(admin_client, item.id, **again, region=["dresden", "zwickau"])
    assert "Nichts geändert: die Regionen waren schon so." in page
    page = _override(
        admin_client, item.id, **again | {"mode": "auto"}, region=["dresden", "zwickau"]
    )
    with transaction(ctx.engine) as conn:
        assert item_store.get(conn, item.id).region_override is None  # the radio wins


def test_import_dry_run_shows_regions_organisation_a_suggestion_and_the_mails(
    ctx: Context, admin_client: TestClient
) -> None:
    data = (
        b"email,name,organisation,ags,regions\n"
        b"a@example.org,A,Stadt Plauen,,Zwickau|dresden\n"
        b"b@example.org,B,Landratsamt,,Vogtland\n"
        b"c@example.org,C,Stadt Pirna,,Bezirk 7\n"
    )
    answer = admin_client.post(
        "/admin/abonnenten/import",
        data={"csrf_token": csrf(admin_client, "/admin/abonnenten/import")},
        files={"file": ("liste.csv", data, "text/csv")},
    )
    text = answer.text
    assert "Stadt Plauen" in text and "Dresden, Zwickau" in text
    assert "Vorschlag: Vogtland → Zwickau?" in text
    assert "Vorschlag: Bezirk 7 → Dresden?" in text  # from the organisation's town
    assert "Jede neue Adresse bekommt beim Import eine <strong>Bestätigungs-E-Mail</strong>" in text


def test_dashboard_draws_three_charts_with_text_and_tables(
    ctx: Context, admin_client: TestClient
) -> None:
    fill_subscribers(ctx, 20)
    add_manual_item(ctx, title="Präventionsabend in Plauen", text="In Plauen.")
    page = admin_client.get("/admin").text
    assert page.count('role="img"') == 3 and page.count("<desc id=") == 3
    assert "Zahlen als Tabelle" in page
    assert "heute: Leipzig/Nordsachsen 4, Chemnitz 4" in page
    assert "<polyline" in page and "<rect" in page


def test_chart_geometry_and_progress_estimates_are_pure() -> None:
    assert [nice_max(v) for v in (0, 1, 3, 7, 12, 201)] == [1, 1, 5, 10, 20, 500]
    chart = Chart("c", "T", "S", ("a", "b"), series_of([("x", [1, 2]), ("y", [3, 0])]))
    bars = stacked_bars(chart)
    assert bars.top == 5 and len([s for s in bars.shapes if s.kind == "rect"]) == 3
    lines = line_chart(chart)
    assert [s.kind for s in lines.shapes].count("polyline") == 2
    assert chart.rows == [("a", [1, 3]), ("b", [2, 0])]
    t0 = datetime(2026, 12, 1, tzinfo=UTC)
    p = send_progress({"sent": 101, "queued": 100}, t0, t0 + timedelta(seconds=10), {"queued"})
    assert (p.total, p.percent, p.seconds_left) == (201, 50, 10)
    assert german_duration(p.seconds_left) == "noch ca. 10 s"
    assert german_duration(600) == "noch ca. 10 min" and german_duration(None) == ""
    pager = Pager(3, 50, 130)
    assert (pager.pages, pager.first, pager.last) == (3, 101, 130)
    assert pager.link({"suche": "a b", "region": ""}, 2) == "?suche=a+b&seite=2"


@pytest.mark.parametrize("path", ["/admin/newsletter/zwickau/fortschritt/stand"])
def test_progress_fragment_is_only_the_bar(
    ctx: Context, admin_client: TestClient, path: str
) -> None:
    fragment = admin_client.get(path).text
    assert "<html" not in fragment and "data-done" in fragment


def test_chart_counts_in_the_database(db_ctx: Context) -> None:
    """subscriptions_at and items_per_period on SQLite and PostgreSQL."""
    from newsletter.store import stats

    fill_subscribers(db_ctx, 10)  # confirmed now: two per region
    now = datetime.now(UTC)
    moments = [now - timedelta(days=1), now + timedelta(seconds=5)]
    with transaction(db_ctx.engine) as conn:
        counts = stats.subscriptions_at(conn, moments)
    assert counts["zwickau"] == [0, 2] and sum(c[1] for c in counts.values()) == 10
    with transaction(db_ctx.engine) as conn:
        first = store.find_by_email(conn, "p0003@example.org")
        assert first is not None
        later = now + timedelta(seconds=2)
        store.set_status(conn, first.id, ["zwickau"], SubscriptionStatus.UNSUBSCRIBED, later)
        counts = stats.subscriptions_at(conn, moments)
    assert counts["zwickau"] == [0, 1]
    add_manual_item(
        db_ctx, title="Fest in Plauen", text="In Plauen.", published=now - timedelta(days=2)
    )
    add_manual_item(
        db_ctx, title="Landtag berät", text="Im Landtag.", published=now - timedelta(days=9)
    )
    bounds = [now - timedelta(days=14), now - timedelta(days=7), now]
    with transaction(db_ctx.engine) as conn:
        per_week = stats.items_per_period(conn, bounds)
    assert per_week["zwickau"] == [0, 1] and per_week[""] == [1, 0]


def test_dashboard_charts_are_recomputed_once_they_are_a_minute_old() -> None:
    from newsletter.web.chartcache import MAX_AGE, TimedValue

    calls: list[int] = []
    cached: TimedValue[int] = TimedValue()
    t0 = datetime(2026, 12, 1, tzinfo=UTC)

    def compute() -> int:
        calls.append(1)
        return len(calls)

    assert cached.get(t0, compute) == 1
    assert cached.get(t0 + MAX_AGE - timedelta(seconds=1), compute) == 1
    assert cached.get(t0 + MAX_AGE, compute) == 2 and len(calls) == 2
