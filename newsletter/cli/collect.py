"""``newsletter collect``, ``sources`` and ``items list|show|add|set-regions``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from newsletter.cli.base import app, console, is_interactive, open_context
from newsletter.errors import InvalidInputError, SourceError

if TYPE_CHECKING:
    from newsletter.collect import CollectSummary, SourceReport
    from newsletter.collect import Progress as Progress_
    from newsletter.context import Context
    from newsletter.models import Item

items_app = typer.Typer(help="Meldungen anzeigen, von Hand anlegen, Regionen festlegen.")
app.add_typer(items_app, name="items")

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
    """A rich progress bar on an interactive terminal; nothing otherwise."""
    if not is_interactive():
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from newsletter.collect import due_sources

    columns = (TextColumn("Quellen abrufen"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("collect", total=due_sources(ctx))

        def advance(_report: SourceReport) -> None:
            bar.advance(task)

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
        tz = ZoneInfo(ctx.config.site.timezone)
    table = Table("Name", "Art", "Status", "Letzter Abruf", "Fehler in Folge", "Letzter Fehler")
    for source in rows:
        status = STATUS_TEXT.get(source.last_status, source.last_status)
        if not source.enabled and source.last_status != "disabled":
            status += " [dim](aus)[/]"
        table.add_row(
            source.name,
            source.kind,
            status,
            _when(source.last_fetched_at, tz),
            str(source.error_count),
            source.last_error or "",
        )
    console.print(table)


def _when(value: datetime | None, tz: ZoneInfo) -> str:
    return value.astimezone(tz).strftime("%d.%m.%Y %H:%M") if value else "–"


def _regions_text(item: Item) -> str:
    from newsletter.models import STATEWIDE_NAME

    text = ", ".join(item.regions) if item.regions else STATEWIDE_NAME
    return text + (" (festgelegt)" if item.region_override is not None else "")


@items_app.command("list")
def list_items(
    region: Annotated[str | None, typer.Option(help="Nur diese Region (und landesweite).")] = None,
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
    with open_context() as ctx, transaction(ctx.engine) as conn:
        if region is not None and ctx.config.region(region) is None:
            raise InvalidInputError(f"Unbekannte Region »{region}«", field="region")
        found = item_store.search(
            conn, region=region, since=after, region_check=True if check else None, limit=limit
        )
        tz = ZoneInfo(ctx.config.site.timezone)
    table = Table("!", "Titel", "Regionen", "Quelle")
    table.add_column("Datum", no_wrap=True)
    table.add_column("ID", no_wrap=True)
    for item in found:
        date = _when(item.published_at, tz) + ("*" if item.published_estimated else "")
        mark = "!" if item.region_check else ""
        table.add_row(mark, item.title, _regions_text(item), item.source_name or "–", date, item.id)
    console.print(table)
    console.print(
        f"{len(found)} Meldung(en). * = Datum geschätzt (Abrufzeit). ! = Region prüfen.",
        highlight=False,
    )


@items_app.command("show")
def show_item(item_id: Annotated[str, typer.Argument(help="Die ID der Meldung.")]) -> None:
    """Eine Meldung mit ihren Regionen."""
    from newsletter.store import items as item_store
    from newsletter.store.db import transaction

    with open_context() as ctx, transaction(ctx.engine) as conn:
        item = item_store.get(conn, item_id)
        tz = ZoneInfo(ctx.config.site.timezone)
    _print_item(item, tz)


def _print_item(item: Item, tz: ZoneInfo) -> None:
    from newsletter.models import STATEWIDE_NAME

    estimated = " (geschätzt)" if item.published_estimated else ""
    lines = [
        ("ID", item.id),
        ("Titel", item.title),
        ("Link", item.url or "–"),
        ("Datum", _when(item.published_at, tz) + estimated),
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
        list[str] | None, typer.Option(help="Region (mehrfach möglich); sonst automatisch.")
    ] = None,
    statewide: Annotated[
        bool, typer.Option("--statewide", help="Landesweit (keine Region).")
    ] = False,
) -> None:
    """Eine Meldung von Hand anlegen (ohne Region: automatisch zugeordnet)."""
    from newsletter.curation import add_manual_item

    published = _date_option(date, "--date") if date else None
    with open_context() as ctx:
        item = add_manual_item(
            ctx,
            title=title,
            link=link,
            text=text,
            published=published,
            regions=region,
            statewide=statewide,
        )
        tz = ZoneInfo(ctx.config.site.timezone)
    console.print("Meldung angelegt:")
    _print_item(item, tz)


@items_app.command("set-regions")
def set_regions(
    item_id: Annotated[str, typer.Argument(help="Die ID der Meldung.")],
    regions: Annotated[list[str] | None, typer.Argument(help="Regionsschlüssel.")] = None,
    statewide: Annotated[bool, typer.Option("--statewide", help="Landesweit festlegen.")] = False,
    auto: Annotated[
        bool, typer.Option("--auto", help="Festlegung aufheben (automatisch).")
    ] = False,
) -> None:
    """Regionen einer Meldung festlegen (überschreibt die Erkennung) oder mit --auto freigeben."""
    from newsletter.curation import set_item_regions

    with open_context() as ctx:
        item = set_item_regions(ctx, item_id, regions or [], statewide=statewide, auto=auto)
    console.print(f"{item.id}: {_regions_text(item)}", highlight=False)


def _date_option(value: str, name: str) -> datetime:
    from newsletter.sources.dates import parse_date

    parsed = parse_date(value)
    if parsed is None:
        raise InvalidInputError(f"{name}: Datum »{value}« nicht lesbar (JJJJ-MM-TT)", field=name)
    return parsed
