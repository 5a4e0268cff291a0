"""An admin's edits of items: write one by hand, fix its regions, reclassify all.

Used by the CLI (``newsletter items add|set-regions``, ``regions reclassify``) and the
admin pages. Hand-written items go through the same pipeline as collected ones
(:func:`newsletter.collect.store_items`): sanitised, keyed, deduplicated, classified.
Every region override is also kept as a test case for the classifier
(:mod:`newsletter.store.corrections`): the text it read and the admin's regions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from newsletter.collect import store_items
from newsletter.context import Context
from newsletter.dedup import classify_regions, item_text, with_regions
from newsletter.errors import InvalidInputError
from newsletter.models import Item, ParsedItem
from newsletter.regions import classify
from newsletter.sanitize import safe_link
from newsletter.sources import Fetched
from newsletter.sources.folder import render_markdown
from newsletter.store import corrections
from newsletter.store import items as item_store
from newsletter.store import sources as source_store
from newsletter.store.db import transaction, utcnow


def add_manual_item(
    ctx: Context,
    *,
    title: str,
    link: str | None = None,
    text: str = "",
    published: datetime | None = None,
    regions: list[str] | None = None,
    statewide: bool = False,
) -> Item:
    """An item written by an admin: Markdown text, regions given (override) or classified."""
    _check_regions(ctx, regions or [])
    if statewide and regions:
        raise InvalidInputError("Entweder Regionen oder »landesweit«, nicht beides", field="region")
    if link and safe_link(link) is None:
        raise InvalidInputError(
            f"Link muss mit http:// oder https:// beginnen: {link}", field="link"
        )
    given = () if statewide else (tuple(sorted(set(regions))) if regions else None)
    parsed = ParsedItem(
        guid=None,
        url=link or None,
        title=title,
        content_html=render_markdown(text) if text.strip() else "",
        published_at=published,
        regions=given,
    )
    now = utcnow()
    with transaction(ctx.engine) as conn:
        plan = store_items(ctx, conn, None, Fetched(items=(parsed,)), now)
        if not plan.new:
            raise InvalidInputError("Diese Meldung gibt es schon (gleicher Link oder Titel)")
        return item_store.get(conn, plan.new[0].id)


def _check_regions(ctx: Context, regions: list[str]) -> None:
    known = [r.key for r in ctx.config.regions]
    for key in regions:
        if key not in known:
            raise InvalidInputError(
                f"Unbekannte Region »{key}« (bekannt: {', '.join(known)})", field="region"
            )


def set_item_regions(
    ctx: Context,
    item_id: str,
    regions: list[str],
    *,
    statewide: bool = False,
    auto: bool = False,
    actor: str = "cli",
) -> Item:
    """Override an item's regions (``statewide``: none), or clear the override (``auto``).

    An override clears »Region prüfen« and is kept as a correction by ``actor``.
    """
    _check_regions(ctx, regions)
    if sum((bool(regions), statewide, auto)) != 1:
        raise InvalidInputError("Genau eines angeben: Regionen, --statewide oder --auto")
    override: tuple[str, ...] | None = None if auto else tuple(sorted(set(regions)))
    with transaction(ctx.engine) as conn:
        item = set_regions(conn, item_id, override=override)
        if override is not None:
            corrections.add(
                conn,
                item_id=item.id,
                text=item_text(item.title, item.summary_html, item.content_html),
                classified=item.classified_regions,
                corrected=override,
                actor=actor,
            )
        return item


def set_regions(
    conn: Connection,
    item_id: str,
    *,
    classified: Sequence[str] | None = None,
    check_reasons: Sequence[str] | None = None,
    override: Sequence[str] | bool | None = False,
) -> Item:
    """Load, decide (:func:`newsletter.dedup.with_regions`), write; the item as stored."""
    current = item_store.get(conn, item_id)
    item = with_regions(
        current, now=utcnow(), classified=classified, check_reasons=check_reasons, override=override
    )
    item_store.update_regions(conn, item)
    return item


def reclassify_all(ctx: Context) -> tuple[int, int]:
    """Classify every stored item again (overrides kept): (items, whose regions changed).

    The »Region prüfen« reasons are renewed too: an item the classifier is now sure of
    loses its flag.
    """
    changed = 0
    with transaction(ctx.engine) as conn:
        fixed = {s.id: s.region for s in source_store.all_sources(conn)}
        stored = item_store.all_items(conn)
        for item in stored:
            text = item_text(item.title, item.summary_html, item.content_html)
            found = classify_regions(text, ctx.gazetteer, fixed.get(item.source_id or -1))
            if found != (item.classified_regions, item.region_check_reasons):
                updated = with_regions(
                    item, now=utcnow(), classified=found.regions, check_reasons=found.check_reasons
                )
                item_store.update_regions(conn, updated)
                changed += updated.regions != item.regions
    return len(stored), changed


def explain_item(item: Item, gazetteer: Any) -> dict[str, Any]:
    """The classifier's reasons for an item's text (as ``regions explain`` shows them)."""
    text = item_text(item.title, item.summary_html, item.content_html)
    result: dict[str, Any] = classify(text, gazetteer).to_dict()
    return result
