"""Serving feeds: bytes built once per change, strong ETag, 304, gzip, HEAD.

The hot path is :class:`FeedsFirst`, an ASGI wrapper in front of the whole application:
a GET or HEAD of a known feed whose bytes are fresh in :class:`FeedCache` is answered
right there, before the framework's middleware and router. Measured gain: the server's
CPU time per cached feed request is 103 µs with it and 200 µs without (gzip 200), 97
against 160 µs (304) — ``newsletter serve`` with and without the wrapper, 3,000
keep-alive requests, median of three runs; a server answers about 1.7–1.9 times as many
feed requests. The invariant, that skipping the framework changes nothing a client sees,
is checked by ``tests/test_feeds_http.py::test_feeds_first_answers_byte_for_byte_what_the_framework_answers``.
Everything else (unknown feeds, a feed
that needs its store version checked, errors) goes through the application and its
plain ASGI route :class:`FeedEndpoint`. The cache lives on the app
(:class:`newsletter.web.state.WebState`). The cache asks the store for its version (newest
``updated_at`` and item count: two index-only aggregates) at most once per
``feeds.recheck_seconds`` per feed, and rebuilds a feed only when that version moved.
A rebuild giving the same bytes keeps its ETag and Last-Modified, so clients still get
304. Body, gzip body, ETag and the response headers are computed once per build.

If-None-Match beats If-Modified-Since (RFC 9110 §13.2.2); a 304 carries the same ETag,
Cache-Control and Vary as the 200 (RFC 9110 §15.4.5).
"""

from __future__ import annotations

import gzip
import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from newsletter import feeds, metrics
from newsletter.config import Config
from newsletter.context import Context
from newsletter.errors import NotFoundError
from newsletter.httpdates import format_http_date, parse_http_date
from newsletter.models import Item
from newsletter.store import items as item_store
from newsletter.store.db import transaction
from newsletter.web.state import state_of

Version = tuple[datetime | None, int]
Headers = list[tuple[bytes, bytes]]
OPML = ("opml", "opml")


@dataclass(frozen=True)
class CachedFeed:
    version: Version
    body: bytes
    gzipped: bytes
    etag: str
    last_modified: datetime
    plain_headers: Headers  # for a 200 without compression
    gzip_headers: Headers  # for a 200 with Content-Encoding: gzip
    not_modified_headers: Headers  # for a 304


class FeedCache:
    """Feed bytes per (feed, kind); the store's version is read at most once per
    ``recheck`` seconds per feed (``0``: on every request)."""

    def __init__(self, config: Config, clock: Callable[[], float] = time.monotonic) -> None:
        self.recheck = config.feeds.recheck_seconds
        self.targets = _targets(config)
        self._clock = clock
        self._entries: dict[tuple[str, str], tuple[CachedFeed, float]] = {}  # + checked at
        self._locks: dict[tuple[str, str], threading.Lock] = {
            target: threading.Lock() for target in self.targets.values()
        }

    def fresh(self, key: str, kind: str) -> CachedFeed | None:
        """The cached feed if its version was checked less than ``recheck`` seconds ago."""
        found = self._entries.get((key, kind))
        if found is None or self._clock() - found[1] >= self.recheck:
            return None
        return found[0]

    def get(self, ctx: Context, key: str, kind: str) -> CachedFeed:
        """Check the version, rebuild if it moved (blocking: call it in a thread)."""
        with self._locks[(key, kind)]:  # one check per feed at a time; the others reuse it
            entry = self.fresh(key, kind)
            if entry is None:
                started = self._clock()
                entry = self._load(ctx, key, kind)
                self._entries[(key, kind)] = (entry, started)
            return entry

    def _load(self, ctx: Context, key: str, kind: str) -> CachedFeed:
        previous = self._entries.get((key, kind), (None, 0.0))[0]
        with transaction(ctx.engine) as conn:
            version = item_store.version(conn)
            if previous is not None and previous.version == version:
                return previous
            items = _items_of(conn, ctx.config, key, kind)
        return build_entry(ctx.config, key, kind, items, version, previous)


def _targets(config: Config) -> dict[str, tuple[str, str]]:
    """``"zwickau.rss"`` -> ``("zwickau", "rss")`` for every feed; the OPML file too."""
    names = {
        f"{info.key}.{kind}": (info.key, kind)
        for info in feeds.all_feeds(config)
        for kind in feeds.EXTENSIONS
    }
    return names | {"feeds.opml": OPML}


def _items_of(conn: Any, config: Config, key: str, kind: str) -> list[Item]:
    if kind == "opml":
        return []
    region = None if key == feeds.SAXONY else key
    return item_store.latest(conn, region, limit=config.feeds.max_items)


def build_entry(
    config: Config,
    key: str,
    kind: str,
    items: list[Item],
    version: Version,
    previous: CachedFeed | None,
) -> CachedFeed:
    """Bytes, gzip, ETag and headers. Same bytes as before: the previous ETag and
    Last-Modified stay. New bytes: Last-Modified is the store's newest change, and always
    later than the previous one (HTTP dates have whole seconds)."""
    body = feeds.feed_body(config, key, kind, items)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    if previous is not None and previous.etag == etag:
        return replace(previous, version=version)
    modified = (version[0] or feeds.EMPTY_FEED_TIME).replace(microsecond=0)
    if previous is not None:
        modified = max(modified, previous.last_modified + timedelta(seconds=1))
    common = _common_headers(config, key, kind, etag, modified)
    typed = [*common, (b"content-type", feeds.MEDIA_TYPES[kind].encode())]
    gzipped = gzip.compress(body, 6, mtime=0)
    return CachedFeed(
        version,
        body,
        gzipped,
        etag,
        modified,
        [*typed, (b"content-length", str(len(body)).encode())],
        [*typed, (b"content-encoding", b"gzip"), (b"content-length", str(len(gzipped)).encode())],
        common,
    )


def _common_headers(config: Config, key: str, kind: str, etag: str, modified: datetime) -> Headers:
    """What a 200 and a 304 share: validators, caching, Vary and the WebSub links."""
    headers = [
        (b"etag", etag.encode()),
        (b"last-modified", format_http_date(modified).encode()),
        (b"cache-control", f"public, max-age={config.feeds.cache_seconds}".encode()),
        (b"vary", b"Accept-Encoding"),
    ]
    if config.feeds.websub_hub and kind != "opml":
        self_url = f"{config.site.base_url}/feeds/{key}.{kind}"
        link = f'<{config.feeds.websub_hub}>; rel="hub", <{self_url}>; rel="self"'
        headers.append((b"link", link.encode()))
    return headers


class FeedEndpoint:
    """The ASGI endpoint of ``/feeds/{filename}`` and ``/feeds.opml`` (GET and HEAD)."""

    def __init__(self, filename: str | None = None) -> None:
        self.filename = filename  # fixed for /feeds.opml; else from the path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = state_of(scope["app"])
        ctx, cache = state.context, state.feed_cache
        filename = self.filename or scope["path_params"]["filename"]
        target = cache.targets.get(filename)
        if target is None:
            raise NotFoundError(unknown_feed_message(ctx.config, filename))
        entry = cache.fresh(*target)
        if entry is None:
            entry = await run_in_threadpool(cache.get, ctx, *target)
        await send_feed(entry, target, state.feed_requests, scope, send)


class FeedsFirst:
    """ASGI wrapper: fresh cached feeds are answered before ``app`` sees the request."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.state = state_of(app)
        self.cache = self.state.feed_cache
        self.paths = {_path_of(name): target for name, target in self.cache.targets.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in GET_HEAD:
            target = self.paths.get(scope["path"])
            entry = None if target is None else self.cache.fresh(*target)
            if entry is not None and target is not None:
                await send_feed(entry, target, self.state.feed_requests, scope, send)
                return
        await self.app(scope, receive, send)


def _path_of(filename: str) -> str:
    return "/feeds.opml" if filename == "feeds.opml" else f"/feeds/{filename}"


async def send_feed(
    entry: CachedFeed,
    target: tuple[str, str],
    counts: metrics.FeedRequests,
    scope: Scope,
    send: Send,
) -> None:
    status, headers, body = respond(entry, scope)
    if target != OPML:
        counts.count(target[1], status)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def respond(entry: CachedFeed, scope: Scope) -> tuple[int, Headers, bytes]:
    """Status, headers and body for this request's validators and Accept-Encoding."""
    if_none_match, if_modified_since, accept_encoding = _request_headers(scope)
    if not_modified(entry, if_none_match, if_modified_since):
        return 304, entry.not_modified_headers, b""
    zipped = accepts_gzip(accept_encoding)
    headers = entry.gzip_headers if zipped else entry.plain_headers
    if scope["method"] == "HEAD":
        return 200, headers, b""
    return 200, headers, entry.gzipped if zipped else entry.body


def _request_headers(scope: Scope) -> tuple[str | None, str | None, str]:
    """If-None-Match, If-Modified-Since and Accept-Encoding (repeated lines joined)."""
    found: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        if name in (b"if-none-match", b"if-modified-since", b"accept-encoding"):
            text = value.decode("latin-1")
            found[name] = f"{found[name]}, {text}" if name in found else text
    return (
        found.get(b"if-none-match"),
        found.get(b"if-modified-since"),
        found.get(b"accept-encoding", ""),
    )


def not_modified(
    entry: CachedFeed, if_none_match: str | None, if_modified_since: str | None
) -> bool:
    """If-None-Match decides when present (weak comparison); else If-Modified-Since."""
    if if_none_match is not None:
        if if_none_match == entry.etag:  # what readers send back, nearly always
            return True
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or entry.etag in tags
    if not if_modified_since:
        return False
    moment = parse_http_date(if_modified_since)
    return moment is not None and entry.last_modified <= moment


@lru_cache(maxsize=256)
def accepts_gzip(accept_encoding: str) -> bool:
    """RFC 9110 §12.5.3: ``gzip`` (or ``*``) listed with a q-value above 0."""
    weights: dict[str, float] = {}
    for part in accept_encoding.lower().split(","):
        coding, _, params = part.partition(";")
        weights[coding.strip()] = _q_value(params)
    return weights.get("gzip", weights.get("x-gzip", weights.get("*", 0.0))) > 0


def _q_value(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def unknown_feed_message(config: Config, filename: str) -> str:
    names = ", ".join(f"/feeds/{info.key}.rss" for info in feeds.all_feeds(config))
    return (
        f"Den Feed »{filename}« gibt es nicht. Verfügbar sind: {names} (jeweils auch .atom "
        "und .json) und /feeds.opml mit allen Feeds."
    )


GET_HEAD = ("GET", "HEAD")
router = APIRouter()
router.routes.extend(
    [
        Route(
            "/feeds.opml",
            FeedEndpoint("feeds.opml"),
            methods=list(GET_HEAD),
            include_in_schema=False,
        ),
        Route("/feeds/{filename}", FeedEndpoint(), methods=list(GET_HEAD), include_in_schema=False),
    ]
)
