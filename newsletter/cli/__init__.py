"""The ``newsletter`` command. One module per noun registers its commands on ``app``.

Speed trick: every command, ``--help`` included, imports all command modules (Typer needs
every signature to build the app), so each module imports at its top only typer, rich,
the stdlib and :mod:`newsletter.errors`; what a command needs (config and pydantic,
SQLAlchemy, the mail stack, feeds, the gazetteer, argon2 …) it imports inside its
function, and annotations that name such types sit under ``TYPE_CHECKING`` (Typer
resolves only the command signatures, which use plain types). Help screens and usage
errors are written by :mod:`newsletter.cli.german` with click's plain formatter, and
rich.console and rich.table are imported when a command first prints, so ``--help``
loads neither Typer's rich help nor rich's console. Measured with
``bench/bench_startup.py`` (medians, × ``import typer, rich``): ``newsletter --help`` went
from 14.9 × (1.25 s) to 2.8 × (0.26 s) by lazy imports, then to 1.5–1.8 × by the plain
German help (a two-command Typer app's rich help takes 2.2–2.3 ×). ``items list`` stays
above 2 × (8.6 × on a loaded machine): ``import sqlalchemy`` alone takes 3.4–3.8 ×, so
no command that reads the database through the store can meet that goal.
Invariant: importing :mod:`newsletter.cli` and running ``--help`` loads none of those
libraries and reads no project file — ``tests/test_startup.py`` and
``tests/test_cli_german.py`` fail when it does.
"""

from __future__ import annotations

import sys

from newsletter.cli import (  # noqa: F401  (each module registers its commands on app)
    admin,
    backup,
    bounces,
    collect,
    corrections,
    db,
    dkim,
    editorial,
    feeds,
    regions,
    schedule,
    send,
    serve,
    subscribers,
)
from newsletter.cli.base import app, run_cli

__all__ = ["app", "main"]


def main() -> None:
    sys.exit(run_cli(app))
