"""``newsletter init-db`` / ``migrate``."""

from __future__ import annotations

from newsletter.cli.base import app, console, open_context


@app.command("init-db")
def init_db() -> None:
    """Datenbank anlegen bzw. auf den neuesten Stand bringen, Quellen aus der Konfiguration übernehmen."""
    from sqlalchemy.engine import make_url

    with open_context(create=True) as ctx:
        url = make_url(ctx.config.database_url()).render_as_string(hide_password=True)
        console.print(f"Datenbank bereit: {url}")


@app.command("migrate")
def migrate() -> None:
    """Wie init-db: Datenbankschema migrieren (idempotent)."""
    init_db()
