"""The public web archive: every sent digest at ``/newsletter/<region>/<period>`` and a list
per region at ``/newsletter/<region>``, linked from the region page and from the mail's
»Im Browser ansehen«.

The page is rendered from the stored digest's items and the editor's word it went out
with, never from the mail's bytes: it holds no token, no address and no subscriber's
regions, whoever received it.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from newsletter.archive import archive_url, period_key_of, period_slug
from newsletter.digests import sections
from newsletter.errors import NotFoundError
from newsletter.localtime import german_long
from newsletter.models import Region
from newsletter.store import archive as archive_store
from newsletter.store import editorials as editorial_store
from newsletter.store import items as item_store
from newsletter.store.db import transaction
from newsletter.teasers import teaser
from newsletter.web.rendering import context_of, render

router = APIRouter()


def _region(request: Request, key: str) -> Region:
    region = context_of(request).config.region(key)
    if region is None:
        raise NotFoundError(f"Die Region »{key}« gibt es nicht.")
    return region


@router.get("/newsletter/{region_key}", response_class=HTMLResponse, include_in_schema=False)
def region_archive(request: Request, region_key: str) -> HTMLResponse:
    """A region's sent digests, newest first."""
    ctx = context_of(request)
    region = _region(request, region_key)
    with transaction(ctx.engine) as conn:
        entries = archive_store.of_region(conn, region.key)
    tz = ZoneInfo(ctx.config.site.timezone)
    values = {
        "region": region,
        "entries": entries,
        "slug": period_slug,
        "when": lambda value: german_long(value, tz),
    }
    return render(request, "archive_list.html", values)


@router.get(
    "/newsletter/{region_key}/{period}", response_class=HTMLResponse, include_in_schema=False
)
def digest_page(request: Request, region_key: str, period: str) -> HTMLResponse:
    """One sent digest as a web page, without any personal data."""
    ctx = context_of(request)
    region = _region(request, region_key)
    key = period_key_of(period)
    with transaction(ctx.engine) as conn:
        entry = archive_store.by_period(conn, region.key, key) if key else None
        if entry is None:
            raise NotFoundError(f"Einen Newsletter {region.name} für »{period}« gibt es nicht.")
        intro, pinned = editorial_store.of_digest(conn, entry.id)
        shown = item_store.visible_by_ids(conn, entry.item_ids)
    tz = ZoneInfo(ctx.config.site.timezone)
    values = {
        "region": region,
        "entry": entry,
        "intro_html": intro,
        "sections": sections(region, shown, pinned),
        "teaser": teaser,
        "until": german_long(entry.period_end, tz),
        "canonical": archive_url(ctx.config.site.base_url, region.key, entry.period_end),
    }
    return render(request, "archive_digest.html", values)
