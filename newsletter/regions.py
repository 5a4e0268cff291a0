"""Region classifier: which ASSKomm regions a German text concerns (pure, fast, explainable).

API (used by collect, the CLI ``newsletter regions classify|explain|list|reclassify``)::

    gazetteer = load_gazetteer(config_regions)        # cached; default DEFAULT_REGIONS
    result = classify("Einbruch in Pirna.", gazetteer)
    result.regions                                    # frozenset({"dresden"}); empty = statewide
    result.needs_check, result.check_reasons          # »Region prüfen«: regions are a guess
    result.to_dict()                                  # {"regions": [...], "matches": [...],
                                                      #  "ambiguous": [...]} (JSON-ready), plus
                                                      #  "check": true, "check_reasons" if set
    describe_regions(gazetteer)                       # for ``regions list``

- :class:`Match` (phrase, start, end, kind, key, region): one recognised phrase. ``kind``
  is municipality | adjective | locality | verband | district | landscape | region |
  directorate; ``key`` is the AGS (several joined by ``|`` when a name fits several
  municipalities of one region), the Verband key, the district key, or the
  area/directorate name.
- :class:`Ambiguity` (phrase, start, end, candidates, regions): a name that exists in
  several regions and that the text did not resolve; the item gets the union of
  ``regions`` and a check (rule 13).
- Offsets refer to the NFC-normalised text (identical for text that already is NFC).

The gazetteer (``newsletter/gazetteer/``) turns the official municipality list and the
locality list into about 13,000 written forms by rules (see ``newsletter.gazetteer.build``)
and compiles them into ONE regular expression, a character trie, so a text is scanned
once in C. Each hit is then checked by the rules of ``newsletter.regions_rules``, in
this order:

1. *word boundary*: a phrase counts only as a whole word; »Brand« in »Brandschutz«,
   »hainichen« in »Grünhainichen« and lowercase »bergen« never match (case-sensitive).
2. *person*: a name after »Herr«, »Frau«, »Dr.«, »Prof.«, »Familie«, after a first name
   (»Thomas Colditz«, list in ``vornamen.txt``), an initial (»T. Colditz«) or a role
   noun and a name (»Bürgermeister Bernd Birkigt«) is a person.
3. *street or quarter*: »Leipziger Straße«, »Dresdner Bahnhof«, »Radeberger Viertel«
   name a street or quarter, not the town; listed quarters such as »Leipziger Vorstadt«
   are localities of their own city (Dresden).
4. *article*: an article before a bare ambiguous or risky name makes it a noun or a
   quarter (»die Wachau«, »in der Neustadt«, »beim Bergen«); adjectives may follow one.
5. *state institution*: a city named as the seat of a state institution (»Landtag in
   Dresden«, »Dresdner Staatskanzlei«, »Oberverwaltungsgericht in Bautzen«) adds nothing;
   nor does the seat city (``seat_cities``) after »in« in a sentence where something is
   said, announced or presented, with a state official or body in it or shortly before
   (»…, sagte der Innenminister heute in Dresden«, »teilten Innenministerium und
   Landeskriminalamt am Dienstag in Dresden mit«).
6. *dateline and heading*: at the start of the text or a line, a place followed by
   press agencies in brackets (»Dresden (dpa) –«, »Dresden (dpa/sn) -«), a place in
   CAPITALS followed by ». « or a dash (»LEIPZIG. …«), a slash list followed by a dash
   (»Görlitz/Zittau –«) or the seat city and a dash before a lead sentence about the
   state (»Dresden – Die Gewaltkriminalität in Sachsen …«, »… der Landtag …«) is a
   dateline and adds nothing; any other single place followed by ». «, »: « or a dash
   (»Wachau. Autodiebe …«, »MEISSEN: …«, »Plauen (ots) –«, »Reichenbach – Unbekannte
   …«) is the heading place and counts like a name after a place cue.
7. *link*: a locality named with its municipality wins over namesakes (»Gersdorf, ein
   Ortsteil von Haselbachtal«, »Oelsnitz, OT Görnitz«, »Dresden-Klotzsche«, »Gersdorf
   bei Kamenz«): both names keep only the places that fit each other. A part the
   locality list does not know is still a part of its whole, whatever else its name
   names (»Chemnitz, OT Bernsdorf«, »im Chemnitzer Ortsteil Markersdorf«, »Bernsdorf, ein
   Ortsteil von Chemnitz«): it counts as a locality of the whole.
8. *foreign qualifier*: a name qualified by a place outside Saxony is that other place
   (»Neustadt an der Weinstraße«, »Bergen auf Rügen«, »Coswig (Anhalt)«); a loose name
   (ambiguous or risky) qualified by »bei X« with X no Saxon place likewise.
9. *quarter*: a name hyphenated to a Saxon town is a quarter of that town, also when it
   is a town elsewhere (»Dresden-Neustadt«, »Dresden-Plauen« count as Dresden), unless
   the name already fits the town (»Dresden-Klotzsche«) or the pair follows a route word
   (»Bahnstrecke Leipzig-Dresden«); double names match as themselves first
   (»Hohenstein-Ernstthal«). A loose name hyphenated to anything else counts as nothing
   (»Berlin-Lichtenberg«).
10. *foreign sentence and paragraph*: a loose name in the same sentence as a place
    outside Saxony (»Bernsdorf in Thüringen«) or in the same paragraph as another
    German Land (»Bayern«) is dropped; beside a police or district authority outside
    Saxony (»Polizeipräsidium Ludwigsburg«, »Landkreis Hof«) every town name of the
    paragraph is dropped unless the paragraph also says Sachsen/sächsisch or names a
    Saxon district, directorate or landscape.
11. *route and direction*: the ends of a motorway route (»BAB 4, Görlitz - Dresden«,
    »A 72 Hof – Leipzig«, »Richtungsfahrbahn Dresden - Görlitz«) and the names after a
    direction word (»in Richtung Dresden«, »Fahrtrichtung Görlitz«, »aus Richtung
    Klingenthal«) are weak: they count only when the text names no other place that
    counts by itself; the place of the incident (»bei Weißenberg«, »Anschlussstelle
    Burkau«, »zwischen Stollberg und Chemnitz«) is an ordinary place.
12. *risky names* (ordinary words, surnames, places better known elsewhere, short or
    widely shared locality names) count after a place cue (»in Werda«, »OT Weißig«,
    »Ortslage Sosa«), before its part (»Pöhl, OT Möschwitz«), as heading place, or when
    another place of the same region is named in the text.
13. *ambiguous names* (»Bernsdorf«, »Auerbach«, »Neustadt«, computed from the data)
    take the one candidate region that the other places of the text name. Otherwise
    the item gets the union of the candidate regions and ``needs_check`` (»Region
    prüfen«), and the name is reported in ``ambiguous``; a risky ambiguous name without
    a place cue adds nothing.

Localities (Ortsteile, kind ``locality``) count as their municipality: key is the AGS.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any, NamedTuple

from newsletter.errors import ConfigError
from newsletter.gazetteer.build import GazetteerData, Place, load_data
from newsletter.gazetteer.cache import compile_cached
from newsletter.gazetteer.patterns import rule_patterns, trie_pattern, word_sets
from newsletter.regions_rules import NOT_COUNTING, Entry, Hit, find_hits

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
    """The regions a text concerns (empty: statewide) and why.

    ``check_reasons`` (German, for the admin) say why the regions are a guess: an
    ambiguous name gave the union of its candidate regions. ``needs_check`` is true
    when there is at least one.
    """

    regions: frozenset[str]
    matches: tuple[Match, ...]
    ambiguous: tuple[Ambiguity, ...]
    check_reasons: tuple[str, ...] = ()

    @property
    def needs_check(self) -> bool:
        """The admin should check the regions (»Region prüfen«)."""
        return bool(self.check_reasons)

    def to_dict(self) -> dict[str, Any]:
        """``{"regions", "matches", "ambiguous"}``, JSON-ready; when the regions need a
        check also ``"check": true`` and the German ``"check_reasons"``."""
        data: dict[str, Any] = {
            "regions": sorted(self.regions),
            "matches": [m.to_dict() for m in self.matches],
            "ambiguous": [a.to_dict() for a in self.ambiguous],
        }
        if self.needs_check:
            data |= {"check": True, "check_reasons": list(self.check_reasons)}
        return data


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
    sets: dict[str, frozenset[str]]

    @classmethod
    def from_regions(cls, regions: Mapping[str, Sequence[str]]) -> Gazetteer:
        """Compile the packaged gazetteer for ``regions`` (region key -> district keys)."""
        data = load_data()
        by_district = _district_regions(regions, data.district_names)
        entries = {p: e for p, places in data.phrases.items() if (e := _entry(places, by_district))}
        pattern = compile_cached(f"(?:{trie_pattern(entries)})(?!\\w)")
        layout = {key: tuple(districts) for key, districts in regions.items()}
        rules, sets = rule_patterns(data.words), word_sets(data.words)
        return cls(layout, entries, pattern, rules, data, sets)


def _district_regions(
    regions: Mapping[str, Sequence[str]], known: Mapping[str, str]
) -> dict[str, str]:
    """District key -> region key; every district at most once and known."""
    by_district: dict[str, str] = {}
    for region, districts in regions.items():
        for district in districts:
            if district not in known or district in by_district:
                raise ConfigError(
                    f"Region »{region}«: Kreis {district} ist unbekannt oder doppelt vergeben.",
                    key="regions",
                )
            by_district[district] = region
    return by_district


def _pairs(places: Iterable[Place], by_district: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """(key, region) of the places that lie in a configured region."""
    pairs = {(p.key, by_district[d]) for p in places for d in p.districts if d in by_district}
    return tuple(sorted(pairs))


def _entry(places: Iterable[Place], by_district: Mapping[str, str]) -> Entry | None:
    """An Entry for the places in a configured region (None if none are).

    A municipality outranks localities of the same name; those stay as ``fallback``
    for the link rule (»Gersdorf, ein Ortsteil von Haselbachtal«).
    """
    places = tuple(places)
    main = tuple(p for p in places if p.kind != "locality") or places
    pairs = _pairs(main, by_district)
    if not pairs and main[0].kind not in NOT_COUNTING:
        return None
    keys = {p.key for p in main}
    fallback = _pairs((p for p in places if p not in main and p.key not in keys), by_district)
    tag = main[0].key if main[0].kind == "marker" else ""
    return Entry(main[0].kind, pairs, all(p.risky for p in main), fallback, tag)


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


def municipality_name(gazetteer: Gazetteer, ags: str) -> str:
    """The short name of the municipality ``ags`` (the key itself if unknown)."""
    return next((m.short_name for m in gazetteer.data.municipalities if m.ags == ags), ags)


def classify(text: str, gazetteer: Gazetteer) -> Classification:
    """The regions ``text`` names, with the matches and unresolved ambiguous names."""
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    certain, loose = find_hits(text, gazetteer)
    context = frozenset().union(*(h.entry.regions for h in certain))
    matches = [m for h in certain for m in _matches(h, h.entry.regions)]
    ambiguous: list[Ambiguity] = []
    guessed: set[str] = set()
    reasons: list[str] = []
    for hit in loose:
        chosen = hit.entry.regions & context
        if len(chosen) == 1:
            matches.extend(_matches(hit, chosen))
        elif hit.entry.ambiguous:
            ambiguous.append(_ambiguity(hit))
            if not chosen and (hit.cued or not hit.entry.risky):
                guessed |= hit.entry.regions
                reasons.append(_reason(hit))
    regions = frozenset(m.region for m in matches) | guessed
    ordered = tuple(sorted(matches, key=_order))
    return Classification(regions, ordered, tuple(ambiguous), tuple(reasons))


def _reason(hit: Hit) -> str:
    """Why the admin should check: the name and its candidate regions (German)."""
    names = ", ".join(REGION_NAMES.get(r, r) for r in sorted(hit.entry.regions))
    return f"»{hit.phrase}« ist mehrdeutig ({names})"


def _order(match: Match) -> tuple[int, str]:
    """Matches in text order."""
    return match.start, match.region


def _matches(hit: Hit, regions: Iterable[str]) -> Iterator[Match]:
    """One Match per region; keys of several places in one region joined by »|«."""
    for region in sorted(regions):
        keys = sorted({key for key, r in hit.entry.places if r == region})
        yield Match(hit.phrase, hit.start, hit.end, hit.entry.kind, "|".join(keys), region)


def _ambiguity(hit: Hit) -> Ambiguity:
    """The report of an unresolved ambiguous name."""
    keys = tuple(sorted({key for key, _ in hit.entry.places}))
    return Ambiguity(hit.phrase, hit.start, hit.end, keys, tuple(sorted(hit.entry.regions)))
