"""The context rules of the region classifier, in the order of ``newsletter.regions``.

:func:`find_hits` scans a text with the compiled trie and applies rules 1-11 of the
``newsletter.regions`` docstring; it returns the hits that count by themselves and the
loose hits (ambiguous or risky) that need the other places of the text (rule 12).
Pure functions over the text, the hits and the small rule patterns of
``newsletter.gazetteer.patterns``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from newsletter.gazetteer.build import MUNICIPALITY_KINDS, NAME_KINDS

NOT_COUNTING = frozenset({"foreign", "stop"})
ANCHOR_KINDS = frozenset({"district", "directorate", "landscape", "region", "verband"})
Rules = Mapping[str, re.Pattern[str]]
Places = tuple[tuple[str, str], ...]
_SENTENCE_END = re.compile(r"[.!?][\"»«“”)]?\s+(?=[\"»«„“(]?[A-ZÄÖÜ0-9])|\n")
_WHITESPACE = re.compile(r"\s+")
_LOOK_BACK = 25
_SEAT_LOOK_BACK = 90


@dataclass(frozen=True)
class Entry:
    """A phrase compiled for one region layout: its places as (key, region) pairs.

    ``fallback``: localities of the same name as a municipality, used only when the
    text links them to their municipality (rule 7).
    """

    kind: str
    places: Places
    risky: bool
    fallback: Places = ()

    @property
    def regions(self) -> frozenset[str]:
        """The regions of all places."""
        return frozenset(region for _, region in self.places)

    @property
    def ambiguous(self) -> bool:
        """A town or locality name whose places lie in more than one region."""
        return self.kind in MUNICIPALITY_KINDS and len(self.regions) > 1

    @property
    def loose(self) -> bool:
        """Ambiguous or risky: needs the context rules."""
        return self.risky or self.ambiguous


class Hit(NamedTuple):
    """A match of the compiled pattern; ``cued`` after a place cue or as heading place."""

    start: int
    end: int
    phrase: str
    entry: Entry
    cued: bool = False


def find_hits(
    text: str, pattern: re.Pattern[str], entries: Mapping[str, Entry], rules: Rules
) -> tuple[list[Hit], list[Hit]]:
    """Rules 1-11: the hits that count by themselves, and the loose ones."""
    hits = _datelines(text, _scan(text, pattern, entries, rules), rules)
    hits = _link(text, hits, rules)
    certain: list[Hit] = []
    loose: list[Hit] = []
    for hit in _context_filter(text, hits, rules):
        cued = hit.cued or _has_cue(text, hit, rules)
        if not hit.entry.loose or (cued and not hit.entry.ambiguous):
            certain.append(hit)
        else:
            loose.append(hit._replace(cued=cued))
    return certain, loose


def _scan(
    text: str, pattern: re.Pattern[str], entries: Mapping[str, Entry], rules: Rules
) -> list[Hit]:
    """Rule 1, whole words; then the local rules 2-5."""
    hits: list[Hit] = []
    pos = 0
    while found := pattern.search(text, pos):
        start, end = found.span()
        if start and (text[start - 1].isalnum() or text[start - 1] == "_"):
            pos = start + 1
            continue
        phrase = found.group()
        hit = Hit(start, end, phrase, entries[_WHITESPACE.sub(" ", phrase)])
        if _locally_ok(text, hit, rules):
            hits.append(hit)
        pos = end
    return hits


def _locally_ok(text: str, hit: Hit, rules: Rules) -> bool:
    """Rules 2-5: no person, no street or quarter, no article before a loose name, no seat."""
    kind, lo = hit.entry.kind, max(0, hit.start - _LOOK_BACK)
    if kind in MUNICIPALITY_KINDS and (
        rules["honorific"].search(text, lo, hit.start) or rules["person"].search(text, lo, hit.start)
    ):
        return False
    if kind == "adjective" and (
        rules["street"].match(text, hit.end) or rules["seat_after"].match(text, hit.end)
    ):
        return False
    if kind == "municipality" and rules["seat_before"].search(
        text, max(0, hit.start - _SEAT_LOOK_BACK), hit.start
    ):
        return False
    bare = kind in NAME_KINDS and hit.entry.loose
    return not (bare and rules["article"].search(text, lo, hit.start))


def _datelines(text: str, hits: list[Hit], rules: Rules) -> list[Hit]:
    """Rule 6: drop datelines, mark heading places as cued (at the start of each line)."""
    result: list[Hit] = []
    i = 0
    while i < len(hits):
        group = _head_group(text, hits, i, rules)
        if group is None:
            result.append(hits[i])
            i += 1
            continue
        end, dateline = group
        if not dateline:
            result.extend(h._replace(cued=True) for h in hits[i:end])
        i = end
    return result


def _head_group(text: str, hits: Sequence[Hit], i: int, rules: Rules) -> tuple[int, bool] | None:
    """(index after the group, is it a dateline) if hits[i] starts a line's head."""
    first = hits[i]
    if first.entry.kind in NOT_COUNTING or not rules["line_start"].search(text, 0, first.start):
        return None
    end = i + 1
    while end < len(hits) and rules["slash"].fullmatch(text, hits[end - 1].end, hits[end].start):
        end += 1
    head = rules["heading"].match(text, hits[end - 1].end)
    if head is None:
        return None
    tag, separator = head.group(1), head.group().strip()[-1]
    if tag:
        return end, rules["agency"].fullmatch(tag.strip()) is not None
    capitals = all(h.phrase.isupper() for h in hits[i:end])
    return end, separator != ":" and (capitals or end - i > 1)


def _link(text: str, hits: list[Hit], rules: Rules) -> list[Hit]:
    """Rule 7: a locality named with its municipality keeps only the places that fit."""
    linked = list(hits)
    for i in range(len(linked) - 1):
        a, b = linked[i], linked[i + 1]
        if a.entry.kind not in NAME_KINDS or b.entry.kind not in NAME_KINDS:
            continue
        gap = (a.end, b.start)
        if rules["link_down"].fullmatch(text, *gap) or rules["link_up"].fullmatch(text, *gap):
            a2, b2 = _restrict(a, b, by_region=False), _restrict(b, a, by_region=False)
        elif rules["link_near"].fullmatch(text, *gap):
            a2, b2 = _restrict(a, b, by_region=True), b
        else:
            continue
        if a2 and b2:
            linked[i], linked[i + 1] = a2, b2
    return linked


def _restrict(hit: Hit, other: Hit, *, by_region: bool) -> Hit | None:
    """``hit`` with only the places that share a key (or region) with ``other``."""
    keys = {key for key, _ in (*other.entry.places, *other.entry.fallback)}
    regions = other.entry.regions
    kinds = ((hit.entry.kind, hit.entry.places), ("locality", hit.entry.fallback))
    for kind, places in kinds:
        same = tuple(p for p in places if p[0] in keys)
        if not same and by_region:
            same = tuple(p for p in places if p[1] in regions)
        if same:
            return hit._replace(entry=Entry(kind, same, False), cued=True)
    return None


def _context_filter(text: str, hits: list[Hit], rules: Rules) -> list[Hit]:
    """Rules 8-10; foreign and stop hits are removed at the end."""
    kept: list[Hit] = []
    foreign = [h for h in hits if h.entry.kind == "foreign"]
    away = _foreign_paragraphs(text, hits, rules)
    for i, hit in enumerate(hits):
        following = hits[i + 1] if i + 1 < len(hits) else None
        if hit.entry.kind in NOT_COUNTING or _foreign_qualified(text, hit, following, rules):
            continue
        if _abroad(hit, away) or (
            hit.entry.loose and any(_same_sentence(text, hit, f) for f in foreign)
        ):
            continue
        if hit.entry.loose and _hyphenated(text, hit.start):
            _join_quarter(text, hit, kept)
            continue
        kept.append(hit)
    return kept


class Paragraph(NamedTuple):
    """A paragraph that names a place outside Saxony; ``strong``: a foreign authority."""

    start: int
    end: int
    strong: bool


def _paragraphs(text: str, rules: Rules) -> Iterator[tuple[int, int]]:
    """(start, end) of each paragraph (separated by a blank line)."""
    start = 0
    for gap in rules["paragraph"].finditer(text):
        yield start, gap.start()
        start = gap.end()
    yield start, len(text)


def _foreign_paragraphs(text: str, hits: Sequence[Hit], rules: Rules) -> list[Paragraph]:
    """Rule 10: paragraphs with another Land, or a foreign authority and no Saxon anchor."""
    found: list[Paragraph] = []
    for start, end in _paragraphs(text, rules):
        inside = [h for h in hits if start <= h.start < end]
        strong = any(
            not _covered(m.start(), m.end(1), inside)
            for m in rules["authority"].finditer(text, start, end)
        ) and not _saxon_anchor(text, start, end, inside, rules)
        if strong or rules["state"].search(text, start, end):
            found.append(Paragraph(start, end, strong))
    return found


def _covered(start: int, end: int, hits: Sequence[Hit]) -> bool:
    """A counting hit overlaps the span (the authority's place is Saxon)."""
    return any(h.start < end and start < h.end and h.entry.kind not in NOT_COUNTING for h in hits)


def _saxon_anchor(text: str, start: int, end: int, hits: Sequence[Hit], rules: Rules) -> bool:
    """The paragraph says Sachsen/sächsisch or names a Saxon district, directorate, area."""
    return bool(rules["saxon"].search(text, start, end)) or any(
        h.entry.kind in ANCHOR_KINDS for h in hits
    )


def _abroad(hit: Hit, paragraphs: Sequence[Paragraph]) -> bool:
    """Rule 10: a loose name in a foreign paragraph, any town name in a strong one."""
    for p in paragraphs:
        if p.start <= hit.start < p.end:
            return hit.entry.loose or (p.strong and hit.entry.kind in MUNICIPALITY_KINDS)
    return False


def _foreign_qualified(text: str, hit: Hit, following: Hit | None, rules: Rules) -> bool:
    """Rule 8: »Bergen auf Rügen«, »Coswig (Anhalt)«; a loose name »bei« an unknown place."""
    if hit.entry.kind not in NAME_KINDS:
        return False
    if following and following.entry.kind == "foreign":
        return rules["connector"].fullmatch(text, hit.end, following.start) is not None
    near = rules["near"].match(text, hit.end)
    return bool(hit.entry.loose and near and (following is None or following.start != near.end()))


def _hyphenated(text: str, start: int) -> bool:
    """The hit follows »Word-«."""
    return start > 1 and text[start - 1] == "-" and text[start - 2].isalnum()


def _join_quarter(text: str, hit: Hit, kept: list[Hit]) -> None:
    """Rule 9: »Dresden-Neustadt« extends the Dresden hit; without a Saxon head: dropped."""
    head = kept[-1] if kept else None
    if (
        head
        and head.end == hit.start - 1
        and head.entry.kind == "municipality"
        and not head.entry.loose
    ):
        kept[-1] = head._replace(end=hit.end, phrase=text[head.start : hit.end])


def _same_sentence(text: str, a: Hit, b: Hit) -> bool:
    """No sentence end between two hits."""
    lo, hi = min(a.end, b.end), max(a.start, b.start)
    return lo >= hi or _SENTENCE_END.search(text, lo, hi) is None


def _has_cue(text: str, hit: Hit, rules: Rules) -> bool:
    """Rule 11: a name right after a place cue (»in Werda«, »OT Weißig«)."""
    return rules["cue"].search(text, max(0, hit.start - _LOOK_BACK), hit.start) is not None
