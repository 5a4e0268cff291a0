"""``newsletter regions list|classify|explain|reclassify``."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from newsletter.cli import output
from newsletter.cli.base import app, console, get_config, open_context
from newsletter.cli.german import App

if TYPE_CHECKING:
    from newsletter.config import Config
    from newsletter.regions import Classification, Gazetteer

regions_app = App(help="Regionen: auflisten, Texte zuordnen, Meldungen neu zuordnen.")
app.add_typer(regions_app, name="regions")


def _gazetteer(config: Config) -> Gazetteer:
    from newsletter.regions import load_gazetteer

    return load_gazetteer({r.key: list(r.districts) for r in config.region_list()})


@regions_app.command("list")
def list_regions() -> None:
    """Regionen mit ihren Landkreisen und der Zahl der Gemeinden."""
    from newsletter.regions import describe_regions

    table = output.table(
        "Schlüssel",
        "Name",
        "Gemeinden",
        "Landkreise / kreisfreie Städte",
        long=("Name", "Landkreise / kreisfreie Städte"),
    )
    for info in describe_regions(_gazetteer(get_config())):
        districts = ", ".join(f"{key} {name}" for key, name in info.districts)
        table.add_row(info.key, info.name, str(info.municipalities), districts)
    output.show(console, table)


@regions_app.command("classify")
def classify_lines() -> None:
    """Je Zeile der Standardeingabe ein Text; je Zeile ein JSON-Objekt auf die Standardausgabe."""
    from newsletter.regions import classify

    gazetteer = _gazetteer(get_config())
    out = sys.stdout
    for line in sys.stdin:
        text = line.rstrip("\r\n")
        out.write(json.dumps(classify(text, gazetteer).to_dict(), ensure_ascii=False) + "\n")
    out.flush()


@regions_app.command("explain")
def explain(
    text: Annotated[str, typer.Argument(metavar="TEXT", help="Der zu prüfende Text.")],
) -> None:
    """Welche Orte im Text erkannt wurden, welche mehrdeutig sind – und das Ergebnis."""
    from newsletter.regions import classify

    gazetteer = _gazetteer(get_config())
    result = classify(text, gazetteer)
    table = output.table("Art", "Schlüssel", "Region", "Fundstelle", long=("Fundstelle",))
    for match in result.matches:
        table.add_row(match.kind, match.key, match.region, output.shown(match.phrase))
    output.show(console, table)
    _print_details(result, gazetteer)
    regions = ", ".join(sorted(result.regions)) or "keine – landesweit"
    console.print(f"[bold]Regionen:[/] {regions}", highlight=False)


def _print_details(result: Classification, gazetteer: Gazetteer) -> None:
    """Localities with their municipality, ambiguous names, reasons to check."""
    from newsletter.regions import municipality_name

    for match in result.matches:
        if match.kind == "locality":
            towns = ", ".join(municipality_name(gazetteer, key) for key in match.key.split("|"))
            console.print(f"»{match.phrase}« → {towns}, Ortsteil", highlight=False)
    for amb in result.ambiguous:
        console.print(
            f"[yellow]Mehrdeutig:[/] »{amb.phrase}« – Regionen {', '.join(amb.regions)}"
            f" (Gemeinden {', '.join(amb.candidates)})",
            highlight=False,
        )
    for reason in result.check_reasons:
        console.print(f"[red]Region prüfen:[/] {reason}", highlight=False)


@regions_app.command("reclassify")
def reclassify() -> None:
    """Alle gespeicherten Meldungen neu zuordnen (festgelegte Regionen bleiben)."""
    from newsletter.curation import reclassify_all

    with open_context() as ctx:
        total, changed = reclassify_all(ctx)
    console.print(f"{total} Meldungen geprüft, bei {changed} haben sich die Regionen geändert.")
