"""``newsletter serve``: web app, scheduler and one send worker in one process."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from newsletter.cli import base
from newsletter.cli.base import app, console, get_config, open_context

if TYPE_CHECKING:
    from newsletter.config import Config
    from newsletter.context import Context

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(metavar="ADRESSE", help="Adresse (Standard: web.host).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(metavar="PORT", help="Port (Standard: web.port).")
    ] = None,
    no_scheduler: Annotated[
        bool, typer.Option("--no-scheduler", help="Ohne Zeitplan und Versand starten.")
    ] = False,
) -> None:
    """Website, Feeds und Verwaltung ausliefern; Zeitplan (Abruf, Newsletter) und Versand laufen mit."""
    from newsletter.server import run_server

    config = get_config()
    chosen = port or config.web.port
    base.state.config = config = with_base_url(
        config, link_base(config.site.base_url, config.web.port, chosen)
    )
    with open_context() as ctx:
        run_server(
            ctx,
            host=host or config.web.host,
            port=chosen,
            background=not no_scheduler,
            on_bound=lambda: _next_steps(ctx),
        )


def link_base(base_url: str, configured_port: int, port: int) -> str:
    """The base URL of links while serving on ``port``: a local base URL (loopback, on the
    configured ``web.port`` — the default) follows the port served; a public one stays."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(base_url)
    default_port = 443 if parts.scheme == "https" else 80
    local = parts.hostname in LOOPBACK and (parts.port or default_port) == configured_port
    if not local or port == configured_port:
        return base_url
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
    return urlunsplit(parts._replace(netloc=f"{host}:{port}"))


def with_base_url(config: Config, url: str) -> Config:
    if url == config.site.base_url:
        return config
    return config.model_copy(update={"site": config.site.model_copy(update={"base_url": url})})


def _next_steps(ctx: Context) -> None:
    """What to do next, once the port is ours: the site, the admin pages, the first admin."""
    from newsletter.store import admins as admin_store
    from newsletter.store.db import transaction

    with transaction(ctx.engine) as conn:
        has_admin = admin_store.count(conn) > 0
    site = ctx.config.site.base_url.rstrip("/")
    lines = [f"Die Website läuft: {site}/", f"Verwaltung: {site}/admin/"]
    if not has_admin:
        lines.append(
            f"Ersten Admin anlegen (in einem zweiten Terminal): {_program()} admin add NAME"
        )
    lines.append("Beenden mit Strg+C.")
    console.print("\n".join(lines), highlight=False, soft_wrap=True)


def _program() -> str:
    """How to call this command again: ``newsletter`` when the shell finds this one, else
    its path (``.venv/bin/newsletter`` after ``make run``)."""
    import os
    import shutil
    import sys
    from pathlib import Path

    called = Path(sys.argv[0])
    if called.name != "newsletter":
        return "newsletter"
    found = shutil.which("newsletter")
    return "newsletter" if found and called.samefile(found) else os.path.relpath(called)
