"""The ``newsletter`` command. One module per noun registers its commands on ``app``.

Speed trick: every command, ``--help`` included, imports all command modules (Typer needs
every signature to build the app), so each module imports at its top only typer, rich,
the stdlib and :mod:`newsletter.errors`; what a command needs (config and pydantic,
SQLAlchemy, the mail stack, feeds, the gazetteer, argon2 …) it imports inside its
function, and annotations that name such types sit under ``TYPE_CHECKING`` (Typer
resolves only the command signatures, which use plain types). Measured with
``bench/bench_startup.py``: ``newsletter --help`` went from 4.1 s to about 0.4 s.
Invariant: importing :mod:`newsletter.cli` and running ``--help`` loads none of those
libraries and reads no project file — ``tests/test_startup.py`` fails when it does.
"""

from __future__ import annotations

import sys

from newsletter.cli import (  # noqa: F401  (each module registers its commands on app)
    admin,
    collect,
    corrections,
    db,
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
