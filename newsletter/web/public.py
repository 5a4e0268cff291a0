"""Public pages: start page, region and item pages (cached per store version), legal pages,
health."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import Connection

from newsletter.config import Config
from newsletter.errors import NotFoundError
from newsletter.models import Item
from newsletter.regionmap import region_map
from newsletter.store import items as item_store
from newsletter.store import runs
from newsletter.store.db import check_ready, transaction
from newsletter.teasers import teaser
from newsletter.web import paging
from newsletter.web.conditional import Version
from newsletter.web.pages import cached_page
from newsletter.web.params import PageNumber
from newsletter.web.rendering import context_of, render
from newsletter.web.state import state_of

router = APIRouter()


@router.api_route(
    "/", methods=["GET", "HEAD"], response_class=HTMLResponse, include_in_schema=False
)
def start_page(request: Request) -> Response:
    """The regions with their latest items and feed links (cached: :mod:`.pages`)."""
    config = context_of(request).config

    def build(conn: Connection, _version: Version) -> tuple[str, dict[str, Any]]:
        return "index.html", start_values(conn, config)

    return cached_page(request, "/", build)


def start_values(conn: Connection, config: Config) -> dict[str, Any]:
    latest = {r.key: item_store.latest_own(conn, r.key) for r in config.region_list()}
    statewide = item_store.latest_own(conn, None)
    shown = [*statewide, *(i for items in latest.values() for i in items)]
    return {
        "latest": latest,
        "statewide": statewide,
        "teasers": teasers_of(shown),
        "region_map": region_map(config.region_list()),
    }


@router.api_route(
    "/regionen/{region}",
    methods=["GET", "HEAD"],
    response_class=HTMLResponse,
    include_in_schema=False,
)
def region_page(
    request: Request,
    region: str,
    seite: PageNumber = 1,
    vor: str | None = None,
    nach: str | None = None,
) -> Response:
    """A region's items, newest first, a keyset page (:mod:`.paging`), with its feeds."""
    state = state_of(request.app)
    found = state.context.config.known_region(region)
    where = paging.position(seite, vor, nach)
    path = f"/regionen/{region}"

    def build(conn: Connection, version: Version) -> tuple[str, dict[str, Any]]:
        total = state.page_cache.region_totals(conn, version)[region]
        rows, top = _rows(conn, region, where, total)
        page = paging.page_of(where, rows, total, top=top)
        values = {
            "region": found,
            "items": page.items,
            "teasers": teasers_of(page.items),
            "page": page.number,
            "pages": page.pages,
            "total": page.total,
            "newer": None if page.newer is None else path + page.newer,
            "older": None if page.older is None else path + page.older,
        }
        return "region.html", values

    return cached_page(request, path + where.query(), build)


def _rows(
    conn: Connection, region: str, where: paging.Position, total: int
) -> tuple[list[Item], bool]:
    """What the store reads for a position (one row more than a page), and whether those
    rows are the first page. An old ``?seite=N`` past the last item reads nothing."""
    size = paging.PAGE_SIZE + 1
    if where.before is not None:
        above = item_store.newer(conn, region, where.before, limit=size)
        if len(above) == size:
            return above, False
    elif where.after is not None:
        return item_store.older(conn, region, where.after, limit=size), False
    elif where.page > 1:  # an old ?seite=N link: by offset, once per store version
        offset = (where.page - 1) * paging.PAGE_SIZE
        if offset >= total:
            return [], False
        return item_store.latest(conn, region, limit=size, offset=offset), False
    return item_store.older(conn, region, None, limit=size), True


def teasers_of(items: Iterable[Item]) -> dict[str, str]:
    """Item id -> its teaser as sanitised HTML (the one rule of the digest and the feeds)."""
    return {item.id: teaser(item).html for item in items}


@router.api_route(
    "/meldungen/{item_id}",
    methods=["GET", "HEAD"],
    response_class=HTMLResponse,
    include_in_schema=False,
)
def item_page(request: Request, item_id: str) -> Response:
    """One item with its regions, source and date."""
    config = context_of(request).config

    def build(conn: Connection, _version: Version) -> tuple[str, dict[str, Any]]:
        item = item_store.find(conn, item_id)
        if item is None or item.hidden:
            raise NotFoundError("Diese Meldung gibt es nicht (mehr).")
        names = {r.key: r.name for r in config.region_list()}
        return "item.html", {"item": item, "region_names": names}

    return cached_page(request, f"/meldungen/{item_id}", build)


@router.get("/impressum", response_class=HTMLResponse, include_in_schema=False)
def impressum(request: Request) -> HTMLResponse:
    return render(request, "impressum.html")


@router.get("/datenschutz", response_class=HTMLResponse, include_in_schema=False)
def privacy(request: Request) -> HTMLResponse:
    return render(request, "datenschutz.html")


@router.get("/barrierefreiheit", response_class=HTMLResponse, include_in_schema=False)
def accessibility(request: Request) -> HTMLResponse:
    return render(request, "barrierefreiheit.html")


@router.get("/healthz", include_in_schema=False)
def healthz(request: Request) -> JSONResponse:
    """Liveness plus the database and the last collect time."""
    ctx = context_of(request)
    db_ok = check_ready(ctx.engine)
    last_collect = None
    if db_ok:
        with transaction(ctx.engine) as conn:
            finished = runs.last_finished(conn, "collect")
        last_collect = finished.isoformat() if finished else None
    body = {"status": "ok" if db_ok else "error", "database": db_ok, "last_collect": last_collect}
    return JSONResponse(body, status_code=200 if db_ok else 503)


@router.get("/readyz", include_in_schema=False)
def readyz(request: Request) -> JSONResponse:
    """Readiness: database, scheduler (if this process runs it), age of the last collect."""
    from newsletter.health import readiness
    from newsletter.store.db import utcnow

    now = utcnow()
    state = readiness(context_of(request), now)
    return JSONResponse(state.to_dict(now), status_code=200 if state.ready else 503)


@router.get("/feed/{key}", response_class=HTMLResponse, include_in_schema=False)
def feed_help(request: Request, key: str) -> HTMLResponse:
    """What the »RSS« links open: a German page on feeds with the address to copy."""
    from urllib.parse import quote

    ctx = context_of(request)
    region = ctx.config.region(key)
    if region is None and key != "sachsen":
        raise NotFoundError(f"Einen Feed »{key}« gibt es nicht.")
    feed_url = f"{ctx.config.site.base_url}/feeds/{key}.rss"
    values = {
        "feed_key": key,
        "feed_name": region.name if region else "Sachsen (alle Regionen)",
        "feed_url": feed_url,
        "quoted_url": quote(feed_url, safe=""),
    }
    return render(request, "feed_help.html", values)
