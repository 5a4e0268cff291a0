"""Jinja2 environments for web pages and mails (templates/ at the top of the repo)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from newsletter.resources import resource_dir


def templates_dir() -> Path:
    """``templates/`` (see :mod:`newsletter.resources`)."""
    return resource_dir("templates")


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
