"""Archive pages: a region's items (paginated) and one item's page."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from fastapi.testclient import TestClient

from newsletter.context import Context
from tests.feedfixtures import T0, sample_items, store_items


def test_start_page_lists_regions_feeds_and_explains_them(ctx: Context, client: TestClient) -> None:
    store_items(ctx, sample_items())
    page = client.get("/")
    assert page.status_code == 200
    assert '<html lang="de">' in page.text
    assert "Was ist ein Feed?" in page.text
    assert page.text.count("/feeds/") >= 15
    assert "Enkeltrick in Görlitz" in page.text


def test_region_page_shows_own_and_statewide_items(ctx: Context, client: TestClient) -> None:
    store_items(ctx, sample_items())
    page = client.get("/regionen/zwickau")
    assert page.status_code == 200
    assert "Fahrräder codieren" in page.text and "Sicher im Netz &lt;Teil 2&gt;" in page.text
    assert "Enkeltrick" not in page.text
    assert "http://127.0.0.1:8000/feeds/zwickau.atom" in page.text


def test_region_page_paginates(ctx: Context, client: TestClient) -> None:
    base = sample_items()[2]  # statewide
    many = [
        replace(base, id=f"s{n:03d}", title=f"Meldung {n}", published_at=T0 + timedelta(minutes=n))
        for n in range(45)
    ]
    store_items(ctx, many)
    first, third = client.get("/regionen/dresden"), client.get("/regionen/dresden?seite=3")
    assert "Meldung 44" in first.text and "Seite 1 von 3" in first.text
    assert "Meldung 0<" in third.text and "Meldung 44" not in third.text


def test_item_page_names_regions_and_escapes_title(ctx: Context, client: TestClient) -> None:
    store_items(ctx, sample_items())
    page = client.get("/meldungen/item03")
    assert page.status_code == 200
    assert "Sachsen (landesweit)" in page.text and "&lt;Teil 2&gt;" in page.text
    linked = client.get("/meldungen/item01").text
    assert 'href="/regionen/ostsachsen"' in linked and "https://example.org/a" in linked


def test_unknown_region_and_item_are_german_404s(ctx: Context, client: TestClient) -> None:
    assert "gibt es nicht" in client.get("/regionen/mars").text
    response = client.get("/meldungen/nope")
    assert response.status_code == 404 and "gibt es nicht" in response.text
