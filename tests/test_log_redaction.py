"""No secrets in the logs of a real server: link tokens are redacted in the access log
and our own lines, a failed login's name is logged only if it is an admin's."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import httpx
from sqlalchemy import select

from newsletter import admins
from newsletter.config import load_config
from newsletter.context import Context
from newsletter.logs import setup_logging
from newsletter.store.schema import audit_log
from tests.livesrv import newsletter_serve, write_config
from tests.loginburst import Attackers

TOKEN = "Zm9vYmFyLXNlY3JldC10b2tlbi0xMjM0NTY3ODkw"
TYPED_PASSWORD = "mein-geheimes-passwort-im-namensfeld"


def test_a_real_server_logs_no_tokens_and_no_mistyped_passwords(tmp_path: Path) -> None:
    config_path = write_config(tmp_path, web={"access_log": True})
    ctx = Context(load_config(config_path, environ={}))
    ctx.init_db()
    admins.create(ctx, "anna", "", "ein-langes-geheimes-passwort", actor="test")
    log_file = tmp_path / "serve.log"
    with newsletter_serve(config_path, log_file) as served:
        base = served.url
        for path in ("bestaetigen", "einstellungen", "abmelden"):
            httpx.get(f"{base}/{path}/{TOKEN}?quelle=mail")
        attackers = Attackers(base, 1)
        client, token = attackers.sessions[0]
        for name in (TYPED_PASSWORD, "anna"):
            form = {"csrf_token": token, "name": name, "password": "falsch-falsch"}
            assert client.post("/admin/anmelden", data=form).status_code == 401
        attackers.close()
    logged = log_file.read_text(encoding="utf-8")
    with ctx.engine.connect() as conn:
        audited = [(r.actor, r.action) for r in conn.execute(select(audit_log))]
    ctx.close()
    assert "GET /abmelden/[token]?quelle=mail" in logged  # the access log is on ...
    assert TOKEN not in logged  # ... but no token in it
    assert "admin login failed name=(unbekannt, 36 Zeichen)" in logged
    assert "admin login failed name=anna" in logged  # a real admin's name stays readable
    assert TYPED_PASSWORD not in logged
    assert ("(unbekannt, 36 Zeichen)", "login.failed") in audited
    assert ("anna", "login.failed") in audited
    assert all(TYPED_PASSWORD not in actor for actor, _ in audited)


def test_our_own_log_lines_have_link_tokens_redacted() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging("json")
        stream = io.StringIO()
        handler = root.handlers[0]
        handler.setStream(stream)  # type: ignore[attr-defined]
        logging.getLogger("newsletter.test").warning("failed on GET %s", f"/einstellungen/{TOKEN}")
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    assert '"message": "failed on GET /einstellungen/[token]"' in stream.getvalue()
    assert TOKEN not in stream.getvalue()
