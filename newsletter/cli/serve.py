"""``newsletter serve``: web app, scheduler and one send worker in one process."""

from __future__ import annotations

from typing import Annotated

import typer

from newsletter.cli.base import app, get_config, open_context


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
    with open_context() as ctx:
        run_server(
            ctx,
            host=host or config.web.host,
            port=port or config.web.port,
            background=not no_scheduler,
        )
