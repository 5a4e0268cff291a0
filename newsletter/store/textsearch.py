"""Case-insensitive substring search, as cheap as each database allows.

SQLite's ``LIKE`` is already case-insensitive for ASCII letters, and its ``lower()``
knows no more than ASCII either, so ``lower(col) LIKE …`` only cost a function call per
row (about half the time of a 50,000-row search, bench/bench_admin.py). PostgreSQL's
``LIKE`` is case-sensitive; there ``ILIKE``. Wildcards in the needle are literal.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from newsletter.store.db import is_postgres


def contains_text(conn: Connection, column: Any, needle: str) -> Any:
    """``column`` contains ``needle`` in any case (ASCII case on SQLite)."""
    if is_postgres(conn):
        return column.icontains(needle, autoescape=True)
    return column.contains(needle, autoescape=True)
