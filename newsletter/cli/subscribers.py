"""``newsletter subscribers …``: partner addresses, rosters, consent proof, DSGVO requests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from newsletter.cli import audit as cli_audit
from newsletter.cli.base import app, console, fail, open_context

subscribers_app = typer.Typer(help="Abonnentinnen und Abonnenten verwalten.", no_args_is_help=True)
app.add_typer(subscribers_app, name="subscribers")
OUTCOMES = {
    "added": "neu",
    "updated": "ergänzt",
    "unchanged": "unverändert",
    "rejected": "abgelehnt",
}


def shown(value: str) -> Text:
    """Stored or uploaded text for the terminal: no rich markup, control characters,
    bidi and line-separator characters as visible escapes (``\\x1b``, ``\\u202e``)."""
    from newsletter.subscriptions.rules import unsafe_char

    return Text("".join(_escaped(ch) if unsafe_char(ch) else ch for ch in value))


def _escaped(ch: str) -> str:
    return f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"


@subscribers_app.command("list")
def list_(
    region: Annotated[str | None, typer.Option(help="Nur diese Region.")] = None,
    status: Annotated[
        str | None, typer.Option(help="pending, confirmed oder unsubscribed.")
    ] = None,
) -> None:
    """Adressen mit Status je Region."""
    from newsletter.store import subscribers as store
    from newsletter.store.db import transaction

    with open_context() as ctx, transaction(ctx.engine) as conn:
        rows = store.list_subscribers(conn, region=region, status=status)
    table = Table("E-Mail", "Name", "Organisation", "Regionen", "Fehler", "gesperrt")
    for sub in rows:
        regions = ", ".join(f"{r} ({s})" for r, s in sorted(sub.subscriptions.items()))
        table.add_row(
            shown(sub.email),
            shown(sub.name),
            shown(sub.organisation),
            regions,
            str(sub.bounce_count),
            "ja" if sub.suspended else "",
        )
    console.print(table)


@subscribers_app.command("add")
def add(
    address: str,
    region: Annotated[list[str], typer.Option("--region", "-r", help="Region (mehrfach).")],
    name: Annotated[str, typer.Option(help="Name.")] = "",
    organisation: Annotated[str, typer.Option(help="Kommune oder Organisation.")] = "",
    confirmed: Annotated[
        bool, typer.Option("--confirmed", help="Ohne Bestätigungsmail (Grund nötig).")
    ] = False,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Grund für --confirmed, wird protokolliert.")
    ] = None,
) -> None:
    """Adresse eintragen: Bestätigungsmail, oder mit --confirmed --reason sofort aktiv."""
    if confirmed and not reason:
        raise fail("--confirmed braucht --reason (die Einwilligung muss belegbar sein).", 64)
    from newsletter.subscriptions import service as subscriptions

    with open_context() as ctx:
        outcome = subscriptions.admin_add(
            ctx,
            email=address,
            regions=region,
            name=name,
            organisation=organisation,
            confirmed_reason=reason if confirmed else None,
            actor="cli",
        )
    console.print("Eingetragen." if confirmed else f"Ergebnis: {outcome}")


@subscribers_app.command("remove")
def remove(address: str) -> None:
    """Alle Regionen abbestellen (die Einwilligungshistorie bleibt)."""
    from newsletter.store import subscribers as store
    from newsletter.store.db import transaction
    from newsletter.subscriptions import rules
    from newsletter.subscriptions import service as subscriptions

    with open_context() as ctx:
        with transaction(ctx.engine) as conn:
            sub = store.find_by_email(conn, rules.normalise_email(address))
        if sub is None:
            raise fail(f"{address} ist nicht eingetragen.", 66)
        subscriptions.unsubscribe(ctx, sub.id, None, rules.Request(actor="cli"), "admin")
    console.print(f"{address} erhält keine Newsletter mehr.")


@subscribers_app.command("import")
def import_(
    file: Path,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Nur prüfen, nichts speichern.")
    ] = False,
    confirmed: Annotated[
        bool, typer.Option("--confirmed", help="Ohne Bestätigungsmails (Grund nötig).")
    ] = False,
    reason: Annotated[str | None, typer.Option("--reason", help="Grund für --confirmed.")] = None,
) -> None:
    """CSV-Liste einlesen; Bericht je Zeile. Exit-Code 65, wenn Zeilen abgelehnt wurden."""
    if confirmed and not reason:
        raise fail("--confirmed braucht --reason.", 64)
    from newsletter.subscriptions import roster

    with open_context() as ctx:
        reports = roster.import_roster(
            ctx,
            file.read_bytes(),
            filename=file.name,
            actor="cli",
            confirmed_reason=reason if confirmed else None,
            dry_run=dry_run,
        )
        if not dry_run:
            counts = {k: sum(r.outcome == k for r in reports) for k in OUTCOMES}
            cli_audit.record_import(ctx, file.name, counts, confirmed=confirmed)
    table = Table("Zeile", "E-Mail", "Ergebnis", "Organisation", "Regionen", "Grund")
    for report in reports:
        reason = report.reason + (f" (Vorschlag: {report.suggestion})" if report.suggestion else "")
        table.add_row(
            str(report.line),
            shown(report.email),
            OUTCOMES[report.outcome],
            shown(report.organisation),
            ", ".join(report.regions),
            shown(reason),
        )
    console.print(table)
    console.print(
        "Neue Adressen werden ohne Bestätigungs-E-Mail eingetragen (--confirmed)."
        if confirmed
        else "Neue Adressen bekommen eine Bestätigungs-E-Mail."
    )
    counts = {k: sum(r.outcome == k for r in reports) for k in OUTCOMES}
    console.print(
        ("Probelauf – nichts gespeichert. " if dry_run else "")
        + ", ".join(f"{n} {OUTCOMES[k]}" for k, n in counts.items())
    )
    if counts["rejected"]:
        raise typer.Exit(65)


@subscribers_app.command("export")
def export(
    region: Annotated[str | None, typer.Option(help="Nur diese Region.")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Datei (sonst Standardausgabe).")
    ] = None,
) -> None:
    """Aktive und unbestätigte Adressen als CSV (Importformat)."""
    from newsletter.subscriptions import roster

    with open_context() as ctx:
        text = roster.export_roster(ctx, region)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


@subscribers_app.command("forget")
def forget(address: str) -> None:
    """DSGVO Art. 17: personenbezogene Daten löschen; ein Prüfwert verhindert Wieder-Import."""
    from newsletter.subscriptions import privacy

    with open_context() as ctx:
        found = privacy.forget(ctx, address, actor="cli")
    console.print("Gelöscht." if found else "Nicht eingetragen; Adresse trotzdem gesperrt.")


@subscribers_app.command("consent")
def consent(address: str) -> None:
    """Einwilligungsnachweis einer Adresse (für Behörden)."""
    from newsletter.subscriptions import privacy

    with open_context() as ctx:
        events = privacy.consent_record(ctx, address)
    if not events:
        raise fail(f"Für {address} gibt es keine Einträge.", 66)
    table = Table("Zeit (UTC)", "Ereignis", "Regionen", "Textfassung", "IP", "durch", "Hinweis")
    for e in events:
        table.add_row(
            str(e["at"])[:19],
            e["event"],
            ", ".join(e["regions"]),
            e["text_version"] or "",
            e["ip"] or "",
            e["actor"] or "",
            str(e["detail"].get("note", "")),
        )
    console.print(table)
    wording = next((e["wording"] for e in events if e["wording"]), None)
    if wording:
        console.print(f"Wortlaut der Einwilligung: {wording}")


@subscribers_app.command("export-personal-data")
def export_personal_data(address: str) -> None:
    """DSGVO Art. 15: alle gespeicherten Daten einer Adresse als JSON (mit Versandliste)."""
    from newsletter.subscriptions import privacy

    with open_context() as ctx:
        data = privacy.personal_data(ctx, address)
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
