"""Public pages cached per store version: validators, 304, no per-visitor part, bounded
memory, the fast path in front of the app, and changes reaching a running server."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from newsletter.config import Config, load_config
from newsletter.context import Context
from newsletter.models import Item
from newsletter.store import items as item_store
from newsletter.store.db import transaction
from newsletter.web import create_app
from newsletter.web.pages import PageCache, PagesFirst
from newsletter.web.rendering import SharedRequest, render_shared
from newsletter.web.state import state_of
from tests.feedfixtures import T0, sample_items, store_items
from tests.livesrv import (
    CONDITIONAL_REQUESTS,
    Clock,
    answers_of,
    newsletter_serve,
    run_cli,
    serve_app,
    wait_for,
    write_config,
)

PAGES = ["/", "/regionen/zwickau", "/meldungen/item03"]


@pytest.fixture
def live(make_config: Callable[..., Config]) -> Iterator[tuple[Context, str, Clock]]:
    """The app on loopback as ``newsletter serve`` runs it; its page cache on a test clock."""
    ctx = Context(make_config(feeds={"recheck_seconds": 5}))
    ctx.init_db()
    store_items(ctx, sample_items())
    app, clock = create_app(ctx), Clock()
    cache = state_of(app).page_cache = PageCache(ctx.config, clock=clock)
    with serve_app(PagesFirst(app, cache)) as url:
        yield ctx, url, clock
    ctx.close()


@pytest.mark.parametrize("path", PAGES)
def test_a_page_has_validators_and_public_caching_and_no_cookie(
    live: tuple[Context, str, Clock], path: str
) -> None:
    response = httpx.get(live[1] + path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    etag = response.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"') and len(etag) == 34
    assert response.headers["cache-control"] == "public, max-age=60"
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.headers["last-modified"].endswith(" GMT")
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    assert "set-cookie" not in response.headers  # nothing per visitor in a shared page
    again = httpx.get(live[1] + path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    since = {"If-Modified-Since": response.headers["last-modified"]}
    assert httpx.get(live[1] + path, headers=since).status_code == 304


def test_a_page_is_gzipped_when_asked_and_head_has_no_body(
    live: tuple[Context, str, Clock],
) -> None:
    url = live[1] + "/regionen/zwickau"
    plain = httpx.get(url, headers={"Accept-Encoding": "identity"})
    zipped = httpx.get(url, headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in plain.headers
    assert zipped.headers["content-encoding"] == "gzip" and zipped.text == plain.text
    head = httpx.head(url)
    assert head.status_code == 200 and head.content == b""


def test_within_the_recheck_interval_the_store_is_not_asked(
    live: tuple[Context, str, Clock],
) -> None:
    """Hidden in the store: the cached page stays until the version is read again."""
    ctx, url, clock = live
    first = httpx.get(url + "/regionen/zwickau")
    assert "Fahrräder codieren" in first.text
    with transaction(ctx.engine) as conn:
        item_store.set_hidden(conn, "item02", True)
    clock.now += 1
    assert httpx.get(url + "/regionen/zwickau").text == first.text
    clock.now += 5
    changed = httpx.get(url + "/regionen/zwickau", headers={"If-None-Match": first.headers["etag"]})
    assert changed.status_code == 200 and "Fahrräder codieren" not in changed.text
    assert changed.headers["etag"] != first.headers["etag"]
    assert httpx.get(url + "/meldungen/item02").status_code == 404


def test_the_cache_is_bounded_least_recently_used_out(ctx: Context) -> None:
    many = [replace(sample_items()[2], id=f"s{n:03d}", title=f"Meldung {n}") for n in range(30)]
    store_items(ctx, many)
    app = create_app(ctx)
    cache = state_of(app).page_cache = PageCache(ctx.config, max_pages=5, max_bytes=10**9)
    client = TestClient(app)
    for n in range(30):
        assert client.get(f"/meldungen/s{n:03d}").status_code == 200
        client.get("/")  # used all the time: stays
    assert cache.stats()[0] == 5
    assert cache.fresh("/") is not None and cache.fresh("/meldungen/s000") is None
    small = state_of(app).page_cache = PageCache(ctx.config, max_bytes=30_000)
    for n in range(30):
        client.get(f"/meldungen/s{n:03d}")
    pages, size = small.stats()
    assert 0 < pages < 30 and size <= 30_000


def test_unknown_pages_are_not_cached(ctx: Context) -> None:
    app = create_app(ctx)
    client = TestClient(app)
    for n in range(20):
        assert client.get(f"/meldungen/gibtsnicht{n}").status_code == 404
    assert client.get("/regionen/mars").status_code == 404
    assert state_of(app).page_cache.stats() == (0, 0)


def test_a_shared_page_cannot_carry_a_csrf_token(ctx: Context) -> None:
    """A per-visitor token must never end up in bytes served to everyone."""
    with pytest.raises(RuntimeError, match="CSRF"):
        render_shared(ctx.config, "token_error.html", {"expired": False, "message": "alt"})


@pytest.mark.parametrize(("method", "headers"), CONDITIONAL_REQUESTS)
@pytest.mark.parametrize("path", [*PAGES, "/regionen/dresden?seite=1"])
def test_pages_first_answers_byte_for_byte_what_the_framework_answers(
    ctx: Context, method: str, headers: dict[str, str], path: str
) -> None:
    """The invariant PagesFirst relies on: answering a fresh page in front of the
    framework changes nothing a client sees (status, every header, body)."""
    store_items(ctx, sample_items())
    app = create_app(ctx)
    fast = PagesFirst(app, state_of(app).page_cache)
    framework, first = answers_of((app, fast), method, path, headers)
    assert first.status_code == framework.status_code
    assert first.headers.raw == framework.headers.raw and first.content == framework.content


def test_the_fast_path_answers_without_the_app(ctx: Context) -> None:
    store_items(ctx, sample_items())
    app = create_app(ctx)
    cache = state_of(app).page_cache
    called: list[str] = []

    async def spy(scope: dict[str, object], receive: object, send: object) -> None:
        called.append(str(scope["path"]))
        await app(scope, receive, send)  # type: ignore[arg-type]

    async def run() -> None:
        transport = httpx.ASGITransport(app=PagesFirst(spy, cache))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            for path in (*PAGES, *PAGES):
                assert (await client.get(path)).status_code == 200
            other = await client.get("/regionen/zwickau?utm_source=mail")  # same page
            assert other.status_code == 200

    asyncio.run(run())
    assert called == [*PAGES, "/regionen/zwickau"]


# --- paging through HTTP -------------------------------------------------------------------


def links(page: str, rel: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)" rel="{rel}">', page)
    return None if found is None else found.group(1).replace("&amp;", "&")


def titles(page: str) -> list[str]:
    return re.findall(r'<a href="/meldungen/[^"]+">([^<]+)</a>', page)


def statewide(n: int, minutes: int) -> Item:
    base = sample_items()[2]
    moment = T0 + timedelta(minutes=minutes)
    return replace(
        base,
        id=f"s{n:04d}",
        title=f"Meldung {n}",
        published_at=moment,
        collected_at=moment,
        updated_at=moment,
    )


def test_following_the_links_shows_every_item_once_while_items_arrive(
    ctx: Context, client: TestClient
) -> None:
    store_items(ctx, [statewide(n, n // 2) for n in range(95)])  # pairs share a minute
    seen: list[str] = []
    path: str | None = "/regionen/dresden"
    arriving = iter(range(1000, 1100))
    while path is not None:
        page = client.get(path)
        assert page.status_code == 200
        seen += titles(page.text)
        n = next(arriving)
        store_items(ctx, [statewide(n, 1000 + n)])  # newer than everything shown
        path = links(page.text, "next")
    assert len(seen) == len(set(seen)) == 95
    assert seen[0] == "Meldung 94" and seen[-1] in ("Meldung 0", "Meldung 1")


def test_the_newer_links_lead_back_up_without_repeats(ctx: Context, client: TestClient) -> None:
    store_items(ctx, [statewide(n, n) for n in range(70)])
    path: str | None = "/regionen/zwickau"
    pages = []
    while path is not None:
        pages.append(client.get(path).text)
        path = links(pages[-1], "next")
    assert "Seite 4 von 4" in pages[-1]
    up: list[str] = []
    path = links(pages[-1], "prev")
    while path is not None:
        text = client.get(path).text
        up = titles(text) + up
        path = links(text, "prev")
    assert up == [t for page in pages[:-1] for t in titles(page)]


def test_old_page_number_links_keep_working(ctx: Context, client: TestClient) -> None:
    store_items(ctx, [statewide(n, n) for n in range(45)])
    second = client.get("/regionen/dresden?seite=2").text
    assert titles(second) == [f"Meldung {n}" for n in range(24, 4, -1)]
    assert "Seite 2 von 3" in second and links(second, "prev") == "/regionen/dresden"
    older = links(second, "next")
    assert older is not None and "vor=" in older and "seite=3" in older
    third = client.get(older).text
    assert titles(third) == [f"Meldung {n}" for n in range(4, -1, -1)]
    assert titles(client.get("/regionen/dresden?seite=3").text) == titles(third)
    beyond = client.get("/regionen/dresden?seite=9")
    assert beyond.status_code == 200 and links(beyond.text, "prev") == "/regionen/dresden"


@pytest.mark.parametrize("query", ["?vor=gestern", "?nach=1,a%20b", "?seite=0"])
def test_a_broken_page_link_is_a_german_400(client: TestClient, query: str) -> None:
    response = client.get("/regionen/dresden" + query)
    assert response.status_code == 400 and '<html lang="de">' in response.text


# --- a running server on a real SQLite file --------------------------------------------------


def write_news(folder: Path, name: str, title: str, text: str) -> None:
    body = f'+++\ntitle = "{title}"\ndate = 2026-11-20T10:00:00+01:00\n+++\n{text}\n'
    (folder / f"{name}.md").write_text(body, encoding="utf-8")


def test_a_running_server_shows_every_change_of_the_store(tmp_path: Path) -> None:
    """Added, edited, hidden, re-classified: each reaches the cached pages of ``serve``."""
    news = tmp_path / "news"
    news.mkdir()
    write_news(news, "a", "Radcodierung in Zwickau", "Die Polizei codiert in Zwickau Räder.")
    source = {"name": "Redaktion", "kind": "folder", "path": str(news)}
    config = write_config(tmp_path, sources=[source])
    assert run_cli(config, "collect").returncode == 0
    with newsletter_serve(config, tmp_path / "serve.log") as served:
        region, start = served.url + "/regionen/zwickau", served.url + "/"

        def shows(url: str, text: str, present: bool = True) -> bool:
            return (text in httpx.get(url).text) == present

        first = httpx.get(region)
        assert "Radcodierung in Zwickau" in first.text
        assert (
            httpx.get(region, headers={"If-None-Match": first.headers["etag"]}).status_code == 304
        )

        write_news(news, "b", "Einbruchschutz in Plauen", "Beratung in Plauen.")  # added
        assert run_cli(config, "collect").returncode == 0
        assert wait_for(lambda: shows(region, "Einbruchschutz in Plauen"), 10)
        assert wait_for(lambda: shows(start, "Einbruchschutz in Plauen"), 10)
        stale = httpx.get(region, headers={"If-None-Match": first.headers["etag"]})
        assert stale.status_code == 200

        write_news(news, "a", "Radcodierung in Zwickau verschoben", "Neuer Termin in Zwickau.")
        assert run_cli(config, "collect").returncode == 0  # edited
        assert wait_for(lambda: shows(region, "Radcodierung in Zwickau verschoben"), 10)
        ctx = Context(load_config(config, environ={}))
        with transaction(ctx.engine) as conn:
            found = item_store.search(conn, limit=10)
        ids = {item.title: item.id for item in found}
        item_url = served.url + f"/meldungen/{ids['Radcodierung in Zwickau verschoben']}"
        assert wait_for(lambda: shows(item_url, "Neuer Termin"), 10)

        plauen = ids["Einbruchschutz in Plauen"]
        assert run_cli(config, "items", "set-regions", plauen, "dresden").returncode == 0
        dresden = served.url + "/regionen/dresden"
        assert wait_for(lambda: shows(dresden, "Einbruchschutz in Plauen"), 10)
        assert wait_for(lambda: shows(region, "Einbruchschutz in Plauen", present=False), 10)
        assert run_cli(config, "items", "set-regions", plauen, "--auto").returncode == 0
        assert wait_for(lambda: shows(region, "Einbruchschutz in Plauen"), 10)  # re-classified
        assert wait_for(lambda: shows(dresden, "Einbruchschutz in Plauen", present=False), 10)

        with transaction(ctx.engine) as conn:  # hidden by another process
            item_store.set_hidden(conn, plauen, True)
        ctx.close()
        assert wait_for(lambda: shows(region, "Einbruchschutz in Plauen", present=False), 10)
        assert wait_for(
            lambda: httpx.get(served.url + f"/meldungen/{plauen}").status_code == 404, 10
        )
        assert wait_for(lambda: shows(start, "Einbruchschutz in Plauen", present=False), 10)


def test_a_shared_page_knows_its_address_but_nothing_of_the_visitor() -> None:
    request = SharedRequest("/regionen/zwickau?seite=2")
    assert request.url.path == "/regionen/zwickau" and request.query_params["seite"] == "2"
    assert not hasattr(request, "cookies") and not hasattr(request, "headers")
