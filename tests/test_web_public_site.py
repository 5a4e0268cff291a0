"""The public site's pages without a browser: start page sections, the region map, the
place look-up, the form's errors and kept values, 404 pages with links, the feed page and
the wording of the thank-you, confirmation and unsubscribe pages."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response

from newsletter.config import load_config
from newsletter.context import Context
from newsletter.gazetteer import lookup
from newsletter.regionmap import build as map_build
from newsletter.regionmap import region_map
from newsletter.subscriptions.tokens import Purpose
from tests._admin import app_client
from tests.configs import service_config
from tests.delivery_helpers import add_subscriber, token_for
from tests.feedfixtures import sample_items, store_items
from tests.test_web_subscribe import csrf


def form_post(client: TestClient, **data: object) -> Response:
    return client.post("/abonnieren", data={"csrf_token": csrf(client, "/abonnieren"), **data})


# --- the map -----------------------------------------------------------------------


def test_the_map_has_every_configured_district_once() -> None:
    regions = load_config().region_list()
    shown = region_map(regions)
    assert [a.key for a in shown.regions] == [r.key for r in regions]
    keys = [d.key for a in shown.regions for d in a.districts]
    assert sorted(keys) == sorted(d for r in regions for d in r.districts) and len(keys) == 13
    for area in shown.regions:
        assert 0 < area.label[0] < shown.width and 0 < area.label[1] < shown.height
        for district in area.districts:
            numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", district.path)]
            assert numbers and min(numbers) >= 0 and max(numbers) <= shown.width
    zwickau = next(a for a in shown.regions if a.key == "zwickau")
    assert zwickau.district_names == "Landkreis Zwickau, Vogtlandkreis"


def test_the_map_build_keeps_shared_borders_shared() -> None:
    source = map_build.SOURCE.read_text(encoding="utf-8")
    built = map_build.build(json.loads(source))
    assert built == json.loads(map_build.TARGET.read_text(encoding="utf-8"))  # up to date
    points: dict[str, set[str]] = {}
    for key, district in built["districts"].items():
        for x, y in re.findall(r"[ML](-?[\d.]+) (-?[\d.]+)", district["d"]):
            points.setdefault(f"{x} {y}", set()).add(key)
    leipzig_city = {p for p, keys in points.items() if "14713" in keys}
    shared = {p for p in leipzig_city if len(points[p]) > 1}
    assert len(shared) >= 10  # the city's border with its two neighbours is drawn once


def test_douglas_peucker_keeps_ends_and_far_points() -> None:
    line = [(0.0, 0.0), (1.0, 0.1), (2.0, 5.0), (3.0, 0.1), (4.0, 0.0)]
    assert map_build.douglas_peucker(line, 1.0) == [(0.0, 0.0), (2.0, 5.0), (4.0, 0.0)]
    assert map_build.douglas_peucker(line, 10.0) == [(0.0, 0.0), (4.0, 0.0)]


def test_start_page_shows_the_map_with_links_and_the_source(client: TestClient) -> None:
    page = client.get("/").text
    for key in ("leipzig-nordsachsen", "chemnitz", "ostsachsen", "zwickau", "dresden"):
        assert f'<a href="/regionen/{key}" class="map-region"' in page
    assert 'aria-label="Ostsachsen: Landkreis Bautzen, Landkreis Görlitz"' in page
    assert "© GeoBasis-DE / BKG 2021" in page


# --- the place look-up ------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "municipality", "district"),
    [
        ("Connewitz", "Leipzig", "14713"),
        ("connewitz", "Leipzig", "14713"),
        ("Pirna", "Pirna", "14628"),
        ("OT Klotzsche", "Dresden", "14612"),
        ("Reichenbach i.V.", "Reichenbach im Vogtland", "14523"),
        ("Einsiedel", "Chemnitz", "14511"),
    ],
)
def test_lookup_finds_municipalities_and_parts(
    query: str, municipality: str, district: str
) -> None:
    found = lookup.find(query)
    assert (municipality, district) in [(p.municipality, p.district) for p in found]
    assert found[0].municipality == municipality or query.startswith("Reichenbach")


def test_lookup_puts_the_municipality_before_a_namesake_part() -> None:
    plauen = lookup.find("Plauen")
    assert [(p.kind, p.municipality) for p in plauen] == [
        ("Gemeinde", "Plauen"),
        ("Stadtteil", "Dresden"),
    ]
    assert lookup.find("Zwick")[0].name == "Zwickau"  # a beginning is enough
    assert lookup.find("Atlantis") == [] and lookup.find("  ") == []


def test_lookup_on_the_form_ticks_the_one_region(client: TestClient) -> None:
    page = client.get("/abonnieren", params={"ort": "Connewitz"}).text
    assert "(Stadtteil von Leipzig) gehört zur Region <strong>Leipzig/Nordsachsen</strong>" in page
    assert 'value="leipzig-nordsachsen" checked' in page
    ambiguous = client.get("/abonnieren", params={"ort": "Plauen"}).text
    assert "passt zu mehreren Orten" in ambiguous and " checked" not in ambiguous
    unknown = client.get("/abonnieren", params={"ort": "Atlantis"}).text
    assert "keinen Ort in Sachsen gefunden" in unknown
    assert '<option value="Connewitz">' in page  # the datalist


def test_lookup_button_keeps_everything_and_sends_nothing(ctx: Context, client: TestClient) -> None:
    page = form_post(
        client,
        email="a@pirna.example",
        name="Anna",
        organisation="Stadt Pirna",
        consent="ja",
        regions=["zwickau"],
        ort="Pirna",
        action="ort_suchen",
    ).text
    assert "gehört zur Region <strong>Dresden</strong>" in page
    assert 'value="a@pirna.example"' in page and 'value="Stadt Pirna"' in page
    assert 'value="zwickau" checked' in page and 'value="dresden" checked' in page
    assert 'name="consent" value="ja" checked' in page
    assert "Bitte bestätigen Sie Ihre Anmeldung" not in page


# --- the form --------------------------------------------------------------------


def test_every_error_at_once_and_every_value_kept(client: TestClient) -> None:
    response = form_post(
        client,
        email="kein-at-zeichen",
        name="Anna\u202eSchmidt",
        organisation="Stadt Pirna",
        consent="ja",
    )
    assert response.status_code == 400
    summary = response.text.split('class="error-summary"')[1].split("</div>")[0]
    assert summary.count("<li>") == 3
    assert 'href="#feld-email"' in summary and 'href="#feld-name"' in summary
    assert 'href="#region-leipzig-nordsachsen"' in summary
    assert "Steuerzeichen" in summary and "mindestens eine Region" in summary
    assert 'value="Stadt Pirna"' in response.text
    assert 'name="consent" value="ja" checked' in response.text
    assert 'aria-describedby="fehler-name"' in response.text


def test_an_empty_form_names_all_four_mistakes(client: TestClient) -> None:
    page = form_post(client, email="").text
    summary = page.split('class="error-summary"')[1].split("</div>")[0]
    assert summary.count("<li>") == 3
    assert "Bitte geben Sie Ihre E-Mail-Adresse ein." in summary
    assert "Einwilligung" in summary and "mindestens eine Region" in summary
    assert "(3 Fehler)" in page


def test_region_link_arrives_ticked(client: TestClient) -> None:
    region_page = client.get("/regionen/zwickau").text
    assert 'href="/abonnieren?region=zwickau"' in region_page
    form = client.get("/abonnieren", params={"region": ["zwickau", "atlantis"]}).text
    assert 'value="zwickau" checked' in form and form.count(" checked") == 1


def test_thank_you_page_says_how_long_the_link_is_valid(tmp_path: Path) -> None:
    ctx = Context(service_config(tmp_path, None, subscriptions={"confirm_days": 3}))
    ctx.init_db()
    try:
        client = app_client(ctx)
        page = form_post(client, email="a@pirna.example", regions=["dresden"], consent="ja").text
        assert "Bitte bestätigen Sie Ihre Anmeldung" in page
        assert "<strong>3 Tage</strong> gültig" in page
    finally:
        ctx.close()


def test_confirmation_page_says_when_the_first_newsletter_comes(
    ctx: Context, client: TestClient
) -> None:
    sid = add_subscriber(ctx, "a@pirna.example", {"dresden": "pending"})
    token = token_for(ctx, sid, Purpose.CONFIRM)
    page = client.post(
        f"/bestaetigen/{token}", data={"csrf_token": csrf(client, f"/bestaetigen/{token}")}
    ).text
    assert "Wann kommt der erste Newsletter?" in page
    assert re.search(r"Dresden: am <strong>Donnerstag, \d+\. \w+ \d{4}, 09:00 Uhr</strong>", page)
    assert "die letzte Ausgabe" in page


def test_without_a_scheduler_the_confirmation_names_no_date(tmp_path: Path) -> None:
    ctx = Context(service_config(tmp_path, None, schedule={"enabled": False}))
    ctx.init_db()
    try:
        client = app_client(ctx)
        sid = add_subscriber(ctx, "a@pirna.example", {"dresden": "pending"})
        path = f"/bestaetigen/{token_for(ctx, sid, Purpose.CONFIRM)}"
        page = client.post(path, data={"csrf_token": csrf(client, path)}).text
        assert "Mit der nächsten Ausgabe, die die Redaktion versendet" in page
        assert "Uhr" not in page
    finally:
        ctx.close()


def test_unsubscribe_page_names_address_and_regions(ctx: Context, client: TestClient) -> None:
    sid = add_subscriber(ctx, "a@pirna.example", {"dresden": "confirmed", "zwickau": "confirmed"})
    page = client.get(f"/abmelden/{token_for(ctx, sid, Purpose.UNSUBSCRIBE, 'zwickau')}").text
    assert "für <strong>Zwickau</strong> an die Adresse <strong>a@pirna.example</strong>" in page
    assert "derzeit den Newsletter für: Zwickau, Dresden" in page or (
        "derzeit den Newsletter für: Dresden, Zwickau" in page
    )
    assert "Die anderen Regionen bleiben abonniert." in page


# --- start page, items, 404s, feed page -------------------------------------------


def test_statewide_items_once_with_teasers(ctx: Context, client: TestClient) -> None:
    store_items(ctx, sample_items())
    page = client.get("/").text
    assert page.count("Sicher im Netz &lt;Teil 2&gt;") == 2  # its link and its teaser, once
    sachsen = page.split('id="region-sachsen"')[1].split("</section>")[0]
    assert "Sicher im Netz" in sachsen and "Enkeltrick" not in sachsen
    assert (
        '<div class="teaser"><p>Enkeltrick in Görlitz: Polizei warnt Senioren – Details.</p></div>'
        in page
    )


def test_logo_and_publisher(tmp_path: Path, client: TestClient) -> None:
    assert "<img" not in client.get("/").text  # no logo configured: none shown
    logo = "https://lpr.example/logo.svg"
    ctx = Context(service_config(tmp_path, None, site={"logo_url": logo, "publisher": "LPR"}))
    ctx.init_db()
    try:
        page = app_client(ctx).get("/").text
        assert f'<img src="{logo}" alt="LPR">' in page
        assert '<p class="site-publisher">LPR</p>' in page
    finally:
        ctx.close()


def test_item_page_links_back_to_its_regions(ctx: Context, client: TestClient) -> None:
    items = sample_items()
    store_items(ctx, items)
    page = client.get("/meldungen/item01").text
    assert '<a href="/regionen/ostsachsen">alle Meldungen für Ostsachsen</a>' in page
    statewide = client.get("/meldungen/item03").text
    assert '<a href="/#region-sachsen">Sachsen (landesweit)</a>' in statewide
    assert statewide.count('href="/regionen/') >= 5


def test_region_404_and_feed_404_list_links(client: TestClient) -> None:
    region = client.get("/regionen/erzgebirge")
    assert region.status_code == 404
    assert '<a href="/regionen/chemnitz">Chemnitz</a>' in region.text
    feed = client.get("/feeds/erzgebirge.rss", headers={"Accept": "text/html"})
    assert feed.status_code == 404
    assert '<a href="/feeds/chemnitz.rss">RSS</a>' in feed.text
    assert '<a href="/feeds.opml">' in feed.text


def test_rss_links_open_the_feed_page(ctx: Context, client: TestClient) -> None:
    store_items(ctx, sample_items()[:1])
    start = client.get("/").text
    assert '<a href="/feed/ostsachsen">RSS</a>' in start
    page = client.get("/feed/ostsachsen")
    assert page.status_code == 200 and "Feed »Ostsachsen« abonnieren" in page.text
    assert 'value="http://127.0.0.1:8000/feeds/ostsachsen.rss" readonly' in page.text
    assert "feedly.com/i/subscription/feed/http%3A%2F%2F127.0.0.1%3A8000%2Ffeeds" in page.text
    assert "Thunderbird" in page.text and "Outlook" in page.text
    assert client.get("/feed/sachsen").status_code == 200
    assert client.get("/feed/atlantis").status_code == 404
    assert (
        client.get("/feeds/ostsachsen.rss")
        .headers["content-type"]
        .startswith("application/rss+xml")
    )  # the feed itself stays the feed


def test_latest_own_separates_statewide_from_named(db_ctx: Context) -> None:
    from newsletter.store import items as item_store
    from newsletter.store.db import transaction

    items = sample_items()
    store_items(db_ctx, [*items, replace(items[0], id="hidden1", hidden=True)])
    with transaction(db_ctx.engine) as conn:
        own = item_store.latest_own(conn, "ostsachsen")
        statewide = item_store.latest_own(conn, None)
        dresden = item_store.latest_own(conn, "dresden", limit=1)
    assert [i.id for i in own] == ["item01"]
    assert [i.id for i in statewide] == ["item03"]
    assert [i.id for i in dresden] == ["item05"]


def test_teasers_follow_the_one_teaser_rule(ctx: Context, client: TestClient) -> None:
    from newsletter.teasers import teaser

    long_text = (
        "<p>" + " ".join(["Der Präventionsrat informiert über Einbruchschutz."] * 20) + "</p>"
    )
    item = replace(sample_items()[0], id="long01", summary_html=long_text)
    store_items(ctx, [item])
    expected = teaser(item)
    assert expected.cut and len(expected.text) < len(long_text)
    assert f'<div class="teaser">{expected.html}</div>' in client.get("/").text
    assert f'<div class="teaser">{expected.html}</div>' in client.get("/regionen/ostsachsen").text


def test_preferences_page_has_the_map_and_ticks_the_confirmed(
    ctx: Context, client: TestClient
) -> None:
    sid = add_subscriber(ctx, "a@pirna.example", {"dresden": "confirmed", "zwickau": "pending"})
    page = client.get(f"/einstellungen/{token_for(ctx, sid, Purpose.MANAGE)}").text
    assert '<label for="region-zwickau" class="map-layer map-zwickau"' in page
    assert 'value="dresden" checked' in page and 'value="zwickau" checked' not in page
