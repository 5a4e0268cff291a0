"""Public pages at feed speed: rendered once per store version, answered in front of the app.

The start page, the region pages and the item pages are the same for every visitor: no
CSRF token (their templates have no form; :func:`newsletter.web.rendering.render_shared`
fails if one writes a token), no cookie. :class:`PageCache` keeps each page's bytes (and
gzip, validators, headers: :mod:`newsletter.web.conditional`) under its canonical address
(path plus the canonical query, see :mod:`newsletter.web.paging`), made for one store
version (newest ``updated_at`` and number of items, as for the feeds). The version is read
at most once per ``feeds.recheck_seconds``; a page is rendered again only when it moved.
Every write to the items moves it (insert, edit, hiding, new regions), so a cached page
is at most ``recheck_seconds`` behind the store.

The hot path is :class:`PagesFirst`, an ASGI wrapper in front of the application (behind
:class:`newsletter.web.feeds.FeedsFirst`, as feeds are asked for most): a GET or HEAD whose path and query are a fresh
page's address is answered right there. Measured gain (``bench/bench_pages.py``, 10,000
items, wrk -t1 -c8, in requests per CPU second of the server, which stays put while other
processes share the two cores): ``/regionen/zwickau`` 31,000–41,000 answered here, 3,400–
3,900 through the framework from the same cache (another spelling of its query), 100–250
when rendered on every request as before (4–10 ms); 0.82–0.98 of the feed's rate. The
invariant, that answering in front of the framework changes nothing a client sees, is
checked by
``tests/test_pages_cache.py::test_pages_first_answers_byte_for_byte_what_the_framework_answers``.

Memory is bounded: at most :data:`MAX_PAGES` pages and :data:`MAX_BYTES` bytes of bodies,
least recently used out first.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import Connection, Engine
from starlette.types import Receive, Scope, Send

from newsletter.config import Config
from newsletter.httpdates import format_http_date
from newsletter.store import archive as archive_store
from newsletter.store import items as item_store
from newsletter.store.db import transaction
from newsletter.web.conditional import CachedBody, Headers, Version, build_body, respond, send_body
from newsletter.web.rendering import SECURITY_HEADERS, render_shared
from newsletter.web.state import state_of

MAX_PAGES = 500  # a page is 4–20 KB with its gzip form: a few MB at most
MAX_BYTES = 6 * 1024 * 1024
PAGE_MAX_AGE = 60  # seconds a browser or proxy may keep a page without asking again
CONTENT_TYPE = "text/html; charset=utf-8"
EMPTY_STORE_TIME = datetime(2026, 1, 1, tzinfo=UTC)  # Last-Modified while no item exists
_STRIPES = 16  # locks by key: one render per page at a time, the others wait and reuse it

Build = Callable[[Connection, Version], tuple[str, dict[str, Any]]]  # -> template, values


class PageCache:
    """Rendered pages by address, each for one store version; bounded, LRU."""

    def __init__(
        self,
        config: Config,
        clock: Callable[[], float] = time.monotonic,
        *,
        max_pages: int = MAX_PAGES,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        self.config = config
        self.recheck = config.feeds.recheck_seconds
        self.max_pages, self.max_bytes = max_pages, max_bytes
        self._clock = clock
        self._seen: tuple[Version, float] | None = None  # the store's version, read at
        self._pages: OrderedDict[str, CachedBody] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()  # guards _pages and _bytes on writes
        self._stripes = [threading.Lock() for _ in range(_STRIPES)]
        self._totals: tuple[Version, dict[str, int]] | None = None

    def fresh(self, key: str) -> CachedBody | None:
        """The page at ``key`` if it was made for the version read less than ``recheck``
        seconds ago (no I/O: the event loop calls it)."""
        seen, page = self._seen, self._pages.get(key)
        if page is None or seen is None or page.version != seen[0]:
            return None
        if self._clock() - seen[1] >= self.recheck:
            return None
        with contextlib.suppress(KeyError):  # dropped by another thread meanwhile
            self._pages.move_to_end(key)
        return page

    def get(self, engine: Engine, key: str, build: Build) -> CachedBody:
        """The page at ``key`` for the store's current version, rendered with ``build`` if
        it moved (blocking: call it in a thread). An error of ``build`` (a 404) caches
        nothing."""
        with self._stripes[hash(key) % _STRIPES]:
            page = self.fresh(key)
            if page is not None:
                return page
            started = self._clock()
            with transaction(engine) as conn:
                version = archive_store.public_version(conn)
                self._seen = (version, started)
                previous = self._pages.get(key)
                if previous is not None and previous.version == version:
                    return previous
                template, values = build(conn, version)
            page = self._entry(key, template, values, version, previous)
            self._put(key, page)
            return page

    def region_totals(self, conn: Connection, version: Version) -> dict[str, int]:
        """Visible items per region for ``version``: counted once per version."""
        known = self._totals
        if known is not None and known[0] == version:
            return known[1]
        keys = [region.key for region in self.config.region_list()]
        totals = item_store.region_totals(conn, keys)
        self._totals = (version, totals)
        return totals

    def stats(self) -> tuple[int, int]:
        """Pages held and their bytes."""
        return len(self._pages), self._bytes

    def _entry(
        self,
        key: str,
        template: str,
        values: dict[str, Any],
        version: Version,
        previous: CachedBody | None,
    ) -> CachedBody:
        return build_body(
            render_shared(self.config, template, values, address=key).encode(),
            content_type=CONTENT_TYPE,
            version=version,
            fallback_time=EMPTY_STORE_TIME,
            previous=previous,
            common=lambda etag, modified: [
                (b"etag", etag.encode()),
                (b"last-modified", format_http_date(modified).encode()),
                *CACHING,
            ],
            full_only=SECURITY,
        )

    def _put(self, key: str, page: CachedBody) -> None:
        with self._lock:
            old = self._pages.pop(key, None)
            self._bytes += page.size - (old.size if old is not None else 0)
            self._pages[key] = page
            while self._pages and (
                len(self._pages) > self.max_pages or self._bytes > self.max_bytes
            ):
                _, dropped = self._pages.popitem(last=False)
                self._bytes -= dropped.size


CACHING: Headers = [
    (b"cache-control", f"public, max-age={PAGE_MAX_AGE}".encode()),
    (b"vary", b"Accept-Encoding"),
]
SECURITY: Headers = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]


def cached_page(request: Request, key: str, build: Build) -> Response:
    """Answer ``request`` with the cached page at ``key`` (rendered by ``build`` when the
    store moved): 200 with or without gzip, 304 on a matching validator, HEAD."""
    state = state_of(request.app)
    page = state.page_cache.get(state.context.engine, key, build)
    status, headers, body = respond(page, request.scope)
    response = Response(body, status_code=status)
    response.raw_headers = list(headers)
    return response


class PagesFirst:
    """ASGI wrapper: fresh cached pages are answered before ``app`` sees the request."""

    def __init__(self, app: Any, cache: PageCache) -> None:
        self.app = app
        self.cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            query = scope["query_string"]
            key = f"{scope['path']}?{query.decode('latin-1')}" if query else scope["path"]
            page = self.cache.fresh(key)
            if page is not None:
                await send_body(page, scope, send)
                return
        await self.app(scope, receive, send)
