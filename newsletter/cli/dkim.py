"""``newsletter dkim generate``: a DKIM signing key and the DNS record to publish."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from newsletter.cli.base import app, console, fail, get_config

dkim_app = typer.Typer(
    help="DKIM-Schlüssel für die Signatur ausgehender Mails.", no_args_is_help=True
)
app.add_typer(dkim_app, name="dkim")


@dkim_app.command("generate")
def generate(
    domain: Annotated[
        str, typer.Option("--domain", help="Signierende Domain (d=), z. B. example.org.")
    ],
    selector: Annotated[str, typer.Option("--selector", help="Selektor (s=), z. B. news2026.")],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Datei für den privaten Schlüssel (Standard: <data_dir>/dkim-<selector>.pem).",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Eine vorhandene Datei ersetzen.")] = False,
) -> None:
    """Einen RSA-Schlüssel (2048 Bit) erzeugen, nur für den Besitzer lesbar speichern und den
    TXT-Eintrag für das DNS ausgeben."""
    from newsletter.mail import dkimkeys

    problem = dkimkeys.check_names(selector, domain)
    if problem:
        raise fail(problem, 64)
    target = out or _default_path(selector)
    if target.exists() and not force:
        raise fail(
            f"{target} gibt es schon; mit --force ersetzen (der alte Schlüssel geht verloren).", 73
        )
    pair = dkimkeys.generate()
    _write_private(target, pair.private_pem)
    console.print(f"Privater Schlüssel: {target} (Rechte 0600)", highlight=False)
    console.print("\nIm DNS veröffentlichen (TXT-Eintrag):\n", highlight=False)
    console.print(
        dkimkeys.zone_line(selector, domain, pair.public_b64), highlight=False, soft_wrap=True
    )
    console.print(
        f"\nName: {dkimkeys.record_name(selector, domain)}\nWert: "
        f"{dkimkeys.record_value(pair.public_b64)}",
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        "\nDann in der Konfiguration (oder als NEWSLETTER_MAIL__DKIM_…):\n"
        f'  [mail]\n  dkim_domain = "{domain}"\n  dkim_selector = "{selector}"\n'
        f'  dkim_key_file = "{target.resolve()}"',
        highlight=False,
        soft_wrap=True,
        markup=False,
    )


def _default_path(selector: str) -> Path:
    config = get_config()
    return config.path(config.storage.data_dir) / f"dkim-{selector}.pem"


def _write_private(target: Path, pem: bytes) -> None:
    """Write ``pem`` to ``target`` readable by the owner only, replacing it atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        partial.chmod(0o600)  # whatever the umask
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
