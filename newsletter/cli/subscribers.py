"""``newsletter subscribers …``: partner addresses, rosters, consent proof, DSGVO requests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from newsletter.cli import audit as cli_audit
from newsletter.cli import output
from newsletter.cli.base import app, console, fail, is_interactive, open_context
from newsletter.cli.german import App, ParameterError
from newsletter.cli.output import shown
from newsletter.cli.regionarg import configured_key, configured_keys
from newsletter.models import LinesDone, Progress, SubscriptionStatus  # stdlib only

if TYPE_CHECKING:
    pass

subscribers_app = App(help="Abonnentinnen und Abonnenten verwalten.", no_args_is_help=True)
app.add_typer(subscribers_app, name="subscribers")
AddressArg = Annotated[str, typer.Argument(metavar="ADRESSE", help="E-Mail-Adresse.")]
RegionOption = Annotated[
    str | None, typer.Option(metavar="REGION", help="Nur diese Region (Schlüssel oder Name).")
]
STATUS_TEXT = {
    SubscriptionStatus.PENDING: "unbestätigt",
    SubscriptionStatus.CONFIRMED: "aktiv",
    SubscriptionStatus.UNSUBSCRIBED: "abbestellt",
}
OUTCOMES = {
    "added": "neu",
    "updated": "ergänzt",
    "unchanged": "unverändert",
    "rejected": "abgelehnt",
}


@subscribers_app.command("list")
def list_(
    region: RegionOption = None,
    status: Annotated[
        str | None,
        typer.Option(metavar="STATUS", help="pending, confirmed oder unsubscribed."),
    ] = None,
) -> None:
    """Adressen mit Status je Region."""
    from newsletter.cli.regionarg import region_names
    from newsletter.store import subscribers as store
    from newsletter.store.db import transaction

    if status is not None and status not in STATUS_TEXT:
        known = ", ".join(STATUS_TEXT)
        raise ParameterError(
            f"Unbekannter Status »{status}«; möglich: {known}.", param_hint="--status"
        )
    key = configured_key(region) if region is not None else None
    with open_context() as ctx, transaction(ctx.engine) as conn:
        rows = store.list_subscribers(conn, region=key, status=status)
    table = output.table(
        "E-Mail", "Fehler", "gesperrt", "Regionen", "Name", "Organisation",
        long=("E-Mail", "Regionen", "Name", "Organisation"),
    )  # fmt: skip
    for sub in rows:
        regions = ", ".join(
            f"{region_names([r])} ({STATUS_TEXT.get(s, s)})"
            for r, s in sorted(sub.subscriptions.items())
        )
        table.add_row(
            shown(sub.email),
            str(sub.bounce_count),
            "ja" if sub.suspended else "",
            regions,
            shown(sub.name),
            shown(sub.organisation),
        )
    output.show(console, table)
    console.print(output.count(len(rows), "Adresse", "Adressen") + ".", highlight=False)


@subscribers_app.command("add")
def add(
    address: AddressArg,
    region: Annotated[
        list[str],
        typer.Option(
            "--region", "-r", metavar="REGION", help="Region, Schlüssel oder Name (mehrfach)."
        ),
    ],
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
        raise ParameterError("--confirmed braucht --reason (die Einwilligung muss belegbar sein).")
    from newsletter.subscriptions import service as subscriptions

    keys = configured_keys(region)
    with open_context() as ctx:
        outcome = subscriptions.admin_add(
            ctx,
            email=address,
            regions=keys,
            name=name,
            organisation=organisation,
            confirmed_reason=reason if confirmed else None,
            actor="cli",
        )
    console.print("Eingetragen." if confirmed else f"Ergebnis: {outcome}")


@subscribers_app.command("remove")
def remove(address: AddressArg) -> None:
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
    file: Annotated[Path, typer.Argument(metavar="DATEI", help="CSV-Datei.")],
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
        raise ParameterError("--confirmed braucht --reason.")
    from newsletter.subscriptions import roster

    with open_context() as ctx, _import_bar(file.name) as progress:
        reports = roster.import_roster(
            ctx,
            file.read_bytes(),
            filename=file.name,
            actor="cli",
            confirmed_reason=reason if confirmed else None,
            dry_run=dry_run,
            progress=progress,
        )
        if not dry_run:
            counts = {k: sum(r.outcome == k for r in reports) for k in OUTCOMES}
            cli_audit.record_import(ctx, file.name, counts, confirmed=confirmed)
    table = output.table(
        "Zeile", "Ergebnis", "E-Mail", "Organisation", "Regionen", "Grund",
        long=("E-Mail", "Organisation", "Grund"),
    )  # fmt: skip
    for report in reports:
        reason = report.reason + (f" (Vorschlag: {report.suggestion})" if report.suggestion else "")
        table.add_row(
            str(report.line),
            OUTCOMES[report.outcome],
            shown(report.email),
            shown(report.organisation),
            ", ".join(report.regions),
            shown(reason),
        )
    output.show(console, table)
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
    region: RegionOption = None,
    target: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="DATEI", help="Datei (sonst Standardausgabe)."),
    ] = None,
) -> None:
    """Aktive und unbestätigte Adressen als CSV (Importformat)."""
    from newsletter.subscriptions import roster

    key = configured_key(region) if region is not None else None
    with open_context() as ctx:
        text = roster.export_roster(ctx, key)
    if target is None:
        typer.echo(text, nl=False)
    else:
        target.write_text(text, encoding="utf-8")


@subscribers_app.command("forget")
def forget(address: AddressArg) -> None:
    """DSGVO Art. 17: personenbezogene Daten löschen; ein Prüfwert verhindert Wieder-Import."""
    from newsletter.subscriptions import privacy

    with open_context() as ctx:
        found = privacy.forget(ctx, address, actor="cli")
    console.print("Gelöscht." if found else "Nicht eingetragen; Adresse trotzdem gesperrt.")


@subscribers_app.command("consent")
def consent(address: AddressArg) -> None:
    """Einwilligungsnachweis einer Adresse (für Behörden)."""
    from newsletter.subscriptions import privacy

    with open_context() as ctx:
        events = privacy.consent_record(ctx, address)
        tz = output.zone(ctx.config)
    if not events:
        raise fail(f"Für {address} gibt es keine Einträge.", 66)
    table = output.table(
        "Zeit", "Ereignis", "Regionen", "Textfassung", "IP", "durch", "Hinweis",
        long=("Regionen", "Hinweis"),
    )  # fmt: skip
    for e in events:
        table.add_row(
            output.local(e.at, tz),
            e.event,
            ", ".join(e.regions),
            e.text_version or "",
            e.ip or "",
            e.actor or "",
            shown(str(e.detail.get("note", ""))),
        )
    output.show(console, table)
    console.print(output.time_note(tz), highlight=False)
    wording = next((e.wording for e in events if e.wording), None)
    if wording:
        console.print(f"Wortlaut der Einwilligung: {wording}")


@subscribers_app.command("export-personal-data")
def export_personal_data(address: AddressArg) -> None:
    """DSGVO Art. 15: alle gespeicherten Daten einer Adresse als JSON (mit Versandliste)."""
    from newsletter.subscriptions import privacy

    with open_context() as ctx:
        data = privacy.personal_data(ctx, address)
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@contextmanager
def _import_bar(name: str) -> Iterator[Progress[LinesDone] | None]:
    """On a terminal: a bar with rows done of all and how long the rest takes."""
    if not is_interactive():
        yield None
        return
    import time

    started = time.monotonic()
    with output.bar(f"{name} einlesen") as show:

        def advance(lines: LinesDone) -> None:
            done, total = lines
            show(
                done, total, output.progress_line(done, total, "Zeilen", time.monotonic() - started)
            )

        yield advance
