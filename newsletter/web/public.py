"""Public pages: start page, legal pages, health."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from newsletter.errors import NotFoundError
from newsletter.models import Item
from newsletter.regionmap import region_map
from newsletter.store import items as item_store
from newsletter.store import runs
from newsletter.store.db import check_ready, transaction
from newsletter.teasers import teaser
from newsletter.web.params import PageNumber
from newsletter.web.rendering import context_of, render

router = APIRouter()


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def start_page(request: Request) -> HTMLResponse:
    """The regions with their latest items and feed links."""
    ctx = context_of(request)
    with transaction(ctx.engine) as conn:
        latest = {r.key: item_store.latest_own(conn, r.key) for r in ctx.config.region_list()}
        statewide = item_store.latest_own(conn, None)
    shown = [*statewide, *(i for items in latest.values() for i in items)]
    values = {
        "latest": latest,
        "statewide": statewide,
        "teasers": teasers_of(shown),
        "region_map": region_map(ctx.config.region_list()),
    }
    return render(request, "index.html", values)


PAGE_SIZE = 20


@router.get("/regionen/{region}", response_class=HTMLResponse, include_in_schema=False)
def region_page(request: Request, region: str, seite: PageNumber = 1) -> HTMLResponse:
    """A region's items, newest first, paginated, with its feed addresses."""
    ctx = context_of(request)
    found = ctx.config.region(region)
    if found is None:
        raise NotFoundError(f"Die Region »{region}« gibt es nicht.")
    page = seite
    with transaction(ctx.engine) as conn:
        total = item_store.count(conn, region)
        shown = item_store.latest(conn, region, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    values = {
        "region": found,
        "items": shown,
        "teasers": teasers_of(shown),
        "page": page,
        "pages": pages,
        "total": total,
    }
    return render(request, "region.html", values)


def teasers_of(items: Iterable[Item]) -> dict[str, str]:
    """Item id -> its teaser as sanitised HTML (the one rule of the digest and the feeds)."""
    return {item.id: teaser(item).html for item in items}


@router.get("/meldungen/{item_id}", response_class=HTMLResponse, include_in_schema=False)
def item_page(request: Request, item_id: str) -> HTMLResponse:
    """One item with its regions, source and date."""
    ctx = context_of(request)
    with transaction(ctx.engine) as conn:
        item = item_store.find(conn, item_id)
    if item is None or item.hidden:
        raise NotFoundError("Diese Meldung gibt es nicht (mehr).")
    names = {r.key: r.name for r in ctx.config.region_list()}
    return render(request, "item.html", {"item": item, "region_names": names})


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
