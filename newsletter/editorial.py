"""The editor's word for the next digest: decisions only (pure, no store, no network).

An editor writes an introduction (Markdown, at most :data:`MAX_INTRO_CHARS` characters),
pins items to the top and leaves items out, for one region or for all regions
(:data:`~newsletter.models.ALL_REGIONS`). A word counts for a region's *next* digest: it
applies while it is newer than the region's latest stored digest, so once a digest went out
with it, it is used up. Both words apply together: the all-regions introduction first, then
the region's; pins of the region before those for all; exclusions of both.

The introduction is rendered by markdown-it with raw HTML off, then cleaned by the one
nh3 allowlist (:func:`newsletter.sanitize.clean_html`): no ``<script>``, no ``javascript:``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from markdown_it import MarkdownIt

from newsletter.errors import InvalidInputError
from newsletter.models import ALL_REGIONS, Editorial, EditorialView, Item
from newsletter.sanitize import clean_html

MAX_INTRO_CHARS = 1500
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False})


def checked_intro(text: str) -> str:
    """The introduction as typed (line ends normalised), or a German error when too long."""
    intro = text.replace("\r\n", "\n").strip()
    if len(intro) > MAX_INTRO_CHARS:
        raise InvalidInputError(
            f"Die Einleitung ist {len(intro)} Zeichen lang; erlaubt sind {MAX_INTRO_CHARS}.",
            field="intro",
        )
    return intro


def intro_html(markdown_text: str) -> str:
    """Markdown -> sanitised HTML (raw HTML is not passed through; links http(s)/mailto)."""
    if not markdown_text.strip():
        return ""
    return clean_html(str(_markdown.render(markdown_text)))


def in_force(editorial: Editorial, region: str, last_built: datetime | None) -> bool:
    """Whether ``editorial`` counts for ``region``'s next digest."""
    if editorial.scope not in (region, ALL_REGIONS):
        return False
    written = editorial.updated_at
    return last_built is None or written is None or written > last_built


def view_for(
    region: str, editorials: Iterable[Editorial], last_built: datetime | None
) -> EditorialView:
    """The word ``region``'s next digest uses (:func:`in_force` ones, merged)."""
    found = {e.scope: e for e in editorials if in_force(e, region, last_built)}
    ordered = [found[s] for s in (ALL_REGIONS, region) if s in found]
    intro = "\n".join(h for h in (intro_html(e.intro_md) for e in ordered) if h)
    pinned: list[str] = []
    for editorial in reversed(ordered):  # the region's own pins first
        pinned += [i for i in editorial.pinned if i not in pinned]
    excluded = frozenset(i for e in ordered for i in e.excluded)
    return EditorialView(intro, tuple(i for i in pinned if i not in excluded), excluded)


def kept(view: EditorialView, items: Sequence[Item]) -> list[Item]:
    """The items without those the editor left out."""
    return [i for i in items if i.id not in view.excluded]


def pinned_first(pinned: Sequence[str], items: Sequence[Item]) -> tuple[list[Item], list[Item]]:
    """(pinned items in the editor's order, the others in their order)."""
    by_id = {i.id: i for i in items}
    top = [by_id[i] for i in pinned if i in by_id]
    chosen = {i.id for i in top}
    return top, [i for i in items if i.id not in chosen]


def scope_name(scope: str, names: dict[str, str]) -> str:
    """»alle Regionen« or the region's name."""
    return "alle Regionen" if scope == ALL_REGIONS else names.get(scope, scope)
