"""``newsletter digest editorial``, ``digest drafts``, ``digest approve``: the editor's word
and approval (``schedule.approval = "manual"``) on the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from newsletter.cli.base import console, fail, open_context
from newsletter.cli.send import digest_app

ACTOR = "cli"  # the audit log's name for the command line


@digest_app.command("editorial")
def editorial(
    region: Annotated[str | None, typer.Option("--region", "-r", help="Region.")] = None,
    all_regions: Annotated[bool, typer.Option("--all", help="Für alle Regionen.")] = False,
    text: Annotated[str | None, typer.Option("--text", help="Einleitung (Markdown).")] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="Einleitung aus dieser Datei (Markdown).")
    ] = None,
    pin: Annotated[
        list[str] | None, typer.Option("--pin", help="Meldung oben anheften (mehrfach).")
    ] = None,
    leave_out: Annotated[
        list[str] | None, typer.Option("--leave-out", help="Meldung weglassen (mehrfach).")
    ] = None,
) -> None:
    """Einleitung, angeheftete und weggelassene Meldungen für den nächsten Newsletter."""
    from newsletter import editor
    from newsletter.models import ALL_REGIONS

    if all_regions == (region is not None):
        raise fail("Bitte entweder --region REGION oder --all angeben.", 64)
    if text is not None and file is not None:
        raise fail("Bitte entweder --text oder --file angeben, nicht beides.", 64)
    intro = file.read_text(encoding="utf-8") if file is not None else (text or "")
    scope = ALL_REGIONS if all_regions else str(region)
    with open_context() as ctx:
        saved = editor.save(
            ctx, scope, intro, pinned=pin or [], excluded=leave_out or [], actor=ACTOR
        )
    where = "alle Regionen" if all_regions else scope
    console.print(
        f"Gespeichert für {where}: Einleitung {len(saved.intro_md)} Zeichen, "
        f"{len(saved.pinned)} angeheftet, {len(saved.excluded)} weggelassen.",
        highlight=False,
    )


@digest_app.command("drafts")
def drafts() -> None:
    """Entwürfe, die auf »Freigeben und senden« warten."""
    from newsletter.history import age_text
    from newsletter.store import drafts as draft_store
    from newsletter.store.db import transaction, utcnow

    with open_context() as ctx, transaction(ctx.engine) as conn:
        rows = draft_store.waiting(conn)
    if not rows:
        console.print("Keine Entwürfe warten auf Freigabe.")
        return
    table = Table("Nr.", "Region", "Betreff", "Zeitraum bis", "Meldungen", "wartet")
    now = utcnow()
    for row in rows:
        table.add_row(
            str(row.id),
            row.region,
            row.subject,
            row.period_end.strftime("%d.%m.%Y %H:%M UTC"),
            str(row.items),
            age_text(row.created_at, now),
        )
    console.print(table)


@digest_app.command("approve")
def approve(draft_id: Annotated[int, typer.Argument(help="Nummer des Entwurfs.")]) -> None:
    """Einen Entwurf freigeben und senden (das Protokoll nennt die Kommandozeile)."""
    from newsletter.mail import approval, sending
    from newsletter.models import SendStatus

    with open_context() as ctx:
        result = approval.approve(ctx, draft_id, ACTOR)
        if result.status != SendStatus.QUEUED:
            console.print(f"{result.region}: nichts zu senden (schon versandt oder leer).")
            return
        stats = sending.drain_queue(ctx)
    console.print(
        f"{result.region}: freigegeben, {result.items} Meldungen an {result.recipients} "
        f"Empfänger; jetzt gesendet: {stats.sent}.",
        highlight=False,
    )
