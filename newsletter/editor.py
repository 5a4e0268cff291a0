"""The editor's word at the edge: read it for a digest, save it from the admin or the CLI.

Decisions live in :mod:`newsletter.editorial` (pure); this module reads and writes the
store and the audit log around them.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from newsletter.context import Context
from newsletter.editorial import checked_intro, view_for
from newsletter.errors import InvalidInputError
from newsletter.models import ALL_REGIONS, Editorial, EditorialView
from newsletter.store import audit
from newsletter.store import editorials as editorial_store
from newsletter.store.db import transaction, utcnow


def word_for(conn: Connection, region: str) -> EditorialView:
    """The word ``region``'s next digest goes out with."""
    stored = editorial_store.current(conn, [region, ALL_REGIONS])
    return view_for(region, stored, editorial_store.last_built(conn, region))


def current(ctx: Context, scope: str) -> Editorial:
    """The stored word of a scope, or an empty one."""
    with transaction(ctx.engine) as conn:
        found = editorial_store.current(conn, [scope])
    return found[0] if found else Editorial(scope)


def in_use(ctx: Context, editorial: Editorial, region: str) -> bool:
    """Whether the word still counts for ``region``'s next digest (not used up yet)."""
    from newsletter.editorial import in_force

    with transaction(ctx.engine) as conn:
        return in_force(editorial, region, editorial_store.last_built(conn, region))


def save(
    ctx: Context,
    scope: str,
    intro: str,
    *,
    pinned: Sequence[str] = (),
    excluded: Sequence[str] = (),
    actor: str,
) -> Editorial:
    """Check and store the word of ``scope`` (a region key or ``*``), audited."""
    if scope != ALL_REGIONS and ctx.config.region(scope) is None:
        raise InvalidInputError(f"Die Region »{scope}« gibt es nicht.", field="scope")
    editorial = Editorial(
        scope=scope,
        intro_md=checked_intro(intro),
        pinned=tuple(dict.fromkeys(pinned)),
        excluded=tuple(dict.fromkeys(i for i in excluded if i not in pinned)),
        updated_by=actor,
        updated_at=utcnow(),
    )
    with transaction(ctx.engine) as conn:
        editorial_store.save(conn, editorial)
        detail = {"chars": len(editorial.intro_md), "pinned": list(editorial.pinned)}
        detail["excluded"] = list(editorial.excluded)
        audit.record(conn, actor, "editorial.save", scope, detail)
    return editorial
