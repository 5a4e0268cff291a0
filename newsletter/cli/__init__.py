"""The ``newsletter`` command. One module per noun registers its commands on ``app``.

Speed trick: every command, ``--help`` included, imports all command modules (Typer needs
every signature to build the app), so each module imports at its top only typer, rich,
the stdlib and :mod:`newsletter.errors`; what a command needs (config and pydantic,
SQLAlchemy, the mail stack, feeds, the gazetteer, argon2 …) it imports inside its
function, and annotations that name such types sit under ``TYPE_CHECKING`` (Typer
resolves only the command signatures, which use plain types). Measured with
``bench/bench_startup.py`` (medians, × ``import typer, rich``): ``newsletter --help`` went
from 14.9 × (1.25 s) to 2.8 × (0.26 s); a two-command Typer app's help takes 2.3 ×.
Invariant: importing :mod:`newsletter.cli` and running ``--help`` loads none of those
libraries and reads no project file — ``tests/test_startup.py`` fails when it does.
"""

from __future__ import annotations

import sys

from newsletter.cli import (  # noqa: F401  (each module registers its commands on app)
    admin,
    backup,
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
