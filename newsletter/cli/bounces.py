"""``newsletter bounces process|list|show``: the bounce mailbox by hand."""

from __future__ import annotations

from typing import Annotated

import typer

from newsletter.cli import output
from newsletter.cli.base import app, console, open_context
from newsletter.cli.german import App
from newsletter.cli.output import shown
from newsletter.errors import ConfigError, NotFoundError
from newsletter.models import BOUNCE_KIND_NAMES  # stdlib only

bounces_app = App(help="Rückläufer und Beschwerden.", no_args_is_help=True)
app.add_typer(bounces_app, name="bounces")


@bounces_app.command("process")
def process() -> None:
    """Das Rückläufer-Postfach jetzt lesen und Adressen sperren oder abmelden."""
    from newsletter.mail.bounces import run_bounce_job

    with open_context() as ctx:
        stats = run_bounce_job(ctx)
    if stats is None:
        raise ConfigError(
            'Kein Rückläufer-Postfach eingerichtet (bounces.mailbox = "none").',
            key="bounces.mailbox",
        )
    console.print(
        f"{stats.read} Nachrichten gelesen: {stats.hard} dauerhafte, {stats.soft} vorübergehende "
        f"Rückläufer, {stats.complaints} Beschwerden, {stats.policy} Richtlinien-Ablehnungen; "
        f"{stats.ignored} übergangen (Abwesenheitsnotizen, Warnungen, doppelt), "
        f"{stats.unrecognised} nicht erkannt (markiert im Postfach), "
        f"{stats.unmatched} nicht zugeordnet.",
        highlight=False,
    )
    console.print(
        f"{stats.suspended} Adressen gesperrt, {stats.unsubscribed} abgemeldet.", highlight=False
    )


@bounces_app.command("list")
def list_(
    address: Annotated[
        str | None, typer.Option("--address", metavar="ADRESSE", help="Nur diese Adresse.")
    ] = None,
    limit: Annotated[
        int, typer.Option(metavar="ANZAHL", help="Höchstens so viele.", min=1, max=1000)
    ] = 50,
) -> None:
    """Die letzten Rückläufer mit Status, Antwort des Servers und Folge."""
    from newsletter.localtime import german_short
    from newsletter.store import bounces as store
    from newsletter.store.db import transaction

    with open_context() as ctx, transaction(ctx.engine) as conn:
        rows = store.of_address(conn, address, limit) if address else store.recent(conn, limit)
        tz = ctx.config.site.timezone
    from zoneinfo import ZoneInfo

    table = output.table(
        "Nr.", "Eingang", "Art", "Status", "Adresse", "Antwort", "Folge",
        long=("Adresse", "Antwort", "Folge"),
    )  # fmt: skip
    for row in rows:
        table.add_row(
            str(row.id),
            german_short(row.received_at, ZoneInfo(tz)),
            BOUNCE_KIND_NAMES.get(row.kind, row.kind),
            shown(row.status or "–"),
            shown(row.address),
            shown(row.diagnostic[:80]),
            shown(row.action),
        )
    output.show(console, table)
    console.print("Zeiten in Ortszeit (" + tz + ").", highlight=False)


@bounces_app.command("show")
def show(
    bounce_id: Annotated[int, typer.Argument(help="Nummer aus »bounces list«.", min=1)],
) -> None:
    """Einen Rückläufer mit der vollständigen Nachricht (gekürzt auf 64 000 Zeichen)."""
    from newsletter.store import bounces as store
    from newsletter.store.db import transaction

    with open_context() as ctx, transaction(ctx.engine) as conn:
        row = store.get(conn, bounce_id)
    if row is None:
        raise NotFoundError(f"Einen Rückläufer Nr. {bounce_id} gibt es nicht.")
    for label, value in (
        ("Adresse", row.address),
        ("Art", BOUNCE_KIND_NAMES.get(row.kind, row.kind)),
        ("Status", row.status or "–"),
        ("Antwort", row.diagnostic or "–"),
        ("Gemeldet von", row.reporter or "–"),
        ("Folge", row.action),
    ):
        console.print(f"{label}: ", shown(value), sep="", highlight=False, soft_wrap=True)
    console.print()
    for line in row.raw.expandtabs(8).splitlines():  # escaped line by line: no terminal codes
        console.print(shown(line), highlight=False, soft_wrap=True)
