"""Partner rosters as CSV: import (idempotent, one transaction, a report per line) and export.

Accepted: UTF-8 with or without BOM (as Excel writes it), ``;`` or ``,`` as delimiter
(detected from the header line), columns ``email,name,organisation,ags,regions``;
regions separated by ``|``, as keys (``zwickau``) or German names (``Leipzig/Nordsachsen``).

CSV injection (OWASP): the export puts an apostrophe before a cell that a spreadsheet
would read as a formula (``=``, ``+``, ``-``, ``@``, tab, CR at its start, also after
apostrophes); the import takes exactly that one apostrophe off again, so an export
imports as the same values. Nothing else of a cell is changed on import.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Connection

from newsletter.context import Context
from newsletter.errors import InvalidInputError
from newsletter.store import subscribers as store
from newsletter.store.db import transaction, utcnow
from newsletter.subscriptions import (
    Request,
    clean_field,
    email_hash,
    normalise_email,
    record_event,
    send_link_mail,
)
from newsletter.tokens import Purpose

COLUMNS = ("email", "name", "organisation", "ags", "regions")
Outcome = Literal["added", "updated", "unchanged", "rejected"]
_FORMULA = re.compile(r"'*[=+\-@\t\r]")


@dataclass(frozen=True)
class RosterRow:
    line: int
    email: str
    name: str
    organisation: str
    ags: str
    regions: tuple[str, ...]


@dataclass(frozen=True)
class LineReport:
    line: int
    email: str
    outcome: Outcome
    reason: str = ""


def parse(data: bytes) -> list[RosterRow | LineReport]:
    """CSV bytes -> rows; a broken line becomes a rejected report with its line number."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            "Die Datei ist nicht UTF-8-kodiert (bitte als »CSV UTF-8« speichern)."
        ) from exc
    header = text.splitlines()[0] if text else ""
    delimiter = ";" if header.count(";") > header.count(",") else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    missing = [c for c in ("email", "regions") if c not in (reader.fieldnames or [])]
    if missing:
        raise InvalidInputError(
            f"Spalte fehlt: {', '.join(missing)} (erwartet: {', '.join(COLUMNS)})"
        )
    out: list[RosterRow | LineReport] = []
    for record in reader:
        line = reader.line_num
        if None in record:
            out.append(
                LineReport(line, str(record.get("email", "")), "rejected", "zu viele Spalten")
            )
            continue
        cells = {column: cell_in(record.get(column) or "") for column in COLUMNS}
        regions = tuple(r.strip() for r in cells["regions"].split("|") if r.strip())
        out.append(
            RosterRow(
                line,
                cells["email"].strip(),
                cells["name"],
                cells["organisation"],
                cells["ags"],
                regions,
            )
        )
    return out


def region_keys(ctx: Context, values: Sequence[str]) -> tuple[str, ...]:
    """Keys or German names -> keys; raises for an unknown one."""
    lookup = {r.key: r.key for r in ctx.config.region_list()}
    lookup |= {r.name.lower(): r.key for r in ctx.config.region_list()}
    keys = []
    for value in values:
        key = lookup.get(value) or lookup.get(value.lower())
        if key is None:
            raise InvalidInputError(f"unbekannte Region »{value}«")
        keys.append(key)
    if not keys:
        raise InvalidInputError("keine Region angegeben")
    return tuple(sorted(set(keys)))


def import_roster(
    ctx: Context,
    data: bytes,
    *,
    filename: str,
    actor: str,
    confirmed_reason: str | None = None,
    dry_run: bool = False,
) -> list[LineReport]:
    """Import all lines in ONE transaction (rolled back for ``dry_run``): nothing half-done."""
    parsed = parse(data)
    reports: list[LineReport] = []
    seen: set[str] = set()
    with ctx.engine.connect() as conn, conn.begin() as tx:
        for row in parsed:
            if isinstance(row, LineReport):
                reports.append(row)
                continue
            reports.append(_import_row(ctx, conn, row, seen, filename, actor, confirmed_reason))
        if dry_run:
            tx.rollback()
    return reports


def _import_row(
    ctx: Context,
    conn: Connection,
    row: RosterRow,
    seen: set[str],
    filename: str,
    actor: str,
    confirmed_reason: str | None,
) -> LineReport:
    try:
        address = normalise_email(row.email)
        regions = region_keys(ctx, row.regions)
        name, organisation = (
            clean_field(row.name, "name"),
            clean_field(row.organisation, "organisation"),
        )
    except InvalidInputError as exc:
        return LineReport(row.line, row.email, "rejected", exc.message)
    if address.lower() in seen:
        return LineReport(row.line, address, "rejected", "doppelt in der Datei")
    seen.add(address.lower())
    if store.is_suppressed(conn, email_hash(ctx, address)):
        return LineReport(row.line, address, "rejected", "gesperrt (Löschung auf Wunsch)")
    existing = store.find_by_email(conn, address)
    status = "confirmed" if confirmed_reason else "pending"
    have = (
        set()
        if existing is None
        else {r for r, s in existing.subscriptions.items() if s in ("confirmed", status)}
    )
    new = [r for r in regions if r not in have]
    if existing is not None and not new:
        return LineReport(row.line, address, "unchanged")
    sid = (
        existing.id
        if existing
        else store.create(
            conn,
            email=address,
            name=name,
            organisation=organisation,
            source="import",
            ags=row.ags if row.ags.isdigit() and len(row.ags) == 8 else None,
        )
    )
    store.set_status(conn, sid, new, status, utcnow())
    record_event(
        ctx,
        conn,
        sid,
        address,
        "import",
        new,
        Request(actor=actor),
        f"{filename}; {confirmed_reason or 'Bestätigung per E-Mail angefordert'}",
    )
    if not confirmed_reason:
        send_link_mail(ctx, conn, store.get(conn, sid), Purpose.CONFIRM)
    return LineReport(row.line, address, "updated" if existing else "added")


def export_roster(ctx: Context, region: str | None = None) -> str:
    """Confirmed and pending subscribers as CSV (UTF-8, comma, CRLF), the import format."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180; a CR in a cell is quoted
    writer.writerow(COLUMNS)
    with transaction(ctx.engine) as conn:
        for sub in store.list_subscribers(conn, region=region):
            active = [r for r, s in sorted(sub.subscriptions.items()) if s != "unsubscribed"]
            if active:
                cells = (sub.email, sub.name, sub.organisation, sub.ags or "", "|".join(active))
                writer.writerow([cell_out(cell) for cell in cells])
    return out.getvalue()


def cell_out(value: str) -> str:
    """A cell for the export: an apostrophe before what a spreadsheet would run."""
    return "'" + value if _FORMULA.match(value) else value


def cell_in(value: str) -> str:
    """A cell from an import: the one apostrophe :func:`cell_out` added, taken off."""
    return value[1:] if value.startswith("'") and _FORMULA.match(value[1:]) else value
