"""Admin items: filtered list, one item with its regions and the classifier's reasons,
region override, hide/show, and an item written by hand."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from newsletter.curation import add_manual_item, explain_item, set_item_regions
from newsletter.errors import InvalidInputError
from newsletter.store import items as item_store
from newsletter.store import sources as source_store
from newsletter.store.db import transaction
from newsletter.web.admin.common import Pager, admin_page, field, redirect, region_keys
from newsletter.web.auth import current_admin, record
from newsletter.web.params import PageNumber, optional_id
from newsletter.web.rendering import context_of
from newsletter.web.security import checked_form

router = APIRouter(prefix="/meldungen")
PAGE_SIZE = 50


def _date(value: str, name: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError as exc:
        raise InvalidInputError(f"»{value}« ist kein Datum (JJJJ-MM-TT)", field=name) from exc


def _statewide(value: str) -> bool | None:
    return {"ja": True, "nein": False}.get(value)


@router.get("", response_class=HTMLResponse, include_in_schema=False)
def list_items(
    request: Request,
    region: str = "",
    source: str = "",
    ab: str = "",
    landesweit: str = "",
    pruefen: str = "",
    suche: str = "",
    seite: PageNumber = 1,
) -> HTMLResponse:
    ctx = context_of(request)
    filters = {
        "suche": suche,
        "region": region,
        "source": source,
        "ab": ab,
        "landesweit": landesweit,
        "pruefen": pruefen,
    }
    where = item_store.ItemFilter(
        region=region or None,
        since=_date(ab, "ab"),
        source_id=optional_id(source),
        statewide=_statewide(landesweit),
        region_check=True if pruefen == "ja" else None,
        text=suche,
    )
    with transaction(ctx.engine) as conn:
        rows, total = item_store.search_with_count(
            conn, where, limit=PAGE_SIZE, offset=(seite - 1) * PAGE_SIZE
        )
        pager = Pager(seite, PAGE_SIZE, total)
        sources = source_store.all_sources(conn)
    values = {"items": rows, "pager": pager, "filters": filters, "sources": sources}
    return admin_page(request, "admin/items.html", values)


@router.get("/neu", response_class=HTMLResponse, include_in_schema=False)
def new_item_form(request: Request) -> HTMLResponse:
    return admin_page(request, "admin/item_new.html", {"error": None, "form": {}})


@router.post("/neu", include_in_schema=False)
async def new_item(request: Request) -> Response:
    ctx = context_of(request)
    form = await checked_form(request, ctx.secret_key)
    values = {k: field(form, k) for k in ("title", "link", "text", "date")}
    try:
        if not values["title"]:
            raise InvalidInputError("Bitte einen Titel angeben", field="title")
        item = add_manual_item(
            ctx,
            title=values["title"],
            link=values["link"] or None,
            text=values["text"],
            published=_date(values["date"], "date"),
            regions=region_keys(request, form) or None,
            statewide=field(form, "statewide") == "1",
        )
    except InvalidInputError as exc:
        page_values = {"error": exc.message, "form": values}
        return admin_page(request, "admin/item_new.html", page_values, status=400)
    record(request, "item.add", item.id, title=item.title)
    return redirect(request, f"/admin/meldungen/{item.id}", "Die Meldung ist gespeichert.")


@router.get("/{item_id}", response_class=HTMLResponse, include_in_schema=False)
def show_item(request: Request, item_id: str) -> HTMLResponse:
    ctx = context_of(request)
    with transaction(ctx.engine) as conn:
        item = item_store.get(conn, item_id)
    values = {"item": item, "why": explain_item(item, ctx.gazetteer)}
    return admin_page(request, "admin/item.html", values)


def chosen_mode(form_mode: str, shown_mode: str, ticked: list[str], shown: list[str]) -> str:
    """The mode the admin meant: ticking regions without touching the radio means »diese
    Regionen« (the checkboxes differ from what the page showed, the radio does not)."""
    if form_mode == shown_mode and sorted(set(ticked)) != sorted(set(shown)):
        return "regions"
    return form_mode


def requested_override(mode: str, regions: list[str]) -> tuple[str, ...] | None:
    """What ``region_override`` becomes: None (automatic), () (statewide) or the regions."""
    if mode == "auto":
        return None
    return () if mode == "statewide" else tuple(sorted(set(regions)))


@router.post("/{item_id}/regionen", include_in_schema=False)
async def set_regions(request: Request, item_id: str) -> Response:
    ctx = context_of(request)
    form = await checked_form(request, ctx.secret_key)
    ticked = region_keys(request, form)
    shown = [str(v) for v in form.getlist("shown_region")]
    mode = chosen_mode(field(form, "mode"), field(form, "shown_mode"), ticked, shown)
    if mode not in ("regions", "statewide", "auto"):
        raise InvalidInputError("Bitte eine Auswahl treffen", field="mode")
    regions = ticked if mode == "regions" else []
    if mode == "regions" and not regions:
        raise InvalidInputError("Bitte mindestens eine Region ankreuzen", field="region")
    with transaction(ctx.engine) as conn:
        before = item_store.get(conn, item_id)
    target = f"/admin/meldungen/{item_id}"
    if requested_override(mode, regions) == before.region_override:
        return redirect(request, target, "Nichts geändert: die Regionen waren schon so.")
    item = set_item_regions(
        ctx,
        item_id,
        regions,
        statewide=mode == "statewide",
        auto=mode == "auto",
        actor=current_admin(request).name,
    )
    record(
        request, "item.regions", item_id, mode=mode, regions=list(item.regions), title=item.title
    )
    return redirect(request, target, "Die Regionen sind gespeichert.")


@router.post("/{item_id}/sichtbarkeit", include_in_schema=False)
async def set_hidden(request: Request, item_id: str) -> Response:
    ctx = context_of(request)
    form = await checked_form(request, ctx.secret_key)
    hidden = field(form, "hidden") == "1"
    with transaction(ctx.engine) as conn:
        item_store.set_hidden(conn, item_id, hidden)
    record(request, "item.hide" if hidden else "item.show", item_id)
    text = "ausgeblendet" if hidden else "wieder sichtbar"
    return redirect(request, f"/admin/meldungen/{item_id}", f"Die Meldung ist {text}.")
