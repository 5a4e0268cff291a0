"""The hits of the region classifier's scan: what a phrase names (:class:`Entry`) and
where the text names it (:class:`Hit`), shared by the rule modules."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

from newsletter.gazetteer.build import MUNICIPALITY_KINDS

NOT_COUNTING = frozenset({"foreign", "stop", "marker"})
ANCHOR_KINDS = frozenset({"district", "directorate", "landscape", "region", "verband"})
Rules = Mapping[str, re.Pattern[str]]
Sets = Mapping[str, frozenset[str]]
Places = tuple[tuple[str, str], ...]
LOOK_BACK = 25  # characters before a name in which a cue, article or »in« is looked for


@dataclass(frozen=True)
class Entry:
    """A phrase compiled for one region layout: its places as (key, region) pairs.

    ``fallback``: localities of the same name as a municipality, used only when the
    text links them to their municipality (rule 7). ``tag``: what a marker marks.
    """

    kind: str
    places: Places
    risky: bool
    fallback: Places = ()
    tag: str = ""

    @cached_property
    def regions(self) -> frozenset[str]:
        """The regions of all places."""
        return frozenset(region for _, region in self.places)

    @cached_property
    def ambiguous(self) -> bool:
        """A town or locality name whose places lie in more than one region."""
        return self.kind in MUNICIPALITY_KINDS and len(self.regions) > 1

    @cached_property
    def loose(self) -> bool:
        """Ambiguous or risky: needs the context rules."""
        return self.risky or self.ambiguous


class Hit(NamedTuple):
    """A match of the compiled pattern; ``cued`` after a place cue or as heading place;
    ``weak`` as the end of a route or a direction (rule 11)."""

    start: int
    end: int
    phrase: str
    entry: Entry
    cued: bool = False
    weak: bool = False


def is_marker(hit: Hit, key: str) -> bool:
    """The hit is a context marker word of ``key`` (institution, authority, saxon)."""
    return hit.entry.kind == "marker" and hit.entry.tag == key
