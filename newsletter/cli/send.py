"""``newsletter send``, ``digest preview``, ``digests``, ``deliveries``, ``worker``."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from newsletter.cli import audit as cli_audit
from newsletter.cli import output
from newsletter.cli.base import app, console, fail, get_config, is_interactive, open_context
from newsletter.cli.german import App, ParameterError
from newsletter.cli.regionarg import configured_key, configured_keys
from newsletter.models import SendStatus  # stdlib only

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from newsletter.context import Context
    from newsletter.mail.outbox import DrainStats
    from newsletter.mail.sending import SendResult
    from newsletter.models import DeliveryStatus
    from newsletter.models import Progress as ProgressCallback

digest_app = App(help="Newsletter-Vorschau.", no_args_is_help=True)
app.add_typer(digest_app, name="digest")

MESSAGES = {
    SendStatus.SENT: "versendet",
    SendStatus.QUEUED: "eingereiht",
    SendStatus.NOTHING_NEW: "nichts Neues – kein Newsletter",
    SendStatus.ALREADY_SENT: "für diesen Zeitraum schon versendet",
    SendStatus.DRY_RUN: "Probelauf – nichts versendet",
    SendStatus.TEST_SENT: "Testversand verschickt",
}


RegionsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--region", "-r", metavar="REGION", help="Region, Schlüssel oder Name (mehrfach möglich)."
    ),
]


@app.command()
def send(
    region: RegionsOption = None,
    all_regions: Annotated[bool, typer.Option("--all", help="Alle Regionen.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Nur zeigen, was versendet würde.")
    ] = False,
    to: Annotated[
        str | None,
        typer.Option("--to", metavar="ADRESSE", help="Testversand an diese eine Adresse."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Auch ohne neue Meldungen (letzten Zeitraum erneut).")
    ] = False,
) -> None:
    """Newsletter jetzt bauen und versenden (derselbe Weg wie der Zeitplan)."""
    config = get_config()
    if all_regions and region:
        raise ParameterError("Bitte entweder --region oder --all angeben, nicht beides.")
    keys = [r.key for r in config.region_list()] if all_regions else configured_keys(region or [])
    if not keys:
        raise ParameterError("Bitte --region REGION oder --all angeben.")
    from newsletter.mail import sending

    results: list[tuple[SendResult, dict[DeliveryStatus, int]]] = []
    slot_stats: DrainStats | None = None
    with open_context() as ctx:
        if all_regions and to is None and not force:  # one moment: one mail per subscriber
            with progress_bar(ctx, "+".join(keys)) as progress:
                slot, slot_stats = sending.send_slot(ctx, keys, dry_run=dry_run, progress=progress)
            for result in slot:
                cli_audit.record_send(ctx, result, dry_run=dry_run, to=None)
                results.append((result, _counts(ctx, result)))
            keys = []
        for key in keys:
            with progress_bar(ctx, key) as progress:
                result = sending.send_region(
                    ctx, key, dry_run=dry_run, to=to, force=force, progress=progress
                )
            cli_audit.record_send(ctx, result, dry_run=dry_run, to=to)
            results.append((result, _counts(ctx, result)))
    _print_results(results, slot_stats)
    stats = [slot_stats] + [result.stats for result, _ in results]
    _print_pauses(stats, output.zone(config))


def _counts(ctx: Context, result: SendResult) -> dict[DeliveryStatus, int]:
    """The digest's deliveries per status, read after the send: they add up to its
    recipients, also when a running worker sent part of them."""
    if result.digest_id is None:
        return {}
    from newsletter.store import outbox as queue
    from newsletter.store.db import transaction

    with transaction(ctx.engine) as conn:
        return queue.status_counts(conn, result.digest_id)


def _print_results(
    results: list[tuple[SendResult, dict[DeliveryStatus, int]]], slot: DrainStats | None = None
) -> None:
    """The table of what was sent; ``slot``: this process's numbers for the results of
    one slot send (they share one drain), to tell what a running worker sent besides."""
    from newsletter.cli.regionarg import region_names
    from newsletter.models import DeliveryStatus

    table = output.table(
        "Region", "Meldungen", "Empfänger", "gesendet", "fehlgeschl.", "offen", "Ergebnis",
        long=("Region", "Ergebnis"),
    )  # fmt: skip
    helped = 0
    handled_in_slot = 0
    for result, counts in results:
        sent, failed = counts.get(DeliveryStatus.SENT, 0), counts.get(DeliveryStatus.FAILED, 0)
        open_ = sum(counts.values()) - sent - failed
        known = result.stats is not None or bool(counts)
        if result.stats is None and slot is not None:
            handled_in_slot += sent + failed
        else:
            mine = result.stats.sent + result.stats.failed if result.stats else 0
            helped += max(sent + failed - mine, 0)
        label = region_names(result.region.split("+"))
        table.add_row(
            f"{label} (gemeinsame E-Mail)" if "+" in result.region else label,
            str(result.items),
            str(result.recipients),
            *(str(n) if known else "–" for n in (sent, failed, open_)),
            MESSAGES[result.status],
        )
    output.show(console, table)
    if slot is not None:
        helped += max(handled_in_slot - slot.sent - slot.failed, 0)
    if helped:
        mails = output.count(helped, "Mail", "Mails")
        console.print(
            f"{mails} davon hat ein laufender Versand-Worker gesendet (serve oder worker).",
            highlight=False,
        )


def _print_pauses(stats: list[DrainStats | None], tz: ZoneInfo) -> None:
    paused = next((s.unavailable for s in stats if s and s.unavailable), None)
    throttled = next((s.throttled_until for s in stats if s and s.throttled_until), None)
    if paused:
        console.print(f"[yellow]Versand pausiert ({paused}); der Worker sendet den Rest später.[/]")
    if throttled:
        console.print(
            "[yellow]Stundenlimit (mail.rate_per_hour) erreicht; der Worker sendet den Rest "
            f"ab {output.local(throttled, tz, '%H:%M')} Uhr.[/]"
        )


@contextmanager
def progress_bar(ctx: Context, region: str) -> Iterator[ProgressCallback[DrainStats] | None]:
    """On a terminal: a bar with sent of recipients, the rate and how long the rest takes.
    Counts come from the digest's deliveries (at most once a second), so mails a running
    worker sends move the bar too; this process's own numbers are newer between reads."""
    if not is_interactive():
        yield None
        return
    from newsletter.cli.regionarg import region_names

    started, read_at = time.monotonic(), 0.0
    sent = total = 0
    with output.bar(region_names(region.split("+"))) as show:

        def update(stats: DrainStats) -> None:
            nonlocal read_at, sent, total
            if time.monotonic() - read_at >= 1.0:
                read_at = time.monotonic()
                sent, total = _digest_progress(ctx, region)
            done, elapsed = max(sent, stats.sent), time.monotonic() - started
            total = max(total, done)
            show(
                done,
                total,
                output.send_line(done, total, stats.handled, elapsed) + _failures(stats),
            )

        yield update


def _digest_progress(ctx: Context, region: str) -> tuple[int, int]:
    """(sent, recipients) of the region's newest digest; for a slot (keys joined by »+«)
    summed over its regions' newest digests and the combined mails of that moment."""
    from newsletter.store import digests as digest_store
    from newsletter.store.db import transaction

    members = set(region.split("+"))
    with transaction(ctx.engine) as conn:
        recent = digest_store.history(conn, limit=10 + 4 * len(members))
    newest = next((d for d in recent if d.region in members or d.region == region), None)
    if newest is None:
        return (0, 0)
    mine = [
        d
        for d in recent
        if d.period_end == newest.period_end and set(d.region.split("+")) <= members
    ]
    return sum(d.sent for d in mine), sum(d.total for d in mine)


def _failures(stats: DrainStats) -> str:
    parts = [f"fehlgeschlagen {stats.failed}" if stats.failed else "", ""]
    parts[1] = f"später {stats.retried}" if stats.retried else ""
    return "".join(f" · {part}" for part in parts if part)


@digest_app.command("preview")
def preview(
    region: Annotated[
        str | None,
        typer.Option("--region", "-r", metavar="REGION", help="Region, Schlüssel oder Name."),
    ] = None,
    all_regions: Annotated[
        bool,
        typer.Option(
            "--all", help="Die gemeinsame E-Mail aller Regionen (ein Abonnent von allen)."
        ),
    ] = False,
    html: Annotated[
        Path | None,
        typer.Option("--html", metavar="DATEI", help="HTML in diese Datei schreiben."),
    ] = None,
    text: Annotated[bool, typer.Option("--text", help="Den Textteil ausgeben.")] = False,
    open_browser: Annotated[bool, typer.Option("--open", help="HTML im Browser öffnen.")] = False,
) -> None:
    """Den nächsten Newsletter einer Region (oder mit --all die gemeinsame E-Mail aller
    Regionen) zeigen, ohne ihn zu versenden."""
    if (region is None) == (not all_regions):
        raise ParameterError("Bitte entweder --region REGION oder --all angeben.")
    from newsletter.mail import sending

    key = configured_key(region) if region is not None else None
    with open_context() as ctx:
        if key is not None:
            digest = sending.preview(ctx, key)
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
    from newsletter.cli.regionarg import region_names
    from newsletter.history import trigger_label
    from newsletter.store import digests as digest_store
    from newsletter.store.db import transaction

    with open_context() as ctx, transaction(ctx.engine) as conn:
        rows = digest_store.history(conn)
        tz = output.zone(ctx.config)
    table = output.table(
        "Nr.", "Zeitraum", "Meld.", "Empf.", "gesendet", "Fehler", "Region", "Auslöser",
        long=("Region", "Auslöser"),
    )  # fmt: skip
    for row in rows:
        start = (
            output.local(row.period_start, tz, "%d.%m.%y %H:%M") + "–"
            if row.period_start
            else "bis "
        )
        table.add_row(
            str(row.id),
            start + output.local(row.period_end, tz, "%d.%m.%y %H:%M"),
            str(len(row.item_ids)),
            str(row.total),
            str(row.sent),
            str(row.failed),
            region_names([row.region]),
            trigger_label(row.triggered_by),
        )
    output.show(console, table)
    console.print(
        f"Meld. = Meldungen, Empf. = Empfänger. {output.time_note(tz)}",
        highlight=False,
    )


@app.command()
def deliveries(
    digest: Annotated[int | None, typer.Option("--digest", help="Nur dieser Newsletter.")] = None,
    status: Annotated[
        str | None,
        typer.Option("--status", help="queued, sending, sent, retry, failed, cancelled."),
    ] = None,
) -> None:
    """Zustellungen mit Status und Antwort des Mailservers."""
    from newsletter.models import DeliveryStatus
    from newsletter.store import outbox as queue
    from newsletter.store.db import transaction

    statuses = tuple(DeliveryStatus)
    if status is not None and status not in statuses:
        known = ", ".join(statuses)
        raise ParameterError(
            f"Unbekannter Status »{status}«; möglich: {known}.", param_hint="--status"
        )
    with open_context() as ctx, transaction(ctx.engine) as conn:
        chosen = None if status is None else DeliveryStatus(status)
        rows = queue.list_deliveries(conn, digest_id=digest, status=chosen)
    table = output.table(
        "Nr.", "Newsletter", "Status", "Versuche", "Adresse", "Antwort", long=("Adresse", "Antwort")
    )
    for row in rows:
        table.add_row(
            str(row.id),
            str(row.digest_id or row.kind),
            row.status,
            str(row.attempts),
            output.shown(row.address),
            output.shown((row.last_reply or "").replace("\n", " ")),
        )
    output.show(console, table)


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
