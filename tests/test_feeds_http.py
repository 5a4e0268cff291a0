"""Feeds over real HTTP: uvicorn on loopback, httpx client; validators, gzip, HEAD, 404."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from typing import Any

import feedparser
import httpx
import pytest

from newsletter import metrics
from newsletter.config import Config
from newsletter.context import Context
from newsletter.store import items as item_store
from newsletter.store.db import transaction
from newsletter.web import create_app
from newsletter.web.conditional import accepts_gzip
from newsletter.web.feeds import FeedCache, FeedsFirst
from newsletter.web.state import state_of
from tests.feedfixtures import feed_request_count, sample_items, store_items
from tests.livesrv import CONDITIONAL_REQUESTS, Clock, answers_of, serve_app

MEDIA_TYPES = [
    ("/feeds/zwickau.rss", "application/rss+xml; charset=utf-8"),
    ("/feeds/zwickau.atom", "application/atom+xml; charset=utf-8"),
    ("/feeds/zwickau.json", "application/feed+json; charset=utf-8"),
    ("/feeds/sachsen.rss", "application/rss+xml; charset=utf-8"),
    ("/feeds/sachsen.atom", "application/atom+xml; charset=utf-8"),
    ("/feeds/sachsen.json", "application/feed+json; charset=utf-8"),
    ("/feeds.opml", "text/x-opml; charset=utf-8"),
]


@pytest.fixture
def live(make_config: Callable[..., Config]) -> Iterator[tuple[Context, str, Clock]]:
    """The app on loopback with the sample items; its feed cache runs on a test clock."""
    ctx = Context(make_config(feeds={"recheck_seconds": 5}))
    ctx.init_db()
    store_items(ctx, sample_items())
    app, clock = create_app(ctx), Clock()
    state_of(app).feed_cache = FeedCache(ctx.config, clock=clock)
    with serve_app(FeedsFirst(app)) as url:  # as `newsletter serve` runs it
        yield ctx, url, clock
    ctx.close()


@pytest.fixture
def base_url(live: tuple[Context, str, Clock]) -> str:
    return live[1]


@pytest.mark.parametrize(("path", "media_type"), MEDIA_TYPES)
def test_feed_headers(base_url: str, path: str, media_type: str) -> None:
    response = httpx.get(base_url + path)
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    etag = response.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"') and len(etag) == 34
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.headers["last-modified"].endswith(" GMT")
    assert "link" not in response.headers  # no WebSub hub configured


def test_if_none_match_gives_304_without_body_and_same_headers(base_url: str) -> None:
    first = httpx.get(base_url + "/feeds/zwickau.rss")
    again = httpx.get(
        base_url + "/feeds/zwickau.rss", headers={"If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304 and again.content == b""
    for name in ("etag", "cache-control", "vary", "last-modified"):
        assert again.headers[name] == first.headers[name], name
    assert "content-length" not in again.headers or again.headers["content-length"] == "0"


@pytest.mark.parametrize("header", ['"other", {etag}', "W/{etag}", "*"])
def test_if_none_match_lists_weak_tags_and_star(base_url: str, header: str) -> None:
    etag = httpx.get(base_url + "/feeds/zwickau.json").headers["etag"]
    value = header.format(etag=etag)
    again = httpx.get(base_url + "/feeds/zwickau.json", headers={"If-None-Match": value})
    assert again.status_code == 304


def test_if_modified_since_gives_304_and_an_older_date_200(base_url: str) -> None:
    first = httpx.get(base_url + "/feeds/zwickau.atom")
    same = {"If-Modified-Since": first.headers["last-modified"]}
    assert httpx.get(base_url + "/feeds/zwickau.atom", headers=same).status_code == 304
    older = {"If-Modified-Since": "Thu, 01 Jan 2026 00:00:00 GMT"}
    assert httpx.get(base_url + "/feeds/zwickau.atom", headers=older).status_code == 200
    broken = {"If-Modified-Since": "gestern"}
    assert httpx.get(base_url + "/feeds/zwickau.atom", headers=broken).status_code == 200


def test_if_none_match_beats_if_modified_since(base_url: str) -> None:
    first = httpx.get(base_url + "/feeds/zwickau.atom")
    headers = {"If-None-Match": '"stale"', "If-Modified-Since": first.headers["last-modified"]}
    assert httpx.get(base_url + "/feeds/zwickau.atom", headers=headers).status_code == 200


def test_a_change_shows_after_the_recheck_interval(live: tuple[Context, str, Clock]) -> None:
    """Within ``recheck_seconds`` the cache answers without the database; after it, a hidden
    item is gone, ETag and Last-Modified moved, and both old validators get a 200."""
    ctx, base_url, clock = live
    first = httpx.get(base_url + "/feeds/zwickau.rss")
    with transaction(ctx.engine) as conn:
        item_store.set_hidden(conn, "item03", True)  # the feed's newest item
    old_tag = {"If-None-Match": first.headers["etag"]}
    assert httpx.get(base_url + "/feeds/zwickau.rss", headers=old_tag).status_code == 304
    clock.now += 5
    again = httpx.get(base_url + "/feeds/zwickau.rss", headers=old_tag)
    assert again.status_code == 200 and "Sicher im Netz" not in again.text
    assert again.headers["etag"] != first.headers["etag"]
    old_date = {"If-Modified-Since": first.headers["last-modified"]}
    assert httpx.get(base_url + "/feeds/zwickau.rss", headers=old_date).status_code == 200


def test_a_change_elsewhere_keeps_etag_and_last_modified(live: tuple[Context, str, Clock]) -> None:
    ctx, base_url, clock = live
    first = httpx.get(base_url + "/feeds/zwickau.rss")
    with transaction(ctx.engine) as conn:
        item_store.set_hidden(conn, "item01", True)  # Ostsachsen: not in Zwickau's feed
    clock.now += 5
    again = httpx.get(base_url + "/feeds/zwickau.rss")
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["last-modified"] == first.headers["last-modified"]
    assert httpx.get(base_url + "/feeds/sachsen.rss").text.count("<item>") == 4


def test_gzip_for_clients_that_accept_it(base_url: str) -> None:
    raw = httpx.get(base_url + "/feeds/sachsen.rss", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in raw.headers
    with httpx.Client() as client:
        zipped = client.get(base_url + "/feeds/sachsen.rss", headers={"Accept-Encoding": "gzip"})
        refused = client.get(
            base_url + "/feeds/sachsen.rss", headers={"Accept-Encoding": "gzip;q=0, identity"}
        )
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == raw.content  # httpx decoded it
    assert int(zipped.headers["content-length"]) < len(raw.content) / 2
    assert zipped.headers["etag"] == raw.headers["etag"]
    assert "content-encoding" not in refused.headers


def test_gzip_body_is_a_valid_gzip_stream(base_url: str) -> None:
    with httpx.stream(
        "GET", base_url + "/feeds/zwickau.atom", headers={"Accept-Encoding": "gzip"}
    ) as response:
        body = b"".join(response.iter_raw())
    assert gzip.decompress(body).startswith(b"<?xml")


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
def test_head_has_headers_and_no_body(base_url: str, encoding: str) -> None:
    headers = {"Accept-Encoding": encoding}
    with httpx.stream("GET", base_url + "/feeds/zwickau.json", headers=headers) as get:
        size = len(b"".join(get.iter_raw()))
    head = httpx.head(base_url + "/feeds/zwickau.json", headers=headers)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == get.headers["etag"]
    assert head.headers["content-length"] == str(size)
    assert head.headers["content-type"] == "application/feed+json; charset=utf-8"


def test_served_feeds_are_valid(base_url: str) -> None:
    for kind in ("rss", "atom"):
        parsed = feedparser.parse(httpx.get(f"{base_url}/feeds/zwickau.{kind}").content)
        assert parsed.bozo == 0 and len(parsed.entries) == 2


def test_unknown_region_is_a_german_404_page(base_url: str) -> None:
    response = httpx.get(base_url + "/feeds/mars.rss", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "gibt es nicht" in response.text
    for path in ("/feeds/sachsen.rss", "/feeds/zwickau.rss", "/feeds.opml"):
        assert path in response.text


@pytest.mark.parametrize("path", ["/feeds/mars.json", "/feeds/zwickau.xml", "/feeds/zwickau"])
def test_unknown_feed_as_json(base_url: str, path: str) -> None:
    response = httpx.get(base_url + path, headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.json()["error"]["status"] == 404
    assert "gibt es nicht" in response.json()["error"]["message"]


def test_post_is_not_allowed(base_url: str) -> None:
    assert httpx.post(base_url + "/feeds/zwickau.rss").status_code == 405


def test_opml_lists_every_feed(base_url: str) -> None:
    response = httpx.get(base_url + "/feeds.opml")
    assert response.text.count('type="rss"') == 6
    assert f"{'http://127.0.0.1:8000'}/feeds/leipzig-nordsachsen.rss" in response.text


def test_websub_link_header(make_config: Callable[..., Config]) -> None:
    ctx = Context(make_config(feeds={"websub_hub": "https://hub.example.org/"}))
    ctx.init_db()
    with serve_app(create_app(ctx)) as url:
        response = httpx.get(url + "/feeds/dresden.atom")
        not_modified = httpx.get(
            url + "/feeds/dresden.atom", headers={"If-None-Match": response.headers["etag"]}
        )
    ctx.close()
    expected = (
        '<https://hub.example.org/>; rel="hub", '
        '<http://127.0.0.1:8000/feeds/dresden.atom>; rel="self"'
    )
    assert response.headers["link"] == expected
    assert not_modified.status_code == 304 and not_modified.headers["link"] == expected
    assert b'rel="hub"' in response.content


def test_pages_link_feeds_for_autodiscovery(base_url: str) -> None:
    page = httpx.get(base_url + "/regionen/zwickau").text
    assert 'type="application/rss+xml"' in page and "/feeds/zwickau.rss" in page
    assert 'type="application/atom+xml"' in page and 'type="application/feed+json"' in page


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("gzip", True),
        ("gzip, deflate, br", True),
        ("br;q=1.0, gzip;q=0.8", True),
        ("*", True),
        ("", False),
        ("identity", False),
        ("gzip;q=0", False),
        ("gzip;q=0.000, *;q=1", False),
        ("*;q=0", False),
        ("gzip;q=abc", False),
    ],
)
def test_accept_encoding(header: str, expected: bool) -> None:
    assert accepts_gzip(header) is expected


def test_fresh_feeds_are_answered_before_the_framework(
    make_config: Callable[..., Config],
) -> None:
    """The first request fills the cache through the app; later ones never reach it,
    with the same bytes and headers; unknown feeds still get the app's German 404."""
    import asyncio

    ctx = Context(make_config())
    ctx.init_db()
    store_items(ctx, sample_items())
    app, seen = create_app(ctx), []

    class Spy:
        state = app.state

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            seen.append(scope["path"])
            await app(scope, receive, send)

    async def fetch(paths: list[str]) -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=FeedsFirst(Spy()))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return [await client.get(path) for path in paths]

    before = _count(app, "rss", 200)
    first, second, missing = asyncio.run(
        fetch(["/feeds/zwickau.rss", "/feeds/zwickau.rss", "/feeds/nirgendwo.rss"])
    )
    assert seen == ["/feeds/zwickau.rss", "/feeds/nirgendwo.rss"]
    assert _count(app, "rss", 200) == before + 2  # both paths count for /metrics
    assert second.content == first.content and second.headers == first.headers
    assert missing.status_code == 404 and "gibt es nicht" in missing.text
    ctx.close()


def _count(app: Any, fmt: str, status: int) -> float:
    """``newsletter_feed_requests_total`` as the app's /metrics would show it."""
    return feed_request_count(metrics.render(state_of(app).metrics).decode(), fmt, status)


@pytest.mark.parametrize(("method", "headers"), CONDITIONAL_REQUESTS)
def test_feeds_first_answers_byte_for_byte_what_the_framework_answers(
    ctx: Context, method: str, headers: dict[str, str]
) -> None:
    """The invariant FeedsFirst relies on: skipping the framework changes nothing a
    client sees (status, every header, body) for a fresh feed."""
    store_items(ctx, sample_items())
    app = create_app(ctx)
    framework, first = answers_of((app, FeedsFirst(app)), method, "/feeds/zwickau.atom", headers)
    assert first.status_code == framework.status_code
    assert first.headers.raw == framework.headers.raw and first.content == framework.content
