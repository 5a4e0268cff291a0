"""CSV rosters: encodings, delimiters, broken rows with line numbers, idempotent import."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import event

from newsletter.context import Context
from newsletter.errors import InvalidInputError
from newsletter.store import outbox as queue
from newsletter.store import subscribers as store
from newsletter.store.db import transaction, utcnow
from newsletter.subscriptions import privacy, roster
from newsletter.subscriptions import service as subscriptions

EXAMPLE = Path(__file__).resolve().parent.parent / "subscribers" / "example.csv"


def outcomes(reports: list[roster.LineReport]) -> list[tuple[int, str, str]]:
    return [(r.line, r.outcome, r.reason) for r in reports]


def test_example_file_imports_and_is_idempotent(db_ctx: Context) -> None:
    data = EXAMPLE.read_bytes()
    first = roster.import_roster(db_ctx, data, filename="example.csv", actor="test")
    assert [r.outcome for r in first] == ["added", "added", "added"]
    again = roster.import_roster(db_ctx, data, filename="example.csv", actor="test")
    assert [r.outcome for r in again] == ["unchanged"] * 3
    with transaction(db_ctx.engine) as conn:
        sub = store.find_by_email(conn, "ordnungsamt@zwickau.example")
        mails = queue.list_deliveries(conn)
    assert sub is not None and sub.subscriptions == {"chemnitz": "pending", "zwickau": "pending"}
    assert len(mails) == 3 and {m.kind for m in mails} == {"confirm"}


def test_excel_bom_semicolons_and_broken_rows(ctx: Context) -> None:
    data = (
        "\ufeffemail;name;organisation;ags;regions\n"
        "ok@example.org;Ärztin Müller;Gemeinde Ölsnitz;;Ostsachsen\n"
        "kaputt;;;;dresden\n"
        "x@example.org;;;;Mars\n"
        "ok@example.org;;;;dresden\n"
        "y@example.org;;;;\n"
        "z@example.org;;;;dresden;zu;viel\n"
    ).encode()
    reports = roster.import_roster(
        ctx, data, filename="liste.csv", actor="test", confirmed_reason="Papierformular"
    )
    assert outcomes(reports) == [
        (2, "added", ""),
        (3, "rejected", "»kaputt« ist keine gültige E-Mail-Adresse."),
        (4, "rejected", "unbekannte Region »Mars«"),
        (5, "rejected", "doppelt in der Datei"),
        (6, "rejected", "keine Region angegeben"),
        (7, "rejected", "zu viele Spalten"),
    ]
    with transaction(ctx.engine) as conn:
        sub = store.find_by_email(conn, "ok@example.org")
    assert (
        sub is not None
        and sub.name == "Ärztin Müller"
        and sub.confirmed_regions() == ("ostsachsen",)
    )
    (event,) = privacy.consent_record(ctx, "ok@example.org")
    assert event.event == "import" and "liste.csv" in event.detail["note"]


def test_dry_run_saves_nothing(ctx: Context) -> None:
    reports = roster.import_roster(
        ctx, EXAMPLE.read_bytes(), filename="e.csv", actor="t", dry_run=True
    )
    assert [r.outcome for r in reports] == ["added"] * 3
    with transaction(ctx.engine) as conn:
        assert store.list_subscribers(conn) == [] and queue.list_deliveries(conn) == []


def test_erased_address_is_not_re_imported(ctx: Context) -> None:
    privacy.forget(ctx, "praevention@stadt-pirna.example", actor="test")
    reports = roster.import_roster(ctx, EXAMPLE.read_bytes(), filename="e.csv", actor="t")
    assert reports[0].outcome == "rejected" and "gesperrt" in reports[0].reason


def test_wrong_encoding_and_missing_column_are_clear_errors(ctx: Context) -> None:
    with pytest.raises(InvalidInputError, match="UTF-8"):
        roster.parse("email,regions\nä@example.org,dresden\n".encode("latin-1"))
    with pytest.raises(InvalidInputError, match="Spalte fehlt: regions"):
        roster.parse(b"email,name\na@example.org,A\n")


def test_export_round_trips(ctx: Context) -> None:
    roster.import_roster(
        ctx, EXAMPLE.read_bytes(), filename="e.csv", actor="t", confirmed_reason="x"
    )
    exported = roster.export_roster(ctx)
    assert exported.splitlines()[0] == "email,name,organisation,ags,regions"
    assert "ordnungsamt@zwickau.example,,Stadt Zwickau,14524330,chemnitz|zwickau" in exported
    again = roster.import_roster(
        ctx, exported.encode(), filename="x.csv", actor="t", confirmed_reason="x"
    )
    assert {r.outcome for r in again} == {"unchanged"}


def _roster(size: int, start: int = 0) -> bytes:
    lines = [f"p{i}@amt{i % 7}.example,,,,{'dresden|zwickau' if i % 2 else 'chemnitz'}"
             for i in range(start, start + size)]  # fmt: skip
    return ("email,name,organisation,ags,regions\n" + "\n".join(lines) + "\n").encode()


def _statements(ctx: Context, data: bytes, **options: object) -> int:
    """How many statements an import sends to the database (executemany counts once)."""
    count = 0

    def counted(*_: object) -> None:
        nonlocal count
        count += 1

    event.listen(ctx.engine, "before_cursor_execute", counted)
    try:
        roster.import_roster(ctx, data, filename="gross.csv", actor="t", **options)  # type: ignore[arg-type]
    finally:
        event.remove(ctx.engine, "before_cursor_execute", counted)
    return count


def test_import_statements_grow_with_chunks_not_rows(ctx: Context) -> None:
    roster.import_roster(ctx, _roster(50), filename="alt.csv", actor="t")  # known addresses
    small = _statements(ctx, _roster(100, 50), chunk_rows=100)
    large = _statements(ctx, _roster(1000, 150), chunk_rows=100)
    mixed = _statements(ctx, _roster(1000, 0), chunk_rows=100)  # all known now: unchanged
    assert small <= 12, small  # a fixed handful per chunk
    assert large <= 10 * small, (small, large)  # ten chunks, not a thousand rows
    assert mixed <= 10 * small, mixed
    with transaction(ctx.engine) as conn:
        assert len(store.list_subscribers(conn)) == 1150
        assert len(queue.list_deliveries(conn, limit=5000)) == 1150  # one confirmation each


def test_chunks_commit_one_by_one_and_a_rerun_completes(ctx: Context) -> None:
    """Each chunk is all-or-nothing; the import as a whole is idempotent, not atomic."""
    reports = roster.import_roster(ctx, _roster(30), filename="a.csv", actor="t", chunk_rows=10)
    assert [r.outcome for r in reports] == ["added"] * 30
    again = roster.import_roster(ctx, _roster(40), filename="a.csv", actor="t", chunk_rows=7)
    assert [r.outcome for r in again] == ["unchanged"] * 30 + ["added"] * 10
    with transaction(ctx.engine) as conn:
        sub = store.find_by_email(conn, "P31@amt3.example")
        events = store.consent_events(conn, subscriptions.email_hash(ctx, "p31@amt3.example"))
    assert sub is not None and sub.subscriptions == {"dresden": "pending", "zwickau": "pending"}
    assert [e.event for e in events] == ["import"]


def test_progress_is_reported_per_chunk(ctx: Context) -> None:
    seen: list[tuple[int, int]] = []
    roster.import_roster(
        ctx, _roster(25), filename="a.csv", actor="t", chunk_rows=10,
        progress=lambda lines: seen.append((lines.done, lines.total)), dry_run=True,
    )  # fmt: skip
    assert seen == [(10, 25), (20, 25), (25, 25)]


FORMULAS = {
    "=1+2@example.org": ('=HYPERLINK("https://evil.example")', "@SUM(A1)"),
    "+49@example.org": ("-Müller", "'=schon zitiert"),
    "plain@example.org": ("'Apostroph", "\t=1"),  # stored before the validator existed
    "-x@example.org": ("\r=2", "Ganz normal"),
}


def test_export_neutralises_formulas_and_import_restores_the_values(ctx: Context) -> None:
    """OWASP CSV injection: every dangerous cell starts with an apostrophe; our import
    takes exactly that apostrophe off again."""
    with transaction(ctx.engine) as conn:
        for address, (name, organisation) in FORMULAS.items():
            sid = store.create(
                conn, email=address, name=name, organisation=organisation, source="test"
            )
            store.set_status(conn, sid, ["dresden"], "confirmed", utcnow())
    exported = roster.export_roster(ctx)
    rows = list(csv.reader(io.StringIO(exported, newline="")))[1:]
    assert len(rows) == len(FORMULAS)
    for row in rows:
        assert all(not cell or cell[0] not in "=+-@\t\r" for cell in row), row
    assert ["'=1+2@example.org", "'=HYPERLINK(\"https://evil.example\")", "'@SUM(A1)", "",
            "dresden"] in rows  # fmt: skip
    parsed = [r for r in roster.parse(exported.encode()) if isinstance(r, roster.RosterRow)]
    assert {r.email: (r.name, r.organisation) for r in parsed} == FORMULAS
    assert roster.cell_in("'Apostroph") == "'Apostroph" and roster.cell_in("''=x") == "'=x"
