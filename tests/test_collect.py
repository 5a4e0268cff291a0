"""Collect end to end: a real HTTP server on loopback, the real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import gzip
import socket
import time
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from newsletter import __version__, curation
from newsletter.collect import CollectSummary, collect_all
from newsletter.config import Config
from newsletter.context import Context
from newsletter.curation import reclassify_all
from newsletter.models import Item, Source
from newsletter.store import items as item_store
from newsletter.store import runs
from newsletter.store import sources as source_store
from newsletter.store.db import transaction, utcnow

FEEDS = Path(__file__).parent / "data" / "feeds"
RSS = "application/rss+xml; charset=utf-8"


def _rss(*items: tuple[str, str, str], extra: str = "") -> bytes:
    """A small RSS 2.0 feed: (guid, title, link) per item."""
    body = "".join(
        f"<item><guid isPermaLink='false'>{g}</guid><title>{t}</title><link>{link}</link>"
        f"<pubDate>Mon, 23 Nov 2026 10:00:00 +0100</pubDate>{extra}</item>"
        for g, t, link in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        f"<link>https://e.org/</link><description>d</description>{body}</channel></rss>"
    ).encode()


def _add(ctx: Context, name: str, url: str, kind: str = "feed", **extra: str | None) -> Source:
    options = {"allow_private": "true"} | {k: v for k, v in extra.items() if k != "region" and v}
    with transaction(ctx.engine) as conn:
        return source_store.add(
            conn, name=name, kind=kind, location=url, region=extra.get("region"), options=options
        )


def _source(ctx: Context, name: str) -> Source:
    with transaction(ctx.engine) as conn:
        return source_store.by_name(conn, name)


def _items(ctx: Context) -> list[Item]:
    with transaction(ctx.engine) as conn:
        return item_store.search(conn, limit=1000)


def _report(summary: CollectSummary, name: str) -> object:
    return next(r for r in summary.reports if r.source == name)


def _hits(server: HTTPServer, path: str) -> int:
    return sum(request.path == path for request, _ in server.log)


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- conditional GET, redirects, statuses ------------------------------------------


def test_etag_is_sent_back_and_304_parses_nothing(db_ctx: Context, httpserver: HTTPServer) -> None:
    seen: list[dict[str, str]] = []

    def handler(request: Request) -> Response:
        seen.append(dict(request.headers))
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(status=304, headers={"ETag": '"v1"'})
        return Response(_rss(("a", "Erste Meldung aus Leipzig", "https://e.org/a")), 200,
                        {"ETag": '"v1"', "Last-Modified": "Mon, 23 Nov 2026 09:00:00 GMT"},
                        content_type=RSS)  # fmt: skip

    httpserver.expect_request("/feed.xml").respond_with_handler(handler)
    _add(db_ctx, "Polizei", httpserver.url_for("/feed.xml"))
    first = collect_all(db_ctx)
    second = collect_all(db_ctx)
    assert (first.new, second.new) == (1, 0)
    assert _report(second, "Polizei").status == "not_modified"  # type: ignore[attr-defined]
    assert seen[1]["If-None-Match"] == '"v1"'
    assert seen[1]["If-Modified-Since"] == "Mon, 23 Nov 2026 09:00:00 GMT"
    assert seen[0]["User-Agent"] == (
        f"newsletter/{__version__} (+http://127.0.0.1:8000; praevention@example.org)"
    )
    assert _source(db_ctx, "Polizei").last_status == "not_modified"


def test_301_stores_the_new_url(db_ctx: Context, httpserver: HTTPServer) -> None:
    new_url = httpserver.url_for("/neu.xml")
    httpserver.expect_request("/alt.xml").respond_with_data("", 301, {"Location": "/neu.xml"})
    httpserver.expect_request("/neu.xml").respond_with_data(
        _rss(("a", "Umgezogener Feed aus Torgau", "https://e.org/a")), content_type=RSS
    )
    _add(db_ctx, "Umzug", httpserver.url_for("/alt.xml"))
    assert collect_all(db_ctx).new == 1
    assert _source(db_ctx, "Umzug").location == new_url


def test_302_is_followed_but_the_old_url_kept(db_ctx: Context, httpserver: HTTPServer) -> None:
    old_url = httpserver.url_for("/alt.xml")
    httpserver.expect_request("/alt.xml").respond_with_data("", 302, {"Location": "/tmp.xml"})
    httpserver.expect_request("/tmp.xml").respond_with_data(
        _rss(("a", "Vorübergehend woanders", "https://e.org/a")), content_type=RSS
    )
    _add(db_ctx, "Temporär", old_url)
    assert collect_all(db_ctx).new == 1
    assert _source(db_ctx, "Temporär").location == old_url


def test_redirect_loop_is_an_error(db_ctx: Context, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/loop").respond_with_data("", 302, {"Location": "/loop"})
    _add(db_ctx, "Schleife", httpserver.url_for("/loop"))
    collect_all(db_ctx)
    assert "Zu viele Weiterleitungen" in (_source(db_ctx, "Schleife").last_error or "")


def test_410_disables_the_source(db_ctx: Context, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/weg.xml").respond_with_data("", 410)
    _add(db_ctx, "Weg", httpserver.url_for("/weg.xml"))
    summary = collect_all(db_ctx)
    source = _source(db_ctx, "Weg")
    assert _report(summary, "Weg").status == "disabled"  # type: ignore[attr-defined]
    assert (source.enabled, source.last_status) == (False, "disabled")
    assert "410" in (source.last_error or "")
    assert collect_all(db_ctx).reports == ()  # not fetched again


def test_429_with_retry_after_waits(db_ctx: Context, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/voll.xml").respond_with_data("", 429, {"Retry-After": "120"})
    _add(db_ctx, "Voll", httpserver.url_for("/voll.xml"))
    before = utcnow()
    collect_all(db_ctx)
    source = _source(db_ctx, "Voll")
    assert source.retry_after is not None
    assert timedelta(seconds=110) < source.retry_after - before < timedelta(seconds=130)
    assert source.last_status == "error" and source.error_count == 1
    again = collect_all(db_ctx)
    assert _report(again, "Voll").status == "waiting"  # type: ignore[attr-defined]
    assert _hits(httpserver, "/voll.xml") == 1  # not asked again before Retry-After


def test_503_without_retry_after_backs_off(db_ctx: Context, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/busy.xml").respond_with_data("", 503)
    _add(db_ctx, "Busy", httpserver.url_for("/busy.xml"))
    collect_all(db_ctx)
    source = _source(db_ctx, "Busy")
    assert source.retry_after is not None and source.retry_after > utcnow()


def test_500_is_stored_counted_and_retried_next_run(
    db_ctx: Context, httpserver: HTTPServer
) -> None:
    answers = iter([Response("kaputt", 500), Response("kaputt", 500)])

    def handler(_request: Request) -> Response:
        return next(answers, None) or Response(
            _rss(("a", "Wieder erreichbar in Plauen", "https://e.org/a")), content_type=RSS
        )

    httpserver.expect_request("/f.xml").respond_with_handler(handler)
    _add(db_ctx, "Wackel", httpserver.url_for("/f.xml"))
    collect_all(db_ctx)
    collect_all(db_ctx)
    failing = _source(db_ctx, "Wackel")
    assert (failing.last_status, failing.error_count) == ("error", 2)
    assert failing.last_error == "Server antwortet mit HTTP 500"
    assert failing.retry_after is None
    assert collect_all(db_ctx).new == 1
    healed = _source(db_ctx, "Wackel")
    assert (healed.last_status, healed.error_count, healed.last_error) == ("ok", 0, None)


def test_unreachable_host_and_malformed_feed_do_not_stop_others(
    db_ctx: Context, httpserver: HTTPServer, closed_port: int
) -> None:
    httpserver.expect_request("/kaputt.xml").respond_with_data(
        (FEEDS / "malformed.xml").read_bytes(), content_type=RSS
    )
    httpserver.expect_request("/gut.xml").respond_with_data(
        _rss(("a", "Gute Meldung aus Bautzen", "https://e.org/a")), content_type=RSS
    )
    _add(db_ctx, "Tot", f"http://127.0.0.1:{closed_port}/feed.xml")
    _add(db_ctx, "Kaputt", httpserver.url_for("/kaputt.xml"))
    _add(db_ctx, "Gut", httpserver.url_for("/gut.xml"))
    summary = collect_all(db_ctx)
    assert summary.new == 1 and summary.failed == 2 and not summary.all_failed
    assert "Verbindung fehlgeschlagen" in (_source(db_ctx, "Tot").last_error or "")
    assert "kein wohlgeformtes XML" in (_source(db_ctx, "Kaputt").last_error or "")
    assert _source(db_ctx, "Kaputt").error_count == 1
    assert [i.title for i in _items(db_ctx)] == ["Gute Meldung aus Bautzen"]


def _big(total: int) -> Iterator[bytes]:
    chunk = b"<!-- " + b"x" * 65_000 + b" -->\n"
    yield b'<?xml version="1.0"?><rss version="2.0"><channel>'
    for _ in range(total // len(chunk)):
        yield chunk


def test_50_mb_response_is_cut_at_the_limit(db_ctx: Context, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/riesig.xml").respond_with_handler(
        lambda _r: Response(_big(50_000_000), content_type=RSS)
    )
    _add(db_ctx, "Riesig", httpserver.url_for("/riesig.xml"))
    tracemalloc.start()
    started = time.perf_counter()
    collect_all(db_ctx)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    error = _source(db_ctx, "Riesig").last_error or ""
    assert error == "Antwort größer als die erlaubten 10,0 MB – Abruf abgebrochen"
    assert peak < 3 * db_ctx.config.fetch.max_bytes
    assert time.perf_counter() - started < 30


def test_gzip_bomb_is_cut_after_decompression(db_ctx: Context, httpserver: HTTPServer) -> None:
    packed = gzip.compress(b"<rss>" + b" " * 50_000_000, compresslevel=9)
    assert len(packed) < 200_000
    httpserver.expect_request("/bombe.xml").respond_with_data(
        packed, headers={"Content-Encoding": "gzip"}, content_type=RSS
    )
    _add(db_ctx, "Bombe", httpserver.url_for("/bombe.xml"))
    collect_all(db_ctx)
    assert "größer als die erlaubten" in (_source(db_ctx, "Bombe").last_error or "")


def test_timeout_is_an_error(make_config: Callable[..., Config], httpserver: HTTPServer) -> None:
    def slow(_request: Request) -> Response:
        time.sleep(1.0)
        return Response(_rss(("a", "Zu spät", "https://e.org/a")), content_type=RSS)

    httpserver.expect_request("/slow.xml").respond_with_handler(slow)
    url = httpserver.url_for("/slow.xml")
    config = make_config(
        fetch={"timeout_seconds": 0.2, "allow_private_hosts": True},
        sources=[{"name": "Langsam", "kind": "feed", "url": url}],
    )
    ctx = Context(config)
    ctx.init_db()
    try:
        collect_all(ctx)
        assert _source(ctx, "Langsam").last_error == "Zeitüberschreitung nach 0.2 s"
    finally:
        ctx.close()


def test_private_targets_are_refused_unless_allowed(
    make_config: Callable[..., Config], httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/intern.xml").respond_with_data(
        _rss(("a", "Intern", "https://e.org/a")), content_type=RSS
    )
    url = httpserver.url_for("/intern.xml")
    config = make_config(
        sources=[
            {"name": "Intern", "kind": "feed", "url": url},
            {"name": "Erlaubt", "kind": "feed", "url": url, "allow_private": True},
            {"name": "Datei", "kind": "feed", "url": "http://localhost:1/x"},
        ]
    )
    ctx = Context(config)
    ctx.init_db()
    try:
        summary = collect_all(ctx)
        assert "private oder lokale Adresse" in (_source(ctx, "Intern").last_error or "")
        assert "private oder lokale Adresse" in (_source(ctx, "Datei").last_error or "")
        assert _source(ctx, "Erlaubt").last_status == "ok"
        assert _hits(httpserver, "/intern.xml") == 1 and summary.new == 1
    finally:
        ctx.close()


def test_config_sync_keeps_301_target_and_410_state(
    make_config: Callable[..., Config], httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/alt.xml").respond_with_data("", 308, {"Location": "/neu.xml"})
    httpserver.expect_request("/neu.xml").respond_with_data("", 410)
    old = httpserver.url_for("/alt.xml")
    config = make_config(
        fetch={"allow_private_hosts": True},
        sources=[{"name": "Feed", "kind": "feed", "url": old}],
    )
    ctx = Context(config)
    ctx.init_db()
    try:
        collect_all(ctx)
        ctx.init_db()  # a restart syncs config.toml again
        source = _source(ctx, "Feed")
        assert source.enabled is False and source.last_status == "disabled"
    finally:
        ctx.close()


# --- items: new, changed, duplicates, regions ---------------------------------------


def test_collect_twice_stores_nothing_new(db_ctx: Context, httpserver: HTTPServer) -> None:
    body = _rss(
        ("a", "Enkeltrick in Leipzig", "https://e.org/a"),
        ("b", "Einbruch in Pirna", "https://e.org/b"),
    )
    httpserver.expect_request("/f.xml").respond_with_data(body, content_type=RSS)
    _add(db_ctx, "Ohne ETag", httpserver.url_for("/f.xml"))
    first, second = collect_all(db_ctx), collect_all(db_ctx)
    assert (first.new, second.new, second.changed) == (2, 0, 0)
    assert _report(second, "Ohne ETag").unchanged == 2  # type: ignore[attr-defined]
    assert len(_items(db_ctx)) == 2


def test_changed_item_is_updated_and_keeps_override(
    db_ctx: Context, httpserver: HTTPServer
) -> None:
    bodies = iter([
        _rss(("a", "Einbruchschutz in Chemnitz", "https://e.org/a")),
        _rss(("a", "Einbruchschutz in Chemnitz – neue Termine", "https://e.org/a")),
    ])  # fmt: skip
    httpserver.expect_request("/f.xml").respond_with_handler(
        lambda _r: Response(next(bodies), content_type=RSS)
    )
    _add(db_ctx, "Stadt", httpserver.url_for("/f.xml"))
    collect_all(db_ctx)
    [item] = _items(db_ctx)
    with transaction(db_ctx.engine) as conn:
        curation.set_regions(conn, item.id, override=("dresden",))
    summary = collect_all(db_ctx)
    [updated] = _items(db_ctx)
    assert summary.changed == 1 and updated.id == item.id
    assert updated.title == "Einbruchschutz in Chemnitz – neue Termine"
    assert updated.region_override == ("dresden",) and updated.regions == ("dresden",)
    assert updated.classified_regions == ("chemnitz",)
    assert updated.collected_at == item.collected_at


def test_same_story_from_two_sources_is_stored_once(
    db_ctx: Context, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/eins.xml").respond_with_data(
        _rss(
            (
                "x1",
                "Falsche Polizisten rufen in Görlitz an",
                "https://news.example.org/p/1?utm_source=a",
            )
        ),
        content_type=RSS,
    )
    httpserver.expect_request("/zwei.xml").respond_with_data(
        _rss(
            ("y1", "Falsche Polizisten rufen in Görlitz an", "https://news.example.org/p/1/#top"),
            ("y2", "Falsche Polizisten rufen in GÖRLITZ an!", "https://other.example.org/p/9"),
        ),
        content_type=RSS,
    )
    _add(db_ctx, "Eins", httpserver.url_for("/eins.xml"))
    collect_all(db_ctx)
    _add(db_ctx, "Zwei", httpserver.url_for("/zwei.xml"))
    summary = collect_all(db_ctx)
    assert len(_items(db_ctx)) == 1
    assert _report(summary, "Zwei").duplicates == 2  # type: ignore[attr-defined]


def test_missing_dates_use_fetch_time_and_stay(db_ctx: Context, httpserver: HTTPServer) -> None:
    body = (
        b'<rss version="2.0"><channel><title>t</title><item><title>Ohne Datum aus Zwickau</title>'
        b"<link>https://e.org/u</link></item></channel></rss>"
    )
    httpserver.expect_request("/f.xml").respond_with_data(body, content_type=RSS)
    _add(db_ctx, "Undatiert", httpserver.url_for("/f.xml"))
    before = utcnow()
    collect_all(db_ctx)
    [item] = _items(db_ctx)
    assert item.published_estimated is True
    assert before - timedelta(seconds=1) <= item.published_at <= utcnow()
    second = collect_all(db_ctx)
    assert (second.new, second.changed) == (0, 0)
    assert _items(db_ctx)[0].published_at == item.published_at


def test_fixed_region_adds_to_named_regions(db_ctx: Context, httpserver: HTTPServer) -> None:
    body = _rss(
        ("a", "Präventionsrat tagt in Bautzen", "https://e.org/a"),
        ("b", "Tipps gegen Trickbetrug für alle", "https://e.org/b"),
    )
    httpserver.expect_request("/f.xml").respond_with_data(body, content_type=RSS)
    _add(db_ctx, "Dresden-Feed", httpserver.url_for("/f.xml"), region="dresden")
    collect_all(db_ctx)
    regions = {i.title: i.regions for i in _items(db_ctx)}
    assert regions == {
        "Präventionsrat tagt in Bautzen": ("dresden", "ostsachsen"),
        "Tipps gegen Trickbetrug für alle": ("dresden",),  # never statewide
    }
    assert reclassify_all(db_ctx) == (2, 0)


def test_hostile_html_is_stored_clean(db_ctx: Context, httpserver: HTTPServer) -> None:
    extra = (
        "<description><![CDATA[<p onclick='x()'>Hallo <a href='javascript:alert(1)'>a</a>"
        " <a href='/rel/pfad'>b</a><script>alert(1)</script></p>]]></description>"
    )
    body = _rss(("a", "Sauber in Meißen", "https://www.example.org/news/a.html"), extra=extra)
    httpserver.expect_request("/f.xml").respond_with_data(body, content_type=RSS)
    _add(db_ctx, "Böse", httpserver.url_for("/f.xml"))
    collect_all(db_ctx)
    [item] = _items(db_ctx)
    assert item.summary_html == (
        '<p>Hallo <a rel="noopener noreferrer">a</a> '
        '<a href="https://www.example.org/rel/pfad" rel="noopener noreferrer">b</a></p>'
    )


def test_collect_is_recorded_as_a_job_run(db_ctx: Context) -> None:
    collect_all(db_ctx)
    with transaction(db_ctx.engine) as conn:
        assert runs.last_finished(conn, "collect") is not None


def test_folder_source_collects_sample_news_once(db_ctx: Context) -> None:
    news = Path(__file__).resolve().parent.parent / "news"
    _add(db_ctx, "Redaktion", str(news), kind="folder")
    first, second = collect_all(db_ctx), collect_all(db_ctx)
    assert first.new >= 15 and second.new == 0
    assert _report(second, "Redaktion").status == "not_modified"  # type: ignore[attr-defined]
    items = _items(db_ctx)
    covered = {r for i in items for r in i.regions}
    assert covered == {"leipzig-nordsachsen", "chemnitz", "ostsachsen", "zwickau", "dresden"}
    assert any(i.statewide for i in items)


def test_broken_folder_file_is_reported_and_others_stored(db_ctx: Context, tmp_path: Path) -> None:
    folder = tmp_path / "meldungen"
    folder.mkdir()
    (folder / "gut.md").write_text(
        '+++\ntitle = "Gute Meldung aus Freiberg"\n+++\nText', encoding="utf-8"
    )
    (folder / "kaputt.md").write_text("ohne Kopf", encoding="utf-8")
    _add(db_ctx, "Ordner", str(folder), kind="folder")
    summary = collect_all(db_ctx)
    source = _source(db_ctx, "Ordner")
    assert summary.new == 1 and not summary.all_failed
    assert source.last_status == "error"
    assert "kaputt.md: Kopfbereich fehlt" in (source.last_error or "")


def test_every_source_failing_is_all_failed(db_ctx: Context, closed_port: int) -> None:
    _add(db_ctx, "Tot", f"http://127.0.0.1:{closed_port}/x")
    assert collect_all(db_ctx).all_failed


def test_page_source_end_to_end(db_ctx: Context, httpserver: HTTPServer) -> None:
    page = (Path(__file__).parent / "data" / "pages" / "listing.html").read_bytes()
    httpserver.expect_request("/aktuelles/").respond_with_data(page, content_type="text/html")
    selectors = {"item": "article.news", "title": ".news-title", "link": ".news-title",
                 "date": ".news-date", "teaser": ".teaser"}  # fmt: skip
    url = httpserver.url_for("/aktuelles/")
    with transaction(db_ctx.engine) as conn:
        source_store.add(
            conn, name="Freiberg", kind="page", location=url,
            options=selectors | {"allow_private": "true"},
        )  # fmt: skip
    summary = collect_all(db_ctx)
    items = {i.title: i for i in _items(db_ctx)}
    assert summary.new == 4
    first = items["Einbruchschutz: Beratung im Rathaus Freiberg"]
    assert first.url == url + "einbruchschutz.html"
    assert first.regions == ("chemnitz",)
    assert items["Sprechzeiten des Ordnungsamts"].published_estimated


# --- the in-memory twin and the pure decisions --------------------------------------


def test_memory_fetcher_drives_collect(db_ctx: Context) -> None:
    from newsletter.errors import FetchError
    from newsletter.sources import FetchResponse, MemoryFetcher

    ok = FetchResponse("https://a.example.org/f", 200,
                       _rss(("a", "Enkeltrick in Leipzig", "https://a.example.org/1")),
                       {"content-type": RSS, "etag": '"1"'})  # fmt: skip
    fetcher = MemoryFetcher(
        {
            "https://a.example.org/f": ok,
            "https://b.example.org/f": FetchError(
                "Server antwortet mit HTTP 500", url="b", status=500
            ),
        }
    )
    _add(db_ctx, "A", "https://a.example.org/f")
    _add(db_ctx, "B", "https://b.example.org/f")
    first = collect_all(db_ctx, fetcher=fetcher)
    second = collect_all(db_ctx, fetcher=fetcher)
    assert (first.new, first.failed, second.new) == (1, 1, 0)
    assert _report(second, "A").status == "not_modified"  # type: ignore[attr-defined]
    assert [r.etag for r in fetcher.requests if r.url.startswith("https://a.")] == [None, '"1"']


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("120", 120.0), (" 7 ", 7.0), ("Wed, 25 Nov 2026 12:02:00 GMT", 120.0),
     ("Wed, 25 Nov 2026 11:00:00 GMT", 0.0), ("bald", None), (None, None)],
)  # fmt: skip
def test_retry_after_as_seconds_or_date(value: str | None, seconds: float | None) -> None:
    from datetime import UTC, datetime

    from newsletter.sources.http import parse_retry_after

    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert parse_retry_after(value, now) == seconds


def test_backoff_doubles_up_to_six_hours() -> None:
    from newsletter.collect import source_backoff as backoff

    assert [backoff(n).total_seconds() for n in (0, 1, 2)] == [60, 120, 240]
    assert backoff(50) == timedelta(hours=6)
