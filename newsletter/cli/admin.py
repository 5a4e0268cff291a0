"""``newsletter admin add|list|token|password|disable|enable|sessions``: admin accounts,
API tokens and sessions."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from newsletter.cli import output
from newsletter.cli.base import app, console, fail, open_context
from newsletter.cli.german import App

admin_app = App(
    help="Verwaltungszugänge: anlegen, auflisten, API-Schlüssel, Passwort, sperren, Sitzungen."
)
app.add_typer(admin_app, name="admin")


NameArg = Annotated[str, typer.Argument(metavar="NAME", help="Anmeldename des Admins.")]
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Passwort aus der ersten Zeile der Eingabe.")
]


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    first = getpass.getpass("Passwort: ")
    second = getpass.getpass("Passwort wiederholen: ")
    if first != second:
        raise fail("Die Passwörter stimmen nicht überein.", 65)
    return first


@admin_app.command("add")
def add(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Anmeldename.")],
    email: Annotated[
        str,
        typer.Option(metavar="ADRESSE", help="E-Mail-Adresse (für »Testversand an mich«)."),
    ] = "",
    password_stdin: PasswordStdin = False,
) -> None:
    """Einen Admin anlegen; das Passwort wird zweimal abgefragt (oder von der Eingabe gelesen)."""
    password = _read_password(password_stdin)
    from newsletter import admins  # after the prompt: it comes at once

    with open_context() as ctx:
        admin = admins.create(ctx, name, email, password, actor="cli")
    console.print(f"Admin »{admin.name}« angelegt.", highlight=False)


@admin_app.command("list")
def list_admins() -> None:
    """Alle Admins mit E-Mail, letzter Anmeldung und ob ein API-Schlüssel besteht."""
    from newsletter.store import admins as admin_store
    from newsletter.store.db import transaction

    with open_context() as ctx, transaction(ctx.engine) as conn:
        rows = admin_store.all_admins(conn)
        tz = output.zone(ctx.config)
    table = output.table("Name", "angelegt", "angemeldet", "API", "E-Mail", long=("Name", "E-Mail"))
    for admin in rows:
        table.add_row(
            output.shown(f"{admin.name} (gesperrt)" if admin.disabled else admin.name),
            output.local(admin.created_at, tz, "%d.%m.%Y"),
            output.local(admin.last_login_at, tz, "%d.%m.%y %H:%M"),
            "ja" if admin.has_token else "nein",
            output.shown(admin.email or "–"),
        )
    output.show(console, table)
    console.print(
        f"angemeldet = zuletzt angemeldet, API = hat einen API-Schlüssel. {output.time_note(tz)}",
        highlight=False,
    )


@admin_app.command("token")
def token(name: NameArg) -> None:
    """Einen API-Schlüssel erzeugen (ersetzt den alten); er wird nur jetzt angezeigt."""
    from newsletter import admins

    with open_context() as ctx:
        value = admins.new_api_token(ctx, name, actor="cli")
    console.print("API-Schlüssel (wird nicht noch einmal angezeigt):", highlight=False)
    print(value)
    console.print(f"Verwendung: Authorization: Bearer {value[:6]}…", highlight=False)


@admin_app.command("password")
def password(name: NameArg, password_stdin: PasswordStdin = False) -> None:
    """Ein neues Passwort setzen; alle Sitzungen des Admins enden."""
    value = _read_password(password_stdin)
    from newsletter import admins  # after the prompt: it comes at once

    with open_context() as ctx:
        ended = admins.set_password(ctx, name, value, actor="cli")
    console.print(
        f"Passwort von »{name}« geändert, {output.count(ended, 'Sitzung', 'Sitzungen')} beendet.",
        highlight=False,
    )


@admin_app.command("disable")
def disable(name: NameArg) -> None:
    """Den Zugang sperren: keine Anmeldung, kein API-Schlüssel; alle Sitzungen enden."""
    from newsletter import admins

    with open_context() as ctx:
        ended = admins.set_disabled(ctx, name, True, actor="cli")
    console.print(
        f"Admin »{name}« gesperrt, {output.count(ended, 'Sitzung', 'Sitzungen')} beendet.",
        highlight=False,
    )


@admin_app.command("enable")
def enable(name: NameArg) -> None:
    """Einen gesperrten Zugang wieder freigeben."""
    from newsletter import admins

    with open_context() as ctx:
        admins.set_disabled(ctx, name, False, actor="cli")
    console.print(f"Admin »{name}« wieder freigegeben.", highlight=False)


@admin_app.command("sessions")
def list_sessions(
    name: NameArg,
    end: Annotated[bool, typer.Option("--end", help="Alle Sitzungen beenden.")] = False,
) -> None:
    """Die offenen Sitzungen des Admins (angemeldet, zuletzt aktiv, endet spätestens)."""
    from newsletter import admins, sessions
    from newsletter.store.db import utcnow

    with open_context() as ctx:
        if end:
            ended = admins.end_sessions(ctx, name, actor="cli")
            ended_text = output.count(ended, "Sitzung", "Sitzungen")
            console.print(f"{ended_text} von »{name}« beendet.", highlight=False)
            return
        found = sessions.live_sessions(ctx, name, utcnow())
        tz = output.zone(ctx.config)
    table = output.table("Angemeldet", "Zuletzt aktiv", "Endet spätestens")
    for session in found:
        table.add_row(
            output.local(session.created_at, tz),
            output.local(session.last_seen_at, tz),
            output.local(session.expires_at, tz),
        )
    output.show(console, table)
    console.print(
        f"{output.count(len(found), 'offene Sitzung', 'offene Sitzungen')}. {output.time_note(tz)}",
        highlight=False,
    )
