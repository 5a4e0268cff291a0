"""The public web archive: every sent digest at ``/newsletter/<region>/<period>`` and a list
per region at ``/newsletter/<region>``, linked from the region page and from the mail's
»Im Browser ansehen«.

The page is rendered from the stored digest's items and the editor's word it went out
with, never from the mail's bytes: it holds no token, no address and no subscriber's
regions, whoever received it.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection

from newsletter.archive import archive_url, period_key_of, period_slug
from newsletter.digests import sections
from newsletter.errors import NotFoundError
from newsletter.localtime import german_long
from newsletter.store import archive as archive_store
from newsletter.store import editorials as editorial_store
from newsletter.store import items as item_store
from newsletter.teasers import teaser
from newsletter.web.conditional import Version
from newsletter.web.pages import cached_page
from newsletter.web.rendering import context_of

router = APIRouter()


@router.api_route(
    "/newsletter/{region_key}",
    methods=["GET", "HEAD"],
    response_class=HTMLResponse,
    include_in_schema=False,
)
def region_archive(request: Request, region_key: str) -> Response:
    """A region's sent digests, newest first (cached: :mod:`.pages`)."""
    ctx = context_of(request)
    region = context_of(request).config.known_region(region_key)
    tz = ZoneInfo(ctx.config.site.timezone)

    def build(conn: Connection, _version: Version) -> tuple[str, dict[str, Any]]:
        values = {
            "region": region,
            "entries": archive_store.of_region(conn, region.key),
            "slug": period_slug,
            "when": lambda value: german_long(value, tz),
        }
        return "archive_list.html", values

    return cached_page(request, f"/newsletter/{region.key}", build)


@router.api_route(
    "/newsletter/{region_key}/{period}",
    methods=["GET", "HEAD"],
    response_class=HTMLResponse,
    include_in_schema=False,
)
def digest_page(request: Request, region_key: str, period: str) -> Response:
    """One sent digest as a web page, without any personal data (cached: :mod:`.pages`)."""
    ctx = context_of(request)
    region = context_of(request).config.known_region(region_key)
    key = period_key_of(period)
    tz = ZoneInfo(ctx.config.site.timezone)

    def build(conn: Connection, _version: Version) -> tuple[str, dict[str, Any]]:
        entry = archive_store.by_period(conn, region.key, key) if key else None
        if entry is None:
            raise NotFoundError(f"Einen Newsletter {region.name} für »{period}« gibt es nicht.")
        intro, pinned = editorial_store.of_digest(conn, entry.id)
        shown = item_store.visible_by_ids(conn, entry.item_ids)
        values = {
            "region": region,
            "entry": entry,
            "intro_html": intro,
            "sections": sections(region, shown, pinned),
            "teaser": teaser,
            "until": german_long(entry.period_end, tz),
            "canonical": archive_url(ctx.config.site.base_url, region.key, entry.period_end),
        }
        return "archive_digest.html", values

    return cached_page(request, f"/newsletter/{region.key}/{period}", build)
