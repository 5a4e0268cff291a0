"""``newsletter digest editorial``, ``digest drafts``, ``digest approve``: the editor's word
and approval (``schedule.approval = "manual"``) on the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from newsletter.cli import output
from newsletter.cli.base import console, open_context
from newsletter.cli.german import ParameterError
from newsletter.cli.regionarg import configured_key, region_names
from newsletter.cli.send import digest_app

ACTOR = "cli"  # the audit log's name for the command line


@digest_app.command("editorial")
def editorial(
    region: Annotated[
        str | None,
        typer.Option("--region", "-r", metavar="REGION", help="Region, Schlüssel oder Name."),
    ] = None,
    all_regions: Annotated[bool, typer.Option("--all", help="Für alle Regionen.")] = False,
    text: Annotated[
        str | None, typer.Option("--text", metavar="TEXT", help="Einleitung (Markdown).")
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", metavar="DATEI", help="Einleitung aus dieser Datei (Markdown)."),
    ] = None,
    pin: Annotated[
        list[str] | None,
        typer.Option("--pin", metavar="ID", help="Meldung oben anheften (mehrfach)."),
    ] = None,
    leave_out: Annotated[
        list[str] | None,
        typer.Option("--leave-out", metavar="ID", help="Meldung weglassen (mehrfach)."),
    ] = None,
) -> None:
    """Einleitung, angeheftete und weggelassene Meldungen für den nächsten Newsletter."""
    from newsletter import editor
    from newsletter.models import ALL_REGIONS

    if all_regions == (region is not None):
        raise ParameterError("Bitte entweder --region REGION oder --all angeben.")
    if text is not None and file is not None:
        raise ParameterError("Bitte entweder --text oder --file angeben, nicht beides.")
    scope = ALL_REGIONS if all_regions else configured_key(str(region))
    intro = file.read_text(encoding="utf-8") if file is not None else (text or "")
    with open_context() as ctx:
        saved = editor.save(
            ctx, scope, intro, pinned=pin or [], excluded=leave_out or [], actor=ACTOR
        )
    where = "alle Regionen" if all_regions else region_names([scope])
    console.print(
        f"Gespeichert für {where}: Einleitung {len(saved.intro_md)} Zeichen, "
        f"{len(saved.pinned)} angeheftet, {len(saved.excluded)} weggelassen.",
        highlight=False,
    )


@digest_app.command("drafts")
def drafts() -> None:
    """Entwürfe, die auf »Freigeben und senden« warten (je Termin zusammen freizugeben)."""
    from newsletter.history import age_text
    from newsletter.mail.approval import slots
    from newsletter.store import drafts as draft_store
    from newsletter.store.db import transaction, utcnow

    with open_context() as ctx, transaction(ctx.engine) as conn:
        waiting = slots(ctx.config, draft_store.waiting(conn))
        tz = output.zone(ctx.config)
    if not waiting:
        console.print("Keine Entwürfe warten auf Freigabe.")
        return
    table = output.table(
        "Nr.", "Zeitraum bis", "Meld.", "wartet", "Region", "Betreff", long=("Region", "Betreff")
    )
    now = utcnow()
    for slot in waiting:
        for row in slot.drafts:
            table.add_row(
                str(row.id),
                output.local(row.period_end, tz),
                str(row.items),
                age_text(row.created_at, now),
                region_names([row.region]),
                output.shown(row.subject),
            )
    output.show(console, table)
    console.print(
        f"Meld. = Meldungen. Die Entwürfe eines Termins werden zusammen freigegeben "
        f"(newsletter digest approve NR mit einer ihrer Nummern). {output.time_note(tz)}",
        highlight=False,
    )


@digest_app.command("approve")
def approve(
    draft_id: Annotated[int, typer.Argument(metavar="NR", help="Nummer des Entwurfs.")],
) -> None:
    """Einen Entwurf freigeben und senden, mit allen Entwürfen seines Termins (wer mehrere
    dieser Regionen abonniert hat, erhält eine gemeinsame E-Mail; das Protokoll nennt die
    Kommandozeile)."""
    from newsletter.mail import approval, sending

    with open_context() as ctx:
        result = approval.approve(ctx, draft_id, ACTOR)
        if not result.queued:
            console.print(
                f"{region_names(list(result.regions))}: nichts zu senden (schon versandt oder leer).",
                highlight=False,
            )
            return
        stats = sending.drain_queue(ctx)
    console.print(
        f"{region_names(list(result.regions))}: freigegeben, {result.mails} "
        f"{'E-Mail' if result.mails == 1 else 'E-Mails'} eingereiht; jetzt gesendet: {stats.sent}.",
        highlight=False,
    )
