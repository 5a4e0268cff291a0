"""``newsletter collect``, ``sources`` and ``items list|show|add|set-regions``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from newsletter.cli import output
from newsletter.cli.base import app, console, is_interactive, open_context
from newsletter.cli.german import App, ParameterError
from newsletter.cli.regionarg import configured_key, configured_keys, region_names
from newsletter.errors import InvalidInputError, NotFoundError, SourceError

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from sqlalchemy import Connection

    from newsletter.collect import CollectSummary, SourceReport
    from newsletter.collect import Progress as Progress_
    from newsletter.context import Context
    from newsletter.models import Item

items_app = App(help="Meldungen anzeigen, von Hand anlegen, Regionen festlegen.")
app.add_typer(items_app, name="items")
SHORT_ID = 8  # characters of an item id shown in tables; commands take any unique start
ItemId = Annotated[
    str, typer.Argument(metavar="ID", help="ID der Meldung (oder ihr eindeutiger Anfang).")
]
RegionOption = Annotated[
    str | None,
    typer.Option(metavar="REGION", help="Nur diese Region (Schlüssel oder Name) und landesweite."),
]

STATUS_TEXT = {
    "ok": "[green]ok[/]",
    "not_modified": "[green]unverändert[/]",
    "error": "[red]Fehler[/]",
    "disabled": "[red]abgeschaltet[/]",
    "waiting": "[yellow]wartet[/]",
    "never": "[dim]noch nie[/]",
}


@app.command()
def collect() -> None:
    """Alle Quellen jetzt abrufen und neue oder geänderte Meldungen speichern."""
    from newsletter.collect import collect_all

    with open_context() as ctx, _progress(ctx) as advance:
        summary = collect_all(ctx, progress=advance)
    _print_summary(summary)
    if summary.all_failed:  # a NewsletterError: run_cli prints it and exits with 69
        raise SourceError("Keine einzige Quelle konnte abgerufen werden.", url="")


@contextmanager
def _progress(ctx: Context) -> Iterator[Progress_ | None]:
    """On a terminal: a bar with sources done of due and how long the rest takes."""
    if not is_interactive():
        yield None
        return
    import time

    from newsletter.collect import due_sources

    total, done, started = due_sources(ctx), 0, time.monotonic()
    with output.bar("Quellen abrufen") as show:

        def advance(_report: SourceReport) -> None:
            nonlocal done
            done += 1
            show(
                done,
                total,
                output.progress_line(done, total, "Quellen", time.monotonic() - started),
            )

        yield advance


def _print_summary(summary: CollectSummary) -> None:
    counts = {s: sum(r.status == s for r in summary.reports) for s in STATUS_TEXT}
    console.print(
        f"{_count(len(summary.reports), 'Quelle', 'Quellen')}: {summary.new} neue,"
        f" {summary.changed} geänderte"
        f" Meldungen; {counts['not_modified']} unverändert, {summary.failed} fehlgeschlagen,"
        f" {counts['waiting']} warten.",
        highlight=False,
    )
    for report in summary.reports:
        if report.error:
            console.print(f"  {report.source}: {report.error}", style="red", highlight=False)


def _count(number: int, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"


@app.command()
def sources() -> None:
    """Zustand der Quellen: Status, letzter Abruf, Fehler in Folge, letzter Fehler."""
    from newsletter.store import sources as source_store
    from newsletter.store.db import transaction

    with open_context() as ctx, transaction(ctx.engine) as conn:
        rows = source_store.all_sources(conn)
        tz = output.zone(ctx.config)
    table = output.table(
        "Name",
        "Art",
        "Status",
        "Letzter Abruf",
        "Fehler",
        "Letzter Fehler",
        long=("Name", "Letzter Fehler"),
    )
    for source in rows:
        status = STATUS_TEXT.get(source.last_status, source.last_status)
        if not source.enabled and source.last_status != "disabled":
            status += " [dim](aus)[/]"
        table.add_row(
            output.shown(source.name),
            source.kind,
            status,
            _when(source.last_fetched_at, tz),
            str(source.error_count),
            output.shown(source.last_error or ""),
        )
    output.show(console, table)
    console.print(f"Fehler = Fehler in Folge. {output.time_note(tz)}", highlight=False)


def _when(value: datetime | None, tz: ZoneInfo) -> str:
    return output.local(value, tz)


def _regions_text(item: Item) -> str:
    from newsletter.models import STATEWIDE_NAME

    text = region_names(item.regions) if item.regions else STATEWIDE_NAME
    return text + (" (festgelegt)" if item.region_override is not None else "")


def _full_id(conn: Connection, value: str) -> str:
    """The item id that ``value`` is, or begins (as shown in ``items list``)."""
    from newsletter.store import items as item_store

    found = item_store.ids_starting(conn, value.strip().lower())
    if value in found or len(found) == 1:
        return value if value in found else found[0]
    if not found:
        raise NotFoundError.of("item", value)
    raise InvalidInputError(
        f"»{value}« passt zu mehreren Meldungen; bitte mehr Zeichen der ID angeben."
    )


@items_app.command("list")
def list_items(
    region: RegionOption = None,
    since: Annotated[str | None, typer.Option(help="Erschienen ab Datum (JJJJ-MM-TT).")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Höchstens so viele Meldungen.")] = 50,
    check: Annotated[
        bool, typer.Option("--check", help="Nur Meldungen mit »Region prüfen«.")
    ] = False,
) -> None:
    """Die neuesten Meldungen (! = Region prüfen)."""
    from newsletter.store import items as item_store
    from newsletter.store.db import transaction

    after = _date_option(since, "--since") if since else None
    key = configured_key(region) if region is not None else None
    with open_context() as ctx, transaction(ctx.engine) as conn:
        found = item_store.search(
            conn, region=key, since=after, region_check=True if check else None, limit=limit
        )
        tz = output.zone(ctx.config)
    table = output.table("!", "Datum", "ID", "Regionen", "Titel", long=("Regionen", "Titel"))
    for item in found:
        date = output.local(item.published_at, tz, "%d.%m.%y %H:%M")
        mark = "!" if item.region_check else ""
        estimated = "*" if item.published_estimated else ""
        short = item.id[:SHORT_ID]
        table.add_row(mark, date + estimated, short, _regions_text(item), output.shown(item.title))
    output.show(console, table)
    counted = output.count(len(found), "Meldung", "Meldungen")
    console.print(f"{counted}. {output.time_note(tz)}", highlight=False)
    console.print("* = Datum geschätzt (Abrufzeit), ! = Region prüfen.", highlight=False)


@items_app.command("show")
def show_item(item_id: ItemId) -> None:
    """Eine Meldung mit ihren Regionen."""
    from newsletter.store import items as item_store
    from newsletter.store.db import transaction

    with open_context() as ctx, transaction(ctx.engine) as conn:
        item = item_store.get(conn, _full_id(conn, item_id))
        tz = output.zone(ctx.config)
    _print_item(item, tz)


def _print_item(item: Item, tz: ZoneInfo) -> None:
    from newsletter.models import STATEWIDE_NAME

    estimated = " (geschätzt)" if item.published_estimated else ""
    lines = [
        ("ID", item.id),
        ("Titel", item.title),
        ("Link", item.url or "–"),
        ("Datum", f"{_when(item.published_at, tz)}{estimated} (Ortszeit)"),
        ("Gesammelt", _when(item.collected_at, tz)),
        ("Quelle", item.source_name or "von Hand"),
        ("Regionen", _regions_text(item)),
        ("Erkannt", ", ".join(item.classified_regions) or STATEWIDE_NAME),
        ("Region prüfen", "; ".join(item.region_check_reasons) if item.region_check else "nein"),
        ("Verborgen", "ja" if item.hidden else "nein"),
    ]
    for label, value in lines:
        console.print(f"[bold]{label}:[/] {value}", highlight=False)
    from newsletter.sanitize import text_excerpt

    text = text_excerpt(item.summary_html or item.content_html, 600)
    if text:
        console.print(f"\n{text}", highlight=False)


@items_app.command("add")
def add_item(
    title: Annotated[str, typer.Option(help="Überschrift.")],
    link: Annotated[str | None, typer.Option(help="Link zur vollständigen Meldung.")] = None,
    text: Annotated[str, typer.Option(help="Text (Markdown).")] = "",
    date: Annotated[
        str | None, typer.Option(help="Datum, z. B. 2026-11-25 oder 25.11.2026.")
    ] = None,
    region: Annotated[
        list[str] | None,
        typer.Option(metavar="REGION", help="Region (mehrfach möglich); sonst automatisch."),
    ] = None,
    statewide: Annotated[
        bool, typer.Option("--statewide", help="Landesweit (keine Region).")
    ] = False,
) -> None:
    """Eine Meldung von Hand anlegen (ohne Region: automatisch zugeordnet)."""
    from newsletter.curation import add_manual_item

    published = _date_option(date, "--date") if date else None
    keys = configured_keys(region) if region else None
    with open_context() as ctx:
        item = add_manual_item(
            ctx,
            title=title,
            link=link,
            text=text,
            published=published,
            regions=keys,
            statewide=statewide,
        )
        tz = output.zone(ctx.config)
    console.print("Meldung angelegt:")
    _print_item(item, tz)


@items_app.command("set-regions")
def set_regions(
    item_id: ItemId,
    regions: Annotated[
        list[str] | None,
        typer.Argument(metavar="REGION", help="Regionen (Schlüssel oder Name)."),
    ] = None,
    statewide: Annotated[bool, typer.Option("--statewide", help="Landesweit festlegen.")] = False,
    auto: Annotated[
        bool, typer.Option("--auto", help="Festlegung aufheben (automatisch).")
    ] = False,
) -> None:
    """Regionen einer Meldung festlegen (überschreibt die Erkennung) oder mit --auto freigeben."""
    from newsletter.curation import set_item_regions
    from newsletter.store.db import transaction

    if not (regions or statewide or auto):
        raise ParameterError("Bitte Regionen, --statewide oder --auto angeben.")
    keys = configured_keys(regions or [], "REGION")
    with open_context() as ctx:
        with transaction(ctx.engine) as conn:
            full = _full_id(conn, item_id)
        item = set_item_regions(ctx, full, keys, statewide=statewide, auto=auto)
    console.print(f"{item.id}: {_regions_text(item)}", highlight=False)


def _date_option(value: str, name: str) -> datetime:
    from newsletter.sources.dates import parse_date

    parsed = parse_date(value)
    if parsed is None:
        message = f"Das Datum »{value}« für {name} ist nicht lesbar; bitte JJJJ-MM-TT."
        raise ParameterError(message, param_hint=name)
    return parsed
