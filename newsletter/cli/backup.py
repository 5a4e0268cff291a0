"""``newsletter backup`` / ``restore``: a consistent copy of the database and its way back."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from newsletter.cli.base import app, console, fail, get_config, open_context

if TYPE_CHECKING:
    from newsletter.store.backup import Inventory


@app.command("backup")
def backup(
    file: Annotated[Path, typer.Argument(help="Zieldatei der Sicherung.")],
    force: Annotated[bool, typer.Option("--force", help="Eine vorhandene Datei ersetzen.")] = False,
) -> None:
    """Datenbank sichern, auch während der Dienst läuft (SQLite: Online-Sicherung, PostgreSQL: pg_dump)."""
    from newsletter.store import backup as store
    from newsletter.store.db import is_postgres

    if file.exists() and not force:
        raise fail(f"{file} gibt es schon; mit --force ersetzen.", 73)
    with open_context() as ctx:
        if is_postgres(ctx.engine):
            store.pg_backup(ctx.engine, ctx.config.database_url(), file)
            with ctx.engine.connect() as conn:
                found = store.inventory(conn)
        else:
            store.sqlite_backup(ctx.engine, file)
            found = store.sqlite_inventory(file)
    console.print(f"Gesichert nach {file}.")
    _print(found)


@app.command("restore")
def restore(
    file: Annotated[Path, typer.Argument(help="Sicherungsdatei von »newsletter backup«.")],
    force: Annotated[
        bool, typer.Option("--force", help="Auch eine Datenbank mit Daten überschreiben.")
    ] = False,
    check: Annotated[
        bool, typer.Option("--check", help="Nur prüfen und den Inhalt zeigen, nichts ändern.")
    ] = False,
) -> None:
    """Eine Sicherung zurückspielen (vorher den Dienst anhalten); danach wird migriert."""
    from newsletter.store import backup as store
    from newsletter.store.db import is_postgres

    postgres = get_config().database_url().startswith("postgresql")
    if check:
        if postgres:
            tables = store.pg_check(file)
            console.print(
                f"Sicherung lesbar, Daten von {len(tables)} Tabellen: {', '.join(tables)}"
            )
        else:
            _print(store.sqlite_inventory(file))
        return
    with open_context() as ctx:
        with ctx.engine.connect() as conn:
            present = store.inventory(conn)
        if present.in_use and not force:
            raise fail(
                "Die Datenbank enthält schon Daten "
                f"({present.counts.get('subscribers', 0)} Abonnenten, "
                f"{present.counts.get('items', 0)} Meldungen). Zum Überschreiben --force angeben.",
                73,
            )
        if is_postgres(ctx.engine):
            store.pg_restore(file, ctx.config.database_url())
        else:
            store.sqlite_restore(file, ctx.engine)
        ctx.engine.dispose()
        ctx.init_db()  # a backup of an older release is brought up to this one's schema
        with ctx.engine.connect() as conn:
            restored = store.inventory(conn)
    console.print(f"Zurückgespielt aus {file}.")
    _print(restored)


def _print(found: Inventory) -> None:
    from rich.table import Table

    table = Table("Tabelle", "Zeilen", title=f"Schemastand {found.revision or 'unbekannt'}")
    for name, count in found.counts.items():
        table.add_row(name, f"{count:,}".replace(",", "."))
    console.print(table)
