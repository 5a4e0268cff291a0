"""The audit log entries of the command line: the same actions the admin pages record,
with »Kommandozeile« as the actor (no addresses, no secrets)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from newsletter.context import Context
    from newsletter.mail.sending import SendResult


def record(ctx: Context, action: str, target: str | None, **detail: Any) -> None:
    """Append one entry as »Kommandozeile«."""
    from newsletter.store import audit
    from newsletter.store.db import transaction

    with transaction(ctx.engine) as conn:
        audit.record(conn, audit.CLI_ACTOR, action, target, detail)


def record_send(ctx: Context, result: SendResult, *, dry_run: bool, to: str | None) -> None:
    """A send from the CLI: ``digest.send`` with its numbers, ``digest.test`` for ``--to``;
    a dry run changes nothing and is not recorded."""
    if dry_run:
        return
    if to:
        record(ctx, "digest.test", result.region, to=to, status=result.status)
        return
    stats = result.stats
    record(
        ctx,
        "digest.send",
        result.region,
        status=result.status,
        recipients=result.recipients,
        sent=stats.sent if stats else 0,
        failed=stats.failed if stats else 0,
    )


def record_import(ctx: Context, filename: str, counts: dict[str, int], confirmed: bool) -> None:
    record(ctx, "subscribers.import", filename, confirmed=confirmed, **counts)
