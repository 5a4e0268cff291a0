"""``newsletter init-db`` / ``migrate``."""

from __future__ import annotations

from newsletter.cli.base import app, console, open_context


@app.command("init-db")
def init_db() -> None:
    """Datenbank anlegen bzw. auf den neuesten Stand bringen, Quellen aus der Konfiguration übernehmen."""
    with open_context(create=True) as ctx:
        console.print(f"Datenbank bereit: {ctx.engine.url.render_as_string(hide_password=True)}")


@app.command("migrate")
def migrate() -> None:
    """Wie init-db: Datenbankschema migrieren (idempotent)."""
    init_db()
