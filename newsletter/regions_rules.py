"""The context rules of the region classifier, in the order of ``newsletter.regions``.

:func:`find_hits` scans a text with the compiled trie and applies rules 1-12 of the
``newsletter.regions`` docstring; it returns the hits that count by themselves and the
loose hits (ambiguous or risky) that need the other places of the text (rule 13).
Pure functions over the text, the hits and the small rule patterns of
``newsletter.gazetteer.patterns``.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, NamedTuple

from newsletter.gazetteer.build import MUNICIPALITY_KINDS, NAME_KINDS

if TYPE_CHECKING:
    from newsletter.regions import Gazetteer

NOT_COUNTING = frozenset({"foreign", "stop", "marker"})
ANCHOR_KINDS = frozenset({"district", "directorate", "landscape", "region", "verband"})
Rules = Mapping[str, re.Pattern[str]]
Sets = Mapping[str, frozenset[str]]
Places = tuple[tuple[str, str], ...]
_WHITESPACE = re.compile(r"\s+")
_LOOK_BACK = 25
_PERSON_LOOK_BACK = 60
_SEAT_LOOK_BACK = 90
_SENTENCE_LOOK = 300
_SPEAKER_LOOK_BACK = 600


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


def find_hits(text: str, gazetteer: Gazetteer) -> tuple[list[Hit], list[Hit]]:
    """Rules 1-12: the hits that count by themselves, and the loose ones."""
    rules = gazetteer.rules
    hits = _scan(text, gazetteer.pattern, gazetteer.entries, rules, gazetteer.sets)
    sets = gazetteer.sets
    hits = _link(text, _datelines(text, _seats(text, hits, rules, sets), rules, sets), rules)
    certain: list[Hit] = []
    loose: list[Hit] = []
    for hit in _context_filter(text, _routes(text, hits, rules), rules, gazetteer.sets):
        if not hit.entry.loose:
            certain.append(hit)
            continue
        cued = hit.cued or _has_cue(text, hit, rules)
        if cued and not hit.entry.ambiguous:
            certain.append(hit)
        else:
            loose.append(hit._replace(cued=cued))
    if any(not hit.weak for hit in certain):
        return [h for h in certain if not h.weak], [h for h in loose if not h.weak]
    return certain, loose


def _scan(
    text: str, pattern: re.Pattern[str], entries: Mapping[str, Entry], rules: Rules, sets: Sets
) -> list[Hit]:
    """Rule 1, whole words; then the local rules 2-4."""
    hits: list[Hit] = []
    pos = 0
    while found := pattern.search(text, pos):
        start, end = found.span()
        if start and (text[start - 1].isalnum() or text[start - 1] == "_"):
            pos = start + 1
            continue
        phrase = found.group()
        hit = Hit(start, end, phrase, entries[_WHITESPACE.sub(" ", phrase)])
        if _locally_ok(text, hit, rules, sets):
            hits.append(hit)
        pos = end
    return hits


def _locally_ok(text: str, hit: Hit, rules: Rules, sets: Sets) -> bool:
    """Rules 2-4: no person, no street or quarter, no article before a loose name."""
    kind = hit.entry.kind
    if kind in MUNICIPALITY_KINDS and _person(text, hit.start, rules, sets):
        return False
    if kind == "adjective" and rules["street"].match(text, hit.end):
        return False
    bare = kind in NAME_KINDS and hit.entry.loose
    return not (bare and rules["article"].search(text, max(0, hit.start - _LOOK_BACK), hit.start))


def _person(text: str, start: int, rules: Rules, sets: Sets) -> bool:
    """Rule 2: »Herr«/»Dr.«, a first name, an initial, or a role and a name come before."""
    if not start or not text[start - 1].isspace():
        return False
    words = text[max(0, start - _PERSON_LOOK_BACK) : start].split()[-2:]
    if not words:
        return False
    last = words[-1]
    if last in sets["honorifics"] or last in sets["first_names"]:
        return True
    if rules["initial"].fullmatch(last):
        return True
    return len(words) == 2 and words[0] in sets["roles"] and bool(rules["name"].fullmatch(last))


def _seats(text: str, hits: list[Hit], rules: Rules, sets: Sets) -> list[Hit]:
    """Rule 5: a town named as the seat of a state institution adds nothing, nor the
    seat city where a state speaker says something."""
    kept: list[Hit] = []
    for i, hit in enumerate(hits):
        if hit.entry.kind == "adjective" and i + 1 < len(hits):
            after = hits[i + 1]
            if _is_marker(after, "institution") and text[hit.end : after.start].isspace():
                continue
        if hit.entry.kind in NAME_KINDS and (
            _seat_of_institution(text, hits, i, rules) or _said_at_seat(text, hit, rules, sets)
        ):
            continue
        kept.append(hit)
    return kept


def _seat_of_institution(text: str, hits: Sequence[Hit], i: int, rules: Rules) -> bool:
    """An institution shortly before hits[i], joined by its name's words and »in«."""
    hit = hits[i]
    for before in reversed(hits[max(0, i - 3) : i]):
        if before.end < hit.start - _SEAT_LOOK_BACK:
            return False
        if _is_marker(before, "institution"):
            return rules["seat"].fullmatch(text, before.end, hit.start) is not None
    return False


def _said_at_seat(text: str, hit: Hit, rules: Rules, sets: Sets) -> bool:
    """»…, sagte der Innenminister heute in Dresden«: a seat city after »in«, in a sentence
    with a verb of saying, and a state speaker in it or shortly before in the paragraph."""
    if hit.phrase not in sets["seat_cities"]:
        return False
    if not rules["in"].search(text, max(0, hit.start - _LOOK_BACK), hit.start):
        return False
    start, end = _sentence(text, hit, rules)
    if not rules["statement"].search(text, start, end):
        return False
    before = _last_end(rules["paragraph"], text, max(0, start - _SPEAKER_LOOK_BACK), start)
    return rules["speaker"].search(text, before, end) is not None


def _sentence(text: str, hit: Hit, rules: Rules) -> tuple[int, int]:
    """The bounds of the sentence around ``hit`` (at most _SENTENCE_LOOK either side)."""
    ends = rules["sentence_end"]
    start = _last_end(ends, text, max(0, hit.start - _SENTENCE_LOOK), hit.start)
    after = ends.search(text, hit.end, hit.end + _SENTENCE_LOOK)
    return start, after.start() if after else min(len(text), hit.end + _SENTENCE_LOOK)


def _last_end(separator: re.Pattern[str], text: str, lo: int, hi: int) -> int:
    """The end of the last ``separator`` between ``lo`` and ``hi`` (``lo`` if none)."""
    last = lo
    for found in separator.finditer(text, lo, hi):
        last = found.end()
    return last


def _is_marker(hit: Hit, key: str) -> bool:
    """The hit is a context marker word of ``key`` (institution, authority, saxon)."""
    return hit.entry.kind == "marker" and hit.entry.tag == key


def _datelines(text: str, hits: list[Hit], rules: Rules, sets: Sets) -> list[Hit]:
    """Rule 6: drop datelines, mark heading places as cued (at the start of each line)."""
    result: list[Hit] = []
    i = 0
    while i < len(hits):
        group = _head_group(text, hits, i, rules, sets)
        if group is None:
            result.append(hits[i])
            i += 1
            continue
        end, dateline = group
        if not dateline:
            result.extend(h._replace(cued=True) for h in hits[i:end])
        i = end
    return result


def _head_group(
    text: str, hits: Sequence[Hit], i: int, rules: Rules, sets: Sets
) -> tuple[int, bool] | None:
    """(index after the group, is it a dateline) if hits[i] starts a line's head."""
    first = hits[i]
    lo = hits[i - 1].end if i else 0
    if first.entry.kind in NOT_COUNTING or not _line_start(text, lo, first.start):
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
    seat = end - i == 1 and first.phrase in sets["seat_cities"]
    return end, separator != ":" and (
        capitals or end - i > 1 or (seat and _state_lead(text, head, rules))
    )


def _state_lead(text: str, head: re.Match[str], rules: Rules) -> bool:
    """»Dresden – Die Gewaltkriminalität in Sachsen …«: the seat city, a dash and a lead
    sentence about the state (»Grimma – Der Innenminister besuchte …« is Grimma's)."""
    dash = head.group().strip()[-1] in "–—-"
    return dash and rules["state_lead"].match(text, head.end()) is not None


def _line_start(text: str, lo: int, start: int) -> bool:
    """Only white space between the last line break (or the text's start) and ``start``."""
    segment = text[lo:start]
    newline = segment.rfind("\n")
    if newline < 0:
        return lo == 0 and (not segment or segment.isspace())
    rest = segment[newline + 1 :]
    return not rest or rest.isspace()


def _link(text: str, hits: list[Hit], rules: Rules) -> list[Hit]:
    """Rule 7: a locality named with its municipality keeps only the places that fit; a
    part the locality list does not know counts as the place it is a part of."""
    linked = list(hits)
    for i in range(len(linked) - 1):
        a, b = linked[i], linked[i + 1]
        if a.entry.kind not in MUNICIPALITY_KINDS or b.entry.kind not in NAME_KINDS:
            continue
        pair = _linked_pair(text, a, b, rules) if a.entry.kind in NAME_KINDS else None
        if pair := pair or _part_pair(text, a, b, rules):
            linked[i], linked[i + 1] = pair
    return linked


def _linked_pair(text: str, a: Hit, b: Hit, rules: Rules) -> tuple[Hit, Hit] | None:
    """Both names restricted to the places that fit each other, if they are linked."""
    gap = (a.end, b.start)
    if rules["link_down"].fullmatch(text, *gap) or rules["link_up"].fullmatch(text, *gap):
        a2, b2 = _restrict(a, b, by_region=False), _restrict(b, a, by_region=False)
    elif rules["link_near"].fullmatch(text, *gap):
        a2, b2 = _restrict(a, b, by_region=True), b
    else:
        return None
    return (a2, b2) if a2 and b2 else None


def _part_pair(text: str, a: Hit, b: Hit, rules: Rules) -> tuple[Hit, Hit] | None:
    """»Chemnitz, OT Bernsdorf«, »im Chemnitzer Ortsteil Markersdorf«, »Wiesa, ein
    Ortsteil von Thum«: the part counts as its whole, whatever else its name names."""
    gap = (a.end, b.start)
    if rules["part_down"].fullmatch(text, *gap):
        return a, _as_part(b, a)
    if a.entry.kind in NAME_KINDS and rules["part_up"].fullmatch(text, *gap):
        return _as_part(a, b), b
    return None


def _as_part(part: Hit, whole: Hit) -> Hit:
    """``part`` as a locality of the places of ``whole``."""
    entry = Entry("locality", whole.entry.places, whole.entry.risky)
    return part._replace(entry=entry, cued=True)


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


def _routes(text: str, hits: list[Hit], rules: Rules) -> list[Hit]:
    """Rule 11: the names of a motorway route (»BAB 4, Görlitz - Dresden«) or a direction
    (»in Richtung Dresden«) are weak: they count only if no other place does."""
    marked = list(hits)
    covered = 0
    for i, hit in enumerate(hits):
        if hit.start < covered or not (_is_marker(hit, "route") or _is_marker(hit, "direction")):
            continue
        span = rules[hit.entry.tag].match(text, hit.end)
        covered = span.end() if span else covered
        j = i + 1
        while j < len(marked) and marked[j].start < covered:
            marked[j] = marked[j]._replace(weak=True)
            j += 1
    return marked


def _context_filter(text: str, hits: list[Hit], rules: Rules, sets: Sets) -> list[Hit]:
    """Rules 8-10; foreign, stop and marker hits are removed at the end."""
    kept: list[Hit] = []
    foreign = [h for h in hits if h.entry.kind == "foreign"]
    away = _foreign_paragraphs(text, hits, rules, sets) if foreign or _has_authority(hits) else {}
    sentences = _Spans(rules["sentence_end"], text) if foreign else None
    foreign_sentences = {sentences.of(f.start) for f in foreign} if sentences else set()
    paragraphs = _Spans(rules["paragraph"], text) if away else None
    for i, hit in enumerate(hits):
        following = hits[i + 1] if i + 1 < len(hits) else None
        if hit.entry.kind in NOT_COUNTING or _foreign_qualified(text, hit, following, rules):
            continue
        if paragraphs and _abroad(hit, away.get(paragraphs.of(hit.start))):
            continue
        if hit.entry.loose and sentences and sentences.of(hit.start) in foreign_sentences:
            continue
        if _hyphenated(text, hit.start) and _quarter(text, hit, kept, rules):
            continue
        kept.append(hit)
    return kept


class _Spans:
    """Which sentence or paragraph a position is in: the number of separators before it."""

    def __init__(self, separator: re.Pattern[str], text: str) -> None:
        self.ends = [m.start() for m in separator.finditer(text)]

    def of(self, pos: int) -> int:
        """The index of the span that holds ``pos``."""
        return bisect.bisect_right(self.ends, pos)


def _has_authority(hits: Sequence[Hit]) -> bool:
    """Any authority word (»Polizeipräsidium«, »Landkreis«) that is no Saxon phrase."""
    return any(_is_marker(h, "authority") for h in hits)


def _foreign_paragraphs(
    text: str, hits: Sequence[Hit], rules: Rules, sets: Sets
) -> dict[int, bool]:
    """Rule 10: paragraphs (by index) with another Land (False) or a foreign authority
    and no Saxon anchor (True, strong)."""
    spans = _Spans(rules["paragraph"], text)
    authority: set[int] = set()
    anchored: set[int] = set()
    state: set[int] = set()
    for i, hit in enumerate(hits):
        index = spans.of(hit.start)
        if _foreign_authority(text, hits, i, rules):
            authority.add(index)
        if _is_marker(hit, "saxon") or hit.entry.kind in ANCHOR_KINDS:
            anchored.add(index)
        if hit.phrase in sets["states"]:
            state.add(index)
    strong = authority - anchored
    return {index: index in strong for index in strong | state}


def _foreign_authority(text: str, hits: Sequence[Hit], i: int, rules: Rules) -> bool:
    """hits[i] is an authority word followed by a name that is no Saxon place."""
    hit = hits[i]
    if not _is_marker(hit, "authority") or not rules["authority_name"].match(text, hit.end):
        return False
    after = hits[i + 1] if i + 1 < len(hits) else None
    saxon = after and after.entry.kind not in NOT_COUNTING and text[hit.end : after.start].isspace()
    return not saxon


def _abroad(hit: Hit, strong: bool | None) -> bool:
    """Rule 10: a loose name in a foreign paragraph, any town name in a strong one."""
    if strong is None:
        return False
    return hit.entry.loose or (strong and hit.entry.kind in MUNICIPALITY_KINDS)


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


def _quarter(text: str, hit: Hit, kept: list[Hit], rules: Rules) -> bool:
    """Rule 9: a name hyphenated to a Saxon town is its quarter: the town's hit grows to a
    locality of the town (»Dresden-Neustadt«, »Dresden-Plauen«), unless the pair is a route (»Bahnstrecke
    Leipzig-Dresden«) or the name already fits the town (»Dresden-Klotzsche«). True if
    ``hit`` is used up: joined, or loose without a Saxon head (»Berlin-Lichtenberg«)."""
    head = kept[-1] if kept else None
    if (
        head
        and head.end == hit.start - 1
        and head.entry.kind == "municipality"
        and not head.entry.loose
        and (hit.entry.loose or not hit.entry.regions <= head.entry.regions)
        and not rules["connection"].search(text, max(0, head.start - _LOOK_BACK), head.start)
    ):
        quarter = Entry("locality", head.entry.places, False)  # joins no further quarter
        kept[-1] = head._replace(end=hit.end, phrase=text[head.start : hit.end], entry=quarter)
        return True
    return hit.entry.loose


def _has_cue(text: str, hit: Hit, rules: Rules) -> bool:
    """Rule 12: a name right after a place cue (»in Werda«, »OT Weißig«) or before its
    part (»Pöhl, OT Möschwitz«)."""
    if rules["cue"].search(text, max(0, hit.start - _LOOK_BACK), hit.start):
        return True
    return rules["part_cue"].match(text, hit.end) is not None
