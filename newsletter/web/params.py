"""Bounded integer parameters: every id and page number fits a 32-bit database integer.

A number past SQLite's range made the query itself fail (500). Out of range, a path id is
answered 404 and a page number 400 by the one error edge (:mod:`newsletter.web.app`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

MAX_INT = 2**31 - 1  # database integers are 32-bit on both SQLite and PostgreSQL here

PathId = Annotated[int, Path(ge=1, le=MAX_INT)]
PageNumber = Annotated[int, Query(ge=1, le=MAX_INT)]


def optional_id(value: str) -> int | None:
    """A filter's id from free text: None unless it is a number in range."""
    return int(value) if value.isdigit() and 1 <= int(value) <= MAX_INT else None
