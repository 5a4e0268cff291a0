"""The ``newsletter`` command. One module per noun registers its commands on ``app``."""

from __future__ import annotations

import sys

from newsletter.cli import db, serve  # noqa: F401  (registers commands)
from newsletter.cli import collect, regions  # noqa: F401  (registers commands)
from newsletter.cli import admin, schedule  # noqa: F401  (registers commands)
from newsletter.cli import feeds  # noqa: F401  (registers commands)
from newsletter.cli import send, subscribers  # noqa: F401  (registers commands)
from newsletter.cli.base import app, run_cli

__all__ = ["app", "main"]


def main() -> None:
    sys.exit(run_cli(app))
