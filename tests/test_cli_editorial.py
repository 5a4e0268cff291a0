"""The editor's word and approval on the real command line: ``digest editorial``,
``digest preview`` with the word, ``digest drafts``, ``digest approve``, ``digests`` naming
the trigger in German."""

from __future__ import annotations

import mailbox
from pathlib import Path

from sqlalchemy import select

from newsletter.config import load_config
from newsletter.context import Context
from newsletter.mail.approval import draft_slot
from newsletter.scheduler import slot_group
from newsletter.store.db import utcnow
from newsletter.store.schema import audit_log
from tests.livesrv import run_cli, write_config


def _ok(config: Path, *args: str) -> str:
    done = run_cli(config, *args, COLUMNS="200")
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_editorial_drafts_and_approval_from_the_command_line(tmp_path: Path) -> None:
    config = write_config(tmp_path, schedule={"approval": "manual"})
    _ok(config, "init-db")
    _ok(config, "items", "add", "--title", "Präventionsabend in Plauen",
        "--text", "Die Polizei lädt in Plauen ein.", "--region", "zwickau")  # fmt: skip
    _ok(config, "subscribers", "add", "rathaus@plauen.example", "--region", "zwickau",
        "--confirmed", "--reason", "Schriftliche Einwilligung")  # fmt: skip
    _ok(config, "digest", "editorial", "--region", "zwickau", "--text", "**Hallo** Partner")
    refused = run_cli(config, "digest", "editorial", "--region", "zwickau", "--text", "x" * 1501)
    assert refused.returncode == 65 and "erlaubt sind 1500" in refused.stderr
    preview = tmp_path / "preview.html"
    _ok(config, "digest", "preview", "--region", "zwickau", "--html", str(preview))
    assert "<strong>Hallo</strong> Partner" in preview.read_text(encoding="utf-8")

    ctx = Context(load_config(config, environ={}))
    try:
        group = slot_group(ctx.config, "zwickau")  # the slot job drafts its whole group
        assert draft_slot(ctx, group, utcnow())["zwickau"] == "drafted"
    finally:
        ctx.close()
    listing = _ok(config, "digest", "drafts")
    assert "ASSKomm-Nachrichten Zwickau" in listing and "seit 1 Minute" in listing
    assert mailbox.Maildir(tmp_path / "mail", create=True).keys() == []  # nothing sent yet

    done = _ok(config, "digest", "approve", "1")
    assert "Zwickau: freigegeben, 1 E-Mail eingereiht; jetzt gesendet: 1." in done
    box = mailbox.Maildir(tmp_path / "mail", create=True)
    (message,) = list(box)
    assert message["To"] == "rathaus@plauen.example"
    assert "Keine Entwürfe" in _ok(config, "digest", "drafts")
    assert "Zeitplan" in _ok(config, "digests")
    ctx = Context(load_config(config, environ={}))
    try:
        with ctx.engine.connect() as conn:
            rows = conn.execute(select(audit_log.c.actor, audit_log.c.action, audit_log.c.target))
            entries = set(rows)
    finally:
        ctx.close()
    assert ("cli", "digest.approve", "zwickau") in entries
    assert ("cli", "editorial.save", "zwickau") in entries
