"""Feeds over real HTTP: uvicorn on loopback, httpx client; validators, gzip, HEAD, 404."""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import feedparser
import httpx
import pytest

from newsletter.context import Context
from newsletter.store import items as item_store
from newsletter.store.db import transaction
from newsletter.web import create_app
from tests.feedfixtures import sample_items, store_items
from tests.livesrv import serve_app


@pytest.fixture
def base_url(ctx: Context) -> Iterator[str]:
    store_items(ctx, sample_items())
    with serve_app(create_app(ctx)) as url:
        yield url


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("/feeds/zwickau.rss", "application/rss+xml; charset=utf-8"),
        ("/feeds/zwickau.atom", "application/atom+xml; charset=utf-8"),
        ("/feeds/zwickau.json", "application/feed+json; charset=utf-8"),
        ("/feeds/sachsen.rss", "application/rss+xml; charset=utf-8"),
        ("/feeds.opml", "text/x-opml; charset=utf-8"),
    ],
)
def test_feed_headers(base_url: str, path: str, media_type: str) -> None:
    response = httpx.get(base_url + path)
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    assert response.headers["etag"].startswith('"') and not response.headers["etag"].startswith(
        "W/"
    )
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.headers["last-modified"].endswith("GMT")


def test_if_none_match_gives_304_without_body(base_url: str) -> None:
    first = httpx.get(base_url + "/feeds/zwickau.rss")
    again = httpx.get(
        base_url + "/feeds/zwickau.rss", headers={"If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["cache-control"] == first.headers["cache-control"]


def test_if_modified_since_gives_304(base_url: str) -> None:
    first = httpx.get(base_url + "/feeds/zwickau.atom")
    again = httpx.get(
        base_url + "/feeds/zwickau.atom",
        headers={"If-Modified-Since": first.headers["last-modified"]},
    )
    assert again.status_code == 304


def test_if_none_match_beats_if_modified_since(base_url: str) -> None:
    first = httpx.get(base_url + "/feeds/zwickau.atom")
    again = httpx.get(
        base_url + "/feeds/zwickau.atom",
        headers={"If-None-Match": '"stale"', "If-Modified-Since": first.headers["last-modified"]},
    )
    assert again.status_code == 200


def test_new_item_changes_etag(ctx: Context, base_url: str) -> None:
    first = httpx.get(base_url + "/feeds/zwickau.rss")
    with transaction(ctx.engine) as conn:
        item_store.set_hidden(conn, "item03", True)
    again = httpx.get(
        base_url + "/feeds/zwickau.rss", headers={"If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 200 and again.headers["etag"] != first.headers["etag"]
    assert "Sicher im Netz" not in again.text


def test_gzip_for_clients_that_accept_it(base_url: str) -> None:
    raw = httpx.get(base_url + "/feeds/sachsen.rss", headers={"Accept-Encoding": "identity"})
    with httpx.Client() as client:
        zipped = client.get(base_url + "/feeds/sachsen.rss", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == raw.content  # httpx decoded it
    assert int(zipped.headers["content-length"]) < len(raw.content)
    assert gzip.decompress(gzip.compress(raw.content)) == raw.content


def test_head_has_headers_and_no_body(base_url: str) -> None:
    get = httpx.get(base_url + "/feeds/zwickau.json", headers={"Accept-Encoding": "identity"})
    head = httpx.head(base_url + "/feeds/zwickau.json", headers={"Accept-Encoding": "identity"})
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == get.headers["etag"]
    assert head.headers["content-length"] == str(len(get.content))


def test_served_feed_is_valid(base_url: str) -> None:
    parsed = feedparser.parse(httpx.get(base_url + "/feeds/zwickau.atom").content)
    assert parsed.bozo == 0 and len(parsed.entries) == 2


def test_unknown_region_is_a_german_404_page(base_url: str) -> None:
    response = httpx.get(base_url + "/feeds/mars.rss", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]
    assert "gibt es nicht" in response.text and "/feeds/zwickau.rss" in response.text


def test_unknown_region_as_json(base_url: str) -> None:
    response = httpx.get(base_url + "/feeds/mars.json", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.json()["error"]["status"] == 404


def test_pages_link_feeds_for_autodiscovery(base_url: str) -> None:
    page = httpx.get(base_url + "/regionen/zwickau").text
    assert 'type="application/rss+xml"' in page and "/feeds/zwickau.rss" in page
    assert 'type="application/atom+xml"' in page and 'type="application/feed+json"' in page
