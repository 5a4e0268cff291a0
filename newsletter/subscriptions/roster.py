"""Partner rosters as CSV: import (idempotent, in short chunks, a report per line) and export.

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
from dataclasses import dataclass, replace
from typing import Literal

from sqlalchemy import Connection

from newsletter.context import Context
from newsletter.errors import InvalidInputError
from newsletter.mail.outbox import enqueue_messages
from newsletter.models import LinesDone, Progress, Subscriber, SubscriptionStatus
from newsletter.regions import Gazetteer, classify
from newsletter.store import subscribers as store
from newsletter.store.db import transaction, utcnow
from newsletter.subscriptions.rules import Request, clean_field, normalise_email
from newsletter.subscriptions.service import consent_event, email_hash, link_mails
from newsletter.subscriptions.tokens import Purpose

COLUMNS = ("email", "name", "organisation", "ags", "regions")
CHUNK_ROWS = 500  # lines per transaction: short enough that other writers barely wait
REASON_BLOCKED = "gesperrt (Löschung auf Wunsch)"
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
    """One line's result; ``suggestion`` (»Vogtland → Zwickau?«) for an unknown region."""

    line: int
    email: str
    outcome: Outcome
    reason: str = ""
    regions: tuple[str, ...] = ()
    organisation: str = ""
    suggestion: str = ""


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


def region_lookup(ctx: Context) -> dict[str, str]:
    """Keys and lower-cased German names -> keys."""
    lookup = {r.key: r.key for r in ctx.config.region_list()}
    return lookup | {r.name.lower(): r.key for r in ctx.config.region_list()}


def region_keys(lookup: dict[str, str], values: Sequence[str]) -> tuple[str, ...]:
    """Keys or German names -> keys (see :func:`region_lookup`); raises for an unknown one."""
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
    progress: Progress[LinesDone] | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> list[LineReport]:
    """Import in chunks of ``chunk_rows`` lines, each one short transaction (all or nothing;
    rolled back for ``dry_run``), so other writers get their turn between chunks.

    Each chunk costs a fixed handful of statements (look-ups and batched writes), so the
    import is linear in the number of lines. It is idempotent: a file interrupted halfway
    (an error in a later chunk) is completed by importing it again.
    """
    parsed = parse(data)
    reports: list[LineReport] = []
    seen: set[str] = set()
    lookup = region_lookup(ctx)
    names = {r.key: r.name for r in ctx.config.region_list()}
    for start in range(0, len(parsed), chunk_rows):
        checked = [
            _suggested(ctx.gazetteer, names, _check(lookup, row, seen), row)
            for row in parsed[start : start + chunk_rows]
        ]
        with transaction(ctx.engine) as conn:
            reports += _import_chunk(ctx, conn, checked, filename, actor, confirmed_reason)
            if dry_run:
                conn.rollback()
        if progress is not None:
            progress(LinesDone(len(reports), len(parsed)))
    return reports


@dataclass(frozen=True)
class _Valid:
    """A line whose fields are checked: what the store gets."""

    line: int
    address: str
    regions: tuple[str, ...]
    name: str
    organisation: str
    ags: str | None


def _check(
    lookup: dict[str, str], row: RosterRow | LineReport, seen: set[str]
) -> _Valid | LineReport:
    """Validate one line (no database); ``seen`` collects the addresses of the file."""
    if isinstance(row, LineReport):
        return row
    try:
        address = normalise_email(row.email)
        regions = region_keys(lookup, row.regions)
        name, organisation = (
            clean_field(row.name, "name"),
            clean_field(row.organisation, "organisation"),
        )
    except InvalidInputError as exc:
        return LineReport(row.line, row.email, "rejected", exc.message, (), row.organisation)
    if address.lower() in seen:
        return LineReport(row.line, address, "rejected", "doppelt in der Datei")
    seen.add(address.lower())
    ags = row.ags if row.ags.isdigit() and len(row.ags) == 8 else None
    return _Valid(row.line, address, regions, name, organisation, ags)


def _report(row: _Valid, outcome: Outcome, reason: str = "") -> LineReport:
    return LineReport(row.line, row.address, outcome, reason, row.regions, row.organisation)


def _suggested(
    gazetteer: Gazetteer,
    names: dict[str, str],
    report: _Valid | LineReport,
    row: RosterRow | LineReport,
) -> _Valid | LineReport:
    """A line rejected for an unknown region gets a suggestion (»Vogtland → Zwickau?«)."""
    if not isinstance(report, LineReport) or not isinstance(row, RosterRow):
        return report
    if not report.reason.startswith("unbekannte Region"):
        return report
    known = {k.lower() for k in names} | {n.lower() for n in names.values()}
    unknown = next((v for v in row.regions if v.lower() not in known), "")
    found = suggest_regions(gazetteer, unknown, row.ags, row.organisation)
    if not found:
        return report
    shown = " oder ".join(names.get(k, k) for k in found)
    return replace(report, suggestion=f"{unknown} → {shown}?")


def suggest_regions(
    gazetteer: Gazetteer, value: str, ags: str, organisation: str
) -> tuple[str, ...]:
    """The regions an unknown region value most likely means (pure): a municipality, a
    landscape or district word (»Vogtland«) or an AGS in the value, else the line's AGS,
    else a place named in the organisation (»Stadt Plauen«)."""
    for text in (value, ags, organisation):
        digits = text.strip()
        if digits.isdigit() and len(digits) in (5, 8):
            found = {k for k, districts in gazetteer.regions.items() if digits[:5] in districts}
        else:
            found = set(classify(text, gazetteer).regions) if text.strip() else set()
        if found:
            return tuple(sorted(found))
    return ()


def _new_regions(row: _Valid, existing: Subscriber | None, status: str) -> list[str]:
    """The regions this line adds (none: unchanged). Confirmed ones are never downgraded."""
    if existing is None:
        return list(row.regions)
    have = {
        r for r, s in existing.subscriptions.items() if s in (SubscriptionStatus.CONFIRMED, status)
    }
    return [r for r in row.regions if r not in have]


def _import_chunk(
    ctx: Context,
    conn: Connection,
    checked: Sequence[_Valid | LineReport],
    filename: str,
    actor: str,
    confirmed_reason: str | None,
) -> list[LineReport]:
    """Store a chunk of checked lines with a fixed number of statements; one report each."""
    valid = [c for c in checked if isinstance(c, _Valid)]
    hashes = {v.address: email_hash(ctx, v.address) for v in valid}
    blocked = store.suppressed_among(conn, list(hashes.values()))
    known = store.find_by_emails(conn, [v.address for v in valid])
    status = SubscriptionStatus.CONFIRMED if confirmed_reason else SubscriptionStatus.PENDING
    outcome: dict[int, LineReport] = {}
    changes: list[tuple[_Valid, Subscriber | None, list[str]]] = []
    for v in valid:
        existing = known.get(v.address.lower())
        new = _new_regions(v, existing, status)
        if hashes[v.address] in blocked:
            outcome[v.line] = _report(v, "rejected", REASON_BLOCKED)
        elif not new:
            outcome[v.line] = _report(v, "unchanged")
        else:
            changes.append((v, existing, new))
            outcome[v.line] = _report(v, "updated" if existing else "added")
    _store_changes(ctx, conn, changes, status, filename, actor, confirmed_reason)
    return [c if isinstance(c, LineReport) else outcome[c.line] for c in checked]


def _store_changes(
    ctx: Context,
    conn: Connection,
    changes: list[tuple[_Valid, Subscriber | None, list[str]]],
    status: SubscriptionStatus,
    filename: str,
    actor: str,
    confirmed_reason: str | None,
) -> None:
    """New subscribers, their region statuses, the consent events and confirmation mails:
    one batched statement each."""
    fresh = [
        {"email": v.address, "name": v.name, "organisation": v.organisation, "ags": v.ags}
        for v, existing, _ in changes
        if existing is None
    ]
    created = iter(store.create_many(conn, fresh, source="import"))
    subscribers = [
        replace(existing, subscriptions=existing.subscriptions | dict.fromkeys(new, status))
        if existing
        else Subscriber(next(created), v.address, subscriptions=dict.fromkeys(new, status))
        for v, existing, new in changes
    ]
    pairs = [
        (sub.id, r) for sub, (_, _, new) in zip(subscribers, changes, strict=True) for r in new
    ]
    store.set_status_many(conn, pairs, status, utcnow())
    note = f"{filename}; {confirmed_reason or 'Bestätigung per E-Mail angefordert'}"
    store.log_consents(
        conn,
        [
            consent_event(ctx, sub.id, v.address, "import", new, Request(actor=actor), note)
            for sub, (v, _, new) in zip(subscribers, changes, strict=True)
        ],
    )
    if not confirmed_reason:
        enqueue_messages(conn, link_mails(ctx, subscribers, Purpose.CONFIRM))


def export_roster(ctx: Context, region: str | None = None) -> str:
    """Confirmed and pending subscribers as CSV (UTF-8, comma, CRLF), the import format."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180; a CR in a cell is quoted
    writer.writerow(COLUMNS)
    with transaction(ctx.engine) as conn:
        for sub in store.list_subscribers(conn, region=region):
            active = [
                r
                for r, s in sorted(sub.subscriptions.items())
                if s != SubscriptionStatus.UNSUBSCRIBED
            ]
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
