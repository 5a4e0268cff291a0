"""``newsletter send``, ``digest preview``, ``digests``, ``deliveries``, ``worker``."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from newsletter.cli.base import app, console, fail, get_config, open_context
from newsletter.models import DeliveryStatus  # stdlib only

if TYPE_CHECKING:
    from newsletter.mail.outbox import DrainStats
    from newsletter.mail.sending import SendResult
    from newsletter.models import Progress as ProgressCallback

digest_app = typer.Typer(help="Newsletter-Vorschau.", no_args_is_help=True)
app.add_typer(digest_app, name="digest")

STATUSES = tuple(DeliveryStatus)
MESSAGES = {
    "sent": "versendet",
    "nothing_new": "nichts Neues – kein Newsletter",
    "already_sent": "für diesen Zeitraum schon versendet",
    "dry_run": "Probelauf – nichts versendet",
    "test_sent": "Testversand verschickt",
}


@app.command()
def send(
    region: Annotated[
        list[str] | None, typer.Option("--region", "-r", help="Region (mehrfach möglich).")
    ] = None,
    all_regions: Annotated[bool, typer.Option("--all", help="Alle Regionen.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Nur zeigen, was versendet würde.")
    ] = False,
    to: Annotated[
        str | None, typer.Option("--to", help="Testversand an diese eine Adresse.")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Auch ohne neue Meldungen (letzten Zeitraum erneut).")
    ] = False,
) -> None:
    """Newsletter jetzt bauen und versenden (derselbe Weg wie der Zeitplan)."""
    config = get_config()
    if all_regions and region:
        raise fail("Bitte entweder --region oder --all angeben, nicht beides.", 64)
    keys = [r.key for r in config.region_list()] if all_regions else (region or [])
    if not keys:
        raise fail("Bitte --region REGION oder --all angeben.", 64)
    from newsletter.mail import sending

    table = Table(
        "Region", "Ergebnis", "Meldungen", "Empfänger", "gesendet", "fehlgeschlagen", "später"
    )
    paused: str | None = None
    throttled: datetime | None = None
    with open_context() as ctx:
        if all_regions and to is None and not force:  # one moment: one mail per subscriber
            with progress_bar("alle Regionen") as progress:
                results, stats = sending.send_slot(ctx, keys, dry_run=dry_run, progress=progress)
            for result in results:
                _result_row(table, result.region, result, None)
            if stats is not None:
                table.add_row("gesamt", "", "", "", *_stats_cells(stats))
            keys = []
            paused = stats.unavailable if stats else None
            throttled = stats.throttled_until if stats else None
        for key in keys:
            with progress_bar(key) as progress:
                result = sending.send_region(
                    ctx, key, dry_run=dry_run, to=to, force=force, progress=progress
                )
            stats = result.stats
            paused = paused or (stats.unavailable if stats else None)
            throttled = throttled or (stats.throttled_until if stats else None)
            _result_row(table, key, result, stats)
    console.print(table)
    if paused:
        console.print(f"[yellow]Versand pausiert ({paused}); der Worker sendet den Rest später.[/]")
    if throttled:
        console.print(
            "[yellow]Stundenlimit (mail.rate_per_hour) erreicht; der Worker sendet den Rest "
            f"ab {throttled.astimezone(ZoneInfo(config.site.timezone)):%H:%M} Uhr.[/]"
        )


def _result_row(table: Table, key: str, result: SendResult, stats: DrainStats | None) -> None:
    """One line per digest (a combined mail's key joins its regions with »+«)."""
    label = f"{key} (gemeinsame E-Mail)" if "+" in key else key
    cells = (
        (MESSAGES[result.status], str(result.items), str(result.recipients))
        if result.status != "queued"
        else ("eingereiht", str(result.items), str(result.recipients))
    )
    table.add_row(label, *cells, *_stats_cells(stats))


def _stats_cells(stats: DrainStats | None) -> tuple[str, str, str]:
    if stats is None:
        return ("–", "–", "–")
    return (str(stats.sent), str(stats.failed), str(stats.retried))


@contextmanager
def progress_bar(region: str) -> Iterator[ProgressCallback[DrainStats] | None]:
    """On a terminal: a live line with sent / failed / retrying and the rate."""
    if not console.is_terminal:
        yield None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("gesendet {task.fields[sent]} · fehlgeschlagen {task.fields[failed]}"),
        TextColumn("· später {task.fields[retried]} · {task.fields[rate]} Mails/s"),
        TimeElapsedColumn(),
    )
    started = time.monotonic()
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(region, total=None, sent=0, failed=0, retried=0, rate="–")

        def update(stats: DrainStats) -> None:
            rate = stats.handled / max(time.monotonic() - started, 1e-6)
            bar.update(
                task,
                sent=stats.sent,
                failed=stats.failed,
                retried=stats.retried,
                rate=f"{rate:.0f}",
            )

        yield update


@digest_app.command("preview")
def preview(
    region: Annotated[str | None, typer.Option("--region", "-r", help="Region.")] = None,
    all_regions: Annotated[
        bool,
        typer.Option(
            "--all", help="Die gemeinsame E-Mail aller Regionen (ein Abonnent von allen)."
        ),
    ] = False,
    html: Annotated[
        Path | None, typer.Option("--html", help="HTML in diese Datei schreiben.")
    ] = None,
    text: Annotated[bool, typer.Option("--text", help="Den Textteil ausgeben.")] = False,
    open_browser: Annotated[bool, typer.Option("--open", help="HTML im Browser öffnen.")] = False,
) -> None:
    """Den nächsten Newsletter einer Region (oder mit --all die gemeinsame E-Mail aller
    Regionen) zeigen, ohne ihn zu versenden."""
    if (region is None) == (not all_regions):
        raise fail("Bitte entweder --region REGION oder --all angeben.", 64)
    from newsletter.mail import sending

    with open_context() as ctx:
        if region is not None:
            digest = sending.preview(ctx, region)
        else:
            digest = sending.preview_combined(ctx, [r.key for r in ctx.config.region_list()])
        checks = sending.needing_check(ctx, digest) if digest is not None else []
    if digest is None:
        raise fail(f"Für »{region or 'alle Regionen'}« gibt es keine Meldungen.", 1)
    console.print(f"[bold]Betreff:[/] {digest.subject}  ({len(digest.item_ids)} Meldungen)")
    for item in checks:
        console.print(sending.check_note(item), style="yellow", markup=False, highlight=False)
    if html is not None:
        html.write_text(digest.html, encoding="utf-8")
        console.print(f"HTML geschrieben: {html}")
        if open_browser:
            import webbrowser

            webbrowser.open(html.resolve().as_uri())
    if text or html is None:
        console.print(digest.text, markup=False, highlight=False)


@app.command()
def digests() -> None:
    """Versendete Newsletter: Region, Zeitraum, Meldungen, Empfänger, Zustellungen."""
    from newsletter.history import trigger_label
    from newsletter.store import digests as digest_store
    from newsletter.store.db import transaction

    with open_context() as ctx, transaction(ctx.engine) as conn:
        rows = digest_store.history(conn)
    table = Table(
        "Nr.",
        "Region",
        "Zeitraum",
        "Meldungen",
        "Empfänger",
        "gesendet",
        "fehlgeschlagen",
        "Auslöser",
    )
    for row in rows:
        start = row.period_start
        period = f"{start:%d.%m.%Y %H:%M} – " if start else "bis "
        table.add_row(
            str(row.id),
            row.region,
            period + row.period_end.strftime("%d.%m.%Y %H:%M"),
            str(len(row.item_ids)),
            str(row.total),
            str(row.sent),
            str(row.failed),
            trigger_label(row.triggered_by),
        )
    console.print(table)


@app.command()
def deliveries(
    digest: Annotated[int | None, typer.Option("--digest", help="Nur dieser Newsletter.")] = None,
    status: Annotated[
        str | None,
        typer.Option("--status", help="queued, sending, sent, retry, failed, cancelled."),
    ] = None,
) -> None:
    """Zustellungen mit Status und Antwort des Mailservers."""
    if status is not None and status not in STATUSES:
        raise fail(f"Unbekannter Status »{status}«; möglich: {', '.join(STATUSES)}.", 64)
    from newsletter.store import outbox as queue
    from newsletter.store.db import transaction

    with open_context() as ctx, transaction(ctx.engine) as conn:
        chosen = None if status is None else DeliveryStatus(status)
        rows = queue.list_deliveries(conn, digest_id=digest, status=chosen)
    table = Table("Nr.", "Newsletter", "Adresse", "Status", "Versuche", "Antwort")
    for row in rows:
        table.add_row(
            str(row.id),
            str(row.digest_id or row.kind),
            row.address,
            row.status,
            str(row.attempts),
            (row.last_reply or "")[:80],
        )
    console.print(table)


@app.command()
def worker(
    poll: Annotated[
        float, typer.Option(help="Sekunden zwischen Abfragen, wenn nichts ansteht.")
    ] = 2.0,
) -> None:
    """Nur versenden (für weitere Versandprozesse); endet sauber bei SIGTERM."""
    from newsletter.mail.outbox import run_worker_blocking, worker_name

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    name = worker_name()
    with open_context() as ctx:
        console.print(f"Versand-Worker {name} läuft (Strg+C beendet).")
        run_worker_blocking(ctx, stop, name, poll)
