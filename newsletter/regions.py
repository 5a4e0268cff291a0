"""Region classifier: which ASSKomm regions a German text concerns (pure, fast, explainable).

API (used by collect, the CLI ``newsletter regions classify|explain|list|reclassify``)::

    gazetteer = load_gazetteer(config_regions)        # cached; default DEFAULT_REGIONS
    result = classify("Einbruch in Pirna.", gazetteer)
    result.regions                                    # frozenset({"dresden"}); empty = statewide
    result.to_dict()                                  # {"regions": [...], "matches": [...],
                                                      #  "ambiguous": [...]} (JSON-ready)
    describe_regions(gazetteer)                       # for ``regions list``

- :class:`Match` (phrase, start, end, kind, key, region): one recognised phrase. ``kind``
  is municipality | adjective | verband | district | landscape | region | directorate;
  ``key`` is the AGS (several joined by ``|`` when a name fits several municipalities of
  one region), the Verband key, the district key, or the area/directorate name.
- :class:`Ambiguity` (phrase, start, end, candidates, regions): a name that exists in
  several regions and that the text did not resolve; it adds no region.
- Offsets refer to the NFC-normalised text (identical for text that already is NFC).

The gazetteer (``newsletter/gazetteer/``) turns the official municipality list into
about 12,000 written forms by rules (see ``newsletter.gazetteer.build``) and compiles
them into ONE regular expression, a character trie, so a text is scanned once in C.
Each hit is then checked by the rules below, in this order:

1. *word boundary*: a phrase counts only as a whole word; »Brand« in »Brandschutz«,
   »hainichen« in »Grünhainichen« and lowercase »bergen« never match (case-sensitive).
2. *surname*: a name after »Herr«, »Frau«, »Dr.«, »Prof.«, »Familie« is a person.
3. *street*: »Leipziger Straße« in Dresden names a street, not Leipzig.
4. *article*: an article before a bare ambiguous or risky name makes it a noun or a
   quarter (»die Wachau«, »in der Neustadt«, »beim Bergen«); adjectives may follow one.
5. *foreign qualifier*: a name qualified by a place outside Saxony is that other place
   (»Neustadt an der Weinstraße«, »Bergen auf Rügen«, »Coswig (Anhalt)«); a loose name
   (ambiguous or risky) qualified by »bei X« with X no Saxon place likewise.
6. *quarter*: a loose name hyphenated to a preceding word is a quarter of that place
   (»Dresden-Neustadt« counts as Dresden, »Berlin-Lichtenberg« as nothing).
7. *foreign sentence*: a loose name in the same sentence as a place outside Saxony
   (»Bernsdorf in Thüringen«, »Lohmen in Mecklenburg«) is dropped.
8. *risky names* (ordinary words, surnames, places better known elsewhere; listed in
   ``variants.toml``) count after a place cue (»in Werda«, »Gemeinde Bergen«) or when
   another place of the same region is named in the text.
9. *ambiguous names* (»Bernsdorf«, »Auerbach«, »Neustadt«, computed from the data) take
   the one candidate region that the other places of the text name; otherwise they are
   reported in ``ambiguous`` and add no region.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any, NamedTuple

from newsletter.errors import ConfigError
from newsletter.gazetteer.build import MUNICIPALITY_KINDS, GazetteerData, Place, load_data
from newsletter.gazetteer.patterns import rule_patterns, trie_pattern

DEFAULT_REGIONS: dict[str, list[str]] = {
    "leipzig-nordsachsen": ["14713", "14729", "14730"],
    "chemnitz": ["14511", "14521", "14522"],
    "ostsachsen": ["14625", "14626"],
    "zwickau": ["14524", "14523"],
    "dresden": ["14612", "14627", "14628"],
}
REGION_NAMES: dict[str, str] = {
    "leipzig-nordsachsen": "Leipzig/Nordsachsen",
    "chemnitz": "Chemnitz",
    "ostsachsen": "Ostsachsen",
    "zwickau": "Zwickau",
    "dresden": "Dresden",
}
NOT_COUNTING = frozenset({"foreign", "stop"})
_SENTENCE_END = re.compile(r"[.!?][\"»«“”)]?\s+(?=[\"»«„“(]?[A-ZÄÖÜ0-9])|\n")
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Match:
    """A phrase that names a place of ``region``; see the module docstring for kinds."""

    phrase: str
    start: int
    end: int
    kind: str
    key: str
    region: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of all fields."""
        return asdict(self)


@dataclass(frozen=True)
class Ambiguity:
    """A name of several places in different regions that the text did not resolve."""

    phrase: str
    start: int
    end: int
    candidates: tuple[str, ...]  # AGS of the candidate municipalities
    regions: tuple[str, ...]  # their regions

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; tuples become lists."""
        return {**asdict(self), "candidates": list(self.candidates), "regions": list(self.regions)}


@dataclass(frozen=True)
class Classification:
    """The regions a text concerns (empty: statewide) and why."""

    regions: frozenset[str]
    matches: tuple[Match, ...]
    ambiguous: tuple[Ambiguity, ...]

    def to_dict(self) -> dict[str, Any]:
        """Exactly ``{"regions": sorted list, "matches": [...], "ambiguous": [...]}``."""
        return {
            "regions": sorted(self.regions),
            "matches": [m.to_dict() for m in self.matches],
            "ambiguous": [a.to_dict() for a in self.ambiguous],
        }


@dataclass(frozen=True)
class Entry:
    """A phrase compiled for one region layout: its places as (key, region) pairs."""

    kind: str
    places: tuple[tuple[str, str], ...]
    risky: bool

    @property
    def regions(self) -> frozenset[str]:
        """The regions of all places."""
        return frozenset(region for _, region in self.places)

    @property
    def ambiguous(self) -> bool:
        """A municipality name whose places lie in more than one region."""
        return self.kind in MUNICIPALITY_KINDS and len(self.regions) > 1

    @property
    def loose(self) -> bool:
        """Ambiguous or risky: needs the context rules."""
        return self.risky or self.ambiguous


class Hit(NamedTuple):
    """A raw match of the compiled pattern."""

    start: int
    end: int
    phrase: str
    entry: Entry


class RegionInfo(NamedTuple):
    """One line of ``newsletter regions list``."""

    key: str
    name: str
    districts: tuple[tuple[str, str], ...]  # (district key, district name)
    municipalities: int


@dataclass(frozen=True, eq=False)
class Gazetteer:
    """The compiled matcher for one region layout; build with :meth:`from_regions`."""

    regions: dict[str, tuple[str, ...]]
    entries: dict[str, Entry]
    pattern: re.Pattern[str]
    rules: dict[str, re.Pattern[str]]
    data: GazetteerData

    @classmethod
    def from_regions(cls, regions: Mapping[str, Sequence[str]]) -> Gazetteer:
        """Compile the packaged gazetteer for ``regions`` (region key -> district keys)."""
        data = load_data()
        by_district = _district_regions(regions, data)
        entries = {p: e for p, places in data.phrases.items() if (e := _entry(places, by_district))}
        pattern = re.compile(f"(?:{trie_pattern(entries)})(?!\\w)")
        layout = {key: tuple(districts) for key, districts in regions.items()}
        return cls(layout, entries, pattern, rule_patterns(data.words), data)


def _district_regions(regions: Mapping[str, Sequence[str]], data: GazetteerData) -> dict[str, str]:
    """District key -> region key; every district at most once and known."""
    by_district: dict[str, str] = {}
    for region, districts in regions.items():
        for district in districts:
            if district not in data.district_names or district in by_district:
                raise ConfigError(
                    f"Region »{region}«: Kreis {district} ist unbekannt oder doppelt vergeben.",
                    key="regions",
                )
            by_district[district] = region
    return by_district


def _entry(places: Iterable[Place], by_district: Mapping[str, str]) -> Entry | None:
    """An Entry for the places that lie in a configured region (None if none do)."""
    places = tuple(places)
    kind = places[0].kind
    pairs = {(p.key, by_district[d]) for p in places for d in p.districts if d in by_district}
    if not pairs and kind not in NOT_COUNTING:
        return None
    return Entry(kind, tuple(sorted(pairs)), all(p.risky for p in places))


@cache
def _cached_gazetteer(layout: tuple[tuple[str, tuple[str, ...]], ...]) -> Gazetteer:
    """One compiled gazetteer per region layout and process."""
    return Gazetteer.from_regions(dict(layout))


def load_gazetteer(regions: Mapping[str, Sequence[str]] = DEFAULT_REGIONS) -> Gazetteer:
    """The gazetteer for ``regions`` (default: the ASSKomm regions), compiled once."""
    return _cached_gazetteer(tuple((k, tuple(v)) for k, v in regions.items()))


def describe_regions(gazetteer: Gazetteer) -> list[RegionInfo]:
    """Regions with their districts (key, name) and number of municipalities."""
    names = gazetteer.data.district_names
    munis = gazetteer.data.municipalities
    return [
        RegionInfo(
            key,
            REGION_NAMES.get(key, key),
            tuple((d, names[d]) for d in districts),
            sum(m.district in districts for m in munis),
        )
        for key, districts in gazetteer.regions.items()
    ]


def classify(text: str, gazetteer: Gazetteer) -> Classification:
    """The regions ``text`` names, with the matches and unresolved ambiguous names."""
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    certain, loose = _partition(text, _scan(text, gazetteer), gazetteer.rules)
    context = frozenset().union(*(h.entry.regions for h in certain))
    matches = [m for h in certain for m in _matches(h, h.entry.regions)]
    ambiguous: list[Ambiguity] = []
    for hit in loose:
        chosen = hit.entry.regions & context
        if len(chosen) == 1:
            matches.extend(_matches(hit, chosen))
        elif hit.entry.ambiguous:
            ambiguous.append(_ambiguity(hit))
    regions = frozenset(m.region for m in matches)
    return Classification(regions, tuple(sorted(matches, key=_order)), tuple(ambiguous))


def _partition(
    text: str, hits: list[Hit], rules: Mapping[str, re.Pattern[str]]
) -> tuple[list[Hit], list[Hit]]:
    """Rules 5-8: hits that count by themselves, and loose hits that need context."""
    certain: list[Hit] = []
    loose: list[Hit] = []
    for hit in _context_filter(text, hits, rules):
        if not hit.entry.loose or _has_cue(text, hit, rules):
            certain.append(hit)
        else:
            loose.append(hit)
    return certain, loose


def _order(match: Match) -> tuple[int, str]:
    """Matches in text order."""
    return match.start, match.region


def _scan(text: str, gazetteer: Gazetteer) -> list[Hit]:
    """All whole-word hits of the compiled pattern that pass the local rules 1-4."""
    hits: list[Hit] = []
    search, entries, rules = gazetteer.pattern.search, gazetteer.entries, gazetteer.rules
    pos = 0
    while found := search(text, pos):
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


def _locally_ok(text: str, hit: Hit, rules: Mapping[str, re.Pattern[str]]) -> bool:
    """Rules 2-4: not a surname, not a street name, no article before a loose name."""
    kind, lo = hit.entry.kind, max(0, hit.start - 20)
    if kind in MUNICIPALITY_KINDS and rules["honorific"].search(text, lo, hit.start):
        return False
    if kind == "adjective" and rules["street"].match(text, hit.end):
        return False
    bare = kind == "municipality" and hit.entry.loose
    return not (bare and rules["article"].search(text, lo, hit.start))


def _context_filter(text: str, hits: list[Hit], rules: Mapping[str, re.Pattern[str]]) -> list[Hit]:
    """Rules 5-7; foreign and stop hits are removed at the end."""
    kept: list[Hit] = []
    foreign = [h for h in hits if h.entry.kind == "foreign"]
    for i, hit in enumerate(hits):
        following = hits[i + 1] if i + 1 < len(hits) else None
        if hit.entry.kind in NOT_COUNTING or _foreign_qualified(text, hit, following, rules):
            continue
        if hit.entry.loose and any(_same_sentence(text, hit, f) for f in foreign):
            continue
        if hit.entry.loose and _hyphenated(text, hit.start):
            _join_quarter(text, hit, kept)
            continue
        kept.append(hit)
    return kept


def _foreign_qualified(
    text: str, hit: Hit, following: Hit | None, rules: Mapping[str, re.Pattern[str]]
) -> bool:
    """Rule 5: »Bergen auf Rügen«, »Coswig (Anhalt)«; a loose name »bei« an unknown place."""
    if hit.entry.kind != "municipality":
        return False
    if following and following.entry.kind == "foreign":
        return rules["connector"].fullmatch(text, hit.end, following.start) is not None
    near = rules["near"].match(text, hit.end)
    return bool(hit.entry.loose and near and (following is None or following.start != near.end()))


def _hyphenated(text: str, start: int) -> bool:
    """The hit follows »Word-«."""
    return start > 1 and text[start - 1] == "-" and text[start - 2].isalnum()


def _join_quarter(text: str, hit: Hit, kept: list[Hit]) -> None:
    """Rule 6: »Dresden-Neustadt« extends the Dresden hit; without a Saxon head: dropped."""
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


def _has_cue(text: str, hit: Hit, rules: Mapping[str, re.Pattern[str]]) -> bool:
    """Rule 8: a risky, unambiguous name right after a place cue (»in Werda«)."""
    if hit.entry.ambiguous:
        return False
    return rules["cue"].search(text, max(0, hit.start - 25), hit.start) is not None


def _matches(hit: Hit, regions: Iterable[str]) -> Iterator[Match]:
    """One Match per region; keys of several places in one region joined by »|«."""
    for region in sorted(regions):
        keys = sorted({key for key, r in hit.entry.places if r == region})
        yield Match(hit.phrase, hit.start, hit.end, hit.entry.kind, "|".join(keys), region)


def _ambiguity(hit: Hit) -> Ambiguity:
    """The report of an unresolved ambiguous name."""
    keys = tuple(sorted({key for key, _ in hit.entry.places}))
    return Ambiguity(hit.phrase, hit.start, hit.end, keys, tuple(sorted(hit.entry.regions)))
