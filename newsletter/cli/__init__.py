"""The ``newsletter`` command. One module per noun registers its commands on ``app``."""

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
