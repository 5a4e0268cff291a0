"""Jinja2 environments for web pages and mails (templates/ at the top of the repo)."""

from __future__ import annotations

import sys
from functools import cache
from importlib import resources
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape


def templates_dir() -> Path:
    """``templates/`` in a checkout, else the copy installed as shared data."""
    checkout = Path(str(resources.files("newsletter"))).parent / "templates"
    if checkout.is_dir():
        return checkout
    return Path(sys.prefix) / "share" / "newsletter" / "templates"


@cache
def environment(kind: str) -> Environment:
    """One cached environment per template folder (``web`` or ``email``), autoescaped."""
    return Environment(
        loader=FileSystemLoader(templates_dir() / kind),
        autoescape=select_autoescape(["html", "xml"], default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
