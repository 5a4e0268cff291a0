"""The audit log reads as German sentences and records the CLI's imports and sends with
»Kommandozeile« as the actor (the real ``newsletter`` command on a SQLite file)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from newsletter.config import load_config
from newsletter.context import Context
from newsletter.curation import add_manual_item
from newsletter.store import audit
from newsletter.store.audit import AuditEntry
from newsletter.store.db import transaction
from newsletter.web.auditlog import Names, sentence
from tests._admin import admin_client
from tests.livesrv import run_cli, write_config

AT = datetime(2026, 12, 1, 9, tzinfo=UTC)
NAMES = Names({"zwickau": "Zwickau", "dresden": "Dresden"}, {"abc123": "Glühweinfest in Plauen"})
RAW = re.compile(r"\b[a-z]+\.[a-z_]+\b|\['|\b[0-9a-f]{32}\b|subscribe_request|\bfolder\b")


def entry(
    action: str, target: str | None = None, actor: str = "anna", **detail: object
) -> AuditEntry:
    return AuditEntry(1, AT, actor, action, target, dict(detail))


def test_a_send_reads_as_the_issue_asks() -> None:
    text = sentence(entry("digest.send", "zwickau", recipients=201), NAMES)
    assert text == "anna hat den Newsletter Zwickau an 201 Empfänger gesendet."


def test_an_item_is_named_by_its_title_not_its_hash() -> None:
    text = sentence(entry("item.regions", "abc123", mode="regions", regions=["dresden"]), NAMES)
    assert text == "anna hat die Meldung »Glühweinfest in Plauen« Dresden zugeordnet."
    assert "abc123" not in text


def test_every_known_action_and_an_unknown_one_read_without_raw_keys() -> None:
    actions = [
        ("login", None, {"ip": "127.0.0.1"}),
        ("login.failed", None, {"ip": "127.0.0.1"}),
        ("logout", None, {}),
        ("sources.collect", "alle", {"new": 3, "changed": 1, "failed": 0}),
        ("digest.test", "dresden", {"to": "anna@example.org"}),
        ("digest.dry_run", "dresden", {"via": "api"}),
        ("digest.retry", "7", {"deliveries": 2}),
        ("digest.send", "zwickau", {"status": "nothing_new"}),
        ("item.add", "abc123", {}),
        ("item.hide", "abc123", {}),
        ("item.show", "gone", {}),
        ("item.regions", "abc123", {"mode": "auto", "regions": []}),
        ("subscriber.add", "#4", {"regions": ["zwickau"], "confirmed": True}),
        ("subscriber.unsubscribe", "#4", {"region": "alle"}),
        ("subscriber.forget", "#4", {}),
        ("subscribers.export", "alle", {}),
        ("subscribers.import", "liste.csv", {"added": 2, "rejected": 1, "confirmed": False}),
        ("admin.add", "bernd", {"email": "b@example.org"}),
        ("admin.sessions.end", "bernd", {"sessions_ended": 1}),
        ("digest.approve", "zwickau", {"draft": 3, "recipients": 201}),
        ("editorial.save", "alle", {"chars": 20, "pinned": ["abc123"], "excluded": []}),
        ("something.new", "x", {"key": ["dresden"]}),
    ]
    for action, target, detail in actions:
        text = sentence(entry(action, target, **detail), NAMES)
        assert not RAW.search(text.replace("example.org", "").replace(".csv", "")), text
        assert text.endswith("."), text
    assert sentence(entry("logout", actor="cli"), NAMES) == "Kommandozeile hat sich abgemeldet."


def test_cli_import_and_send_are_in_the_audit_log_as_kommandozeile(tmp_path: Path) -> None:
    config_file = write_config(tmp_path)
    assert run_cli(config_file, "init-db").returncode == 0
    roster = tmp_path / "liste.csv"
    roster.write_text(
        "email,name,organisation,ags,regions\n"
        "a@example.org,A,Stadt Plauen,,zwickau\n"
        "b@example.org,B,Stadt Zwickau,,Zwickau\n",
        encoding="utf-8",
    )
    done = run_cli(
        config_file, "subscribers", "import", str(roster), "--confirmed", "--reason", "Liste 2026"
    )
    assert done.returncode == 0, done.stderr
    ctx = Context(load_config(config_file))
    try:
        add_manual_item(
            ctx,
            title="Präventionstag in Plauen",
            text="Die Polizei lädt in Plauen ein.",
            published=datetime.now(UTC),
        )
        sent = run_cli(config_file, "send", "--region", "zwickau")
        assert sent.returncode == 0, sent.stderr
        with transaction(ctx.engine) as conn:
            entries = audit.recent(conn, actor="Kommandozeile")
        assert [e.action for e in entries] == ["digest.send", "subscribers.import"]
        assert entries[0].detail["recipients"] == 2 and entries[0].detail["sent"] == 2
        assert entries[1].detail["added"] == 2 and entries[1].detail["confirmed"] is True
        page = admin_client(ctx).get("/admin/protokoll?wer=Kommandozeile").text
        assert "Kommandozeile hat den Newsletter Zwickau an 2 Empfänger gesendet" in page
        assert "Kommandozeile hat die Abonnentenliste »liste.csv« importiert: 2 neu" in page
        assert "digest.send" not in page and "subscribers.import" not in page
    finally:
        ctx.close()


def test_cli_import_dry_run_names_regions_suggests_and_says_whether_mails_go_out(
    tmp_path: Path,
) -> None:
    config_file = write_config(tmp_path)
    assert run_cli(config_file, "init-db").returncode == 0
    roster = tmp_path / "liste.csv"
    roster.write_text(
        "email,name,organisation,ags,regions\n"
        "a@example.org,A,Stadt Plauen,,zwickau\n"
        "b@example.org,B,Landratsamt,,Vogtland\n",
        encoding="utf-8",
    )
    done = run_cli(config_file, "subscribers", "import", str(roster), "--dry-run", COLUMNS="200")
    assert done.returncode == 65  # one line rejected
    assert "Stadt Plauen" in done.stdout and "Vorschlag: Vogtland → Zwickau?" in done.stdout
    assert "Neue Adressen bekommen eine Bestätigungs-E-Mail." in done.stdout
    ctx = Context(load_config(config_file))
    try:
        with transaction(ctx.engine) as conn:
            assert audit.recent(conn, actor="Kommandozeile") == []  # a dry run changes nothing
    finally:
        ctx.close()
