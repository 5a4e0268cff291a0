"""Serving feeds: bytes built once per change, strong ETag, 304, gzip, HEAD.

The cache lives on the app (``app.state.feed_cache``). Its key is the region's newest
change (latest ``updated_at`` and item count: one small indexed query per request); the
bytes, their gzip form and the ETag are computed once per change. If-None-Match beats
If-Modified-Since (RFC 9110 §13.2.2); a 304 carries the same ETag, Cache-Control and Vary.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from fastapi import APIRouter, Request
from fastapi.responses import Response

from newsletter import feeds, metrics
from newsletter.context import Context
from newsletter.errors import NotFoundError
from newsletter.httpdates import format_http_date, parse_http_date
from newsletter.models import Item
from newsletter.store import items as item_store
from newsletter.store.db import transaction
from newsletter.web.rendering import context_of

router = APIRouter()


@dataclass(frozen=True)
class CachedFeed:
    version: tuple[datetime | None, int]
    body: bytes
    gzipped: bytes
    etag: str
    last_modified: datetime


class FeedCache:
    """Feed bytes per (feed, kind), rebuilt only when the feed's version changes."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], CachedFeed] = {}
        self._lock = threading.Lock()

    def get(self, ctx: Context, key: str, kind: str) -> CachedFeed:
        region = None if key in (feeds.SAXONY, "opml") else key
        with transaction(ctx.engine) as conn:
            version = item_store.newest_change(conn, region)
            cached = self._entries.get((key, kind))
            if cached is not None and cached.version == version:
                return cached
            items = (
                []
                if kind == "opml"
                else item_store.latest(conn, region, limit=ctx.config.feeds.max_items)
            )
        entry = _build(ctx, key, kind, items, version)
        with self._lock:
            self._entries[(key, kind)] = entry
        return entry


def _build(
    ctx: Context, key: str, kind: str, items: list[Item], version: tuple[datetime | None, int]
) -> CachedFeed:
    changed = version[0] or feeds.EMPTY_FEED_TIME
    if kind == "opml":
        body = feeds.render_opml(ctx.config, changed)
    else:
        region = None if key == feeds.SAXONY else ctx.config.region(key)
        info = feeds.feed_info(ctx.config, region)
        body = feeds.render(cast(feeds.FeedKind, kind), info, items, ctx.config, changed)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return CachedFeed(version, body, gzip.compress(body, 6, mtime=0), etag, changed)


def _cache(request: Request) -> FeedCache:
    state = request.app.state
    if not hasattr(state, "feed_cache"):
        state.feed_cache = FeedCache()
    return cast(FeedCache, state.feed_cache)


@router.api_route("/feeds.opml", methods=["GET", "HEAD"], include_in_schema=False)
def opml(request: Request) -> Response:
    """All feeds as OPML, for importing into a feed reader at once."""
    entry = _cache(request).get(context_of(request), "opml", "opml")
    return _respond(request, entry, feeds.MEDIA_TYPES["opml"])


@router.api_route("/feeds/{filename}", methods=["GET", "HEAD"], include_in_schema=False)
def feed(request: Request, filename: str) -> Response:
    """``/feeds/<region>.rss|.atom|.json`` and ``/feeds/sachsen.*``."""
    ctx = context_of(request)
    key, _, ext = filename.rpartition(".")
    valid = {feeds.SAXONY, *(r.key for r in ctx.config.region_list())}
    if key not in valid or ext not in feeds.EXTENSIONS:
        raise NotFoundError(_unknown_feed_message(ctx, filename))
    entry = _cache(request).get(ctx, key, ext)
    response = _respond(request, entry, feeds.MEDIA_TYPES[ext])
    metrics.count_feed_request(ext, response.status_code)
    if ctx.config.feeds.websub_hub:
        self_url = f"{ctx.config.site.base_url}/feeds/{filename}"
        response.headers["Link"] = (
            f'<{ctx.config.feeds.websub_hub}>; rel="hub", <{self_url}>; rel="self"'
        )
    return response


def _unknown_feed_message(ctx: Context, filename: str) -> str:
    names = ", ".join(
        f"/feeds/{key}.rss" for key in [feeds.SAXONY, *(r.key for r in ctx.config.region_list())]
    )
    return f"Den Feed »{filename}« gibt es nicht. Verfügbar sind: {names} (auch .atom und .json)."


def _respond(request: Request, entry: CachedFeed, media_type: str) -> Response:
    ctx = context_of(request)
    headers = {
        "ETag": entry.etag,
        "Last-Modified": format_http_date(entry.last_modified),
        "Cache-Control": f"public, max-age={ctx.config.feeds.cache_seconds}",
        "Vary": "Accept-Encoding",
    }
    if _not_modified(request, entry):
        return Response(status_code=304, headers=headers)
    body = entry.body
    if "gzip" in request.headers.get("accept-encoding", ""):
        body = entry.gzipped
        headers["Content-Encoding"] = "gzip"
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(body))
        return Response(status_code=200, headers=headers, media_type=media_type)
    return Response(body, headers=headers, media_type=media_type)


def _not_modified(request: Request, entry: CachedFeed) -> bool:
    """If-None-Match decides when present; else If-Modified-Since (second precision)."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or entry.etag in tags
    since = request.headers.get("if-modified-since")
    if not since:
        return False
    moment = parse_http_date(since)
    return moment is not None and entry.last_modified.replace(microsecond=0) <= moment
