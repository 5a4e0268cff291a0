"""``newsletter admin add|list|token``: admin accounts and API tokens."""

from __future__ import annotations

import getpass
import sys
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from newsletter import admins
from newsletter.cli.base import app, console, fail, open_context
from newsletter.localtime import german_short
from newsletter.store import admins as admin_store
from newsletter.store.db import transaction

admin_app = typer.Typer(help="Verwaltungszugänge: anlegen, auflisten, API-Schlüssel.")
app.add_typer(admin_app, name="admin")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Passwort: ")
    second = getpass.getpass("Passwort wiederholen: ")
    if first != second:
        raise fail("Die Passwörter stimmen nicht überein.", 65)
    return first


@admin_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Anmeldename.")],
    email: Annotated[str, typer.Option(help="E-Mail-Adresse (für »Testversand an mich«).")] = "",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Passwort aus der ersten Zeile der Eingabe.")
    ] = False,
) -> None:
    """Einen Admin anlegen; das Passwort wird zweimal abgefragt (oder von der Eingabe gelesen)."""
    password = _read_password(password_stdin)
    with open_context() as ctx:
        admin = admins.create(ctx, name, email, password, actor="cli")
    console.print(f"Admin »{admin.name}« angelegt.", highlight=False)


@admin_app.command("list")
def list_admins() -> None:
    """Alle Admins mit E-Mail, letzter Anmeldung und ob ein API-Schlüssel besteht."""
    with open_context() as ctx, transaction(ctx.engine) as conn:
        rows = admin_store.all_admins(conn)
        tz = ZoneInfo(ctx.config.site.timezone)
    table = Table("Name", "E-Mail", "Angelegt", "Letzte Anmeldung", "API-Schlüssel")
    for admin in rows:
        table.add_row(
            admin.name,
            admin.email or "–",
            german_short(admin.created_at, tz),
            german_short(admin.last_login_at, tz),
            "ja" if admin.has_token else "nein",
        )
    console.print(table)


@admin_app.command("token")
def token(name: Annotated[str, typer.Argument(help="Anmeldename des Admins.")]) -> None:
    """Einen API-Schlüssel erzeugen (ersetzt den alten); er wird nur jetzt angezeigt."""
    with open_context() as ctx:
        value = admins.new_api_token(ctx, name, actor="cli")
    console.print("API-Schlüssel (wird nicht noch einmal angezeigt):", highlight=False)
    print(value)
    console.print(f"Verwendung: Authorization: Bearer {value[:6]}…", highlight=False)
