"""Build the phrase table of the region classifier from the packaged data, by rules.

Input: ``sachsen-gemeinden.csv`` and ``sachsen-verwaltungsverbaende.csv`` (see SOURCE.md)
and the hand-kept exceptions in ``variants.toml``. Output: :class:`GazetteerData`, whose
``phrases`` map every written form the classifier recognises to the places it can name.

The rules (each a function below):

- *names*: the short name; for a name with an official qualifier (»Reichenbach im
  Vogtland«, »Oelsnitz/Erzgeb.«) the bare base name and every written form of the same
  qualifier family; the parts of double names (»Annaberg« of »Annaberg-Buchholz«)
  unless stopped; aliases (Sorbian names, »Wehlen«), which are not inflected.
- *home qualifiers*: a name without a qualifier may still be written with the
  landscape of its district (»Bergen/Vogtl.«, »Bernsdorf (Oberlausitz)«). These forms
  rank below official ones; where two of them still clash the form is dropped.
- *inflection*: genitive (»Leipzigs«, »Chemnitz'«) and the adjective in -er
  (»Pirnaer«, »Meeraner« for names ending in -e, »Bad Dübener« and »Dübener«) with its
  noun endings (»Leipzigerin«); irregular adjectives come from ``variants.toml``.
  Risky names (ordinary words, surnames) get neither.
- *capitals*: bare names may be written in capitals, as in datelines (»DRESDEN –«,
  »MEISSEN«); risky names not (»BRAND«, »AUE« in headlines are words).
- *spelling*: »ß« may be written »ss« (»Meissen«, »Grossenhain«); never the reverse.
  »St.« may be written »Sankt«.
- *districts*: »Landkreis X«, »Kreis X«, »LK X« …; a district whose name is no town
  name also bare (»Nordsachsen«, »Mittelsachsens«); »Erzgebirgskreis(es)«.
- *Verbände*: »Verwaltungsgemeinschaft X«, »Verwaltungsverband X«, »VG X«, »VV X«.
- *directorates*: »Polizeidirektion X«, »PD X«.
- *localities* (``sachsen-ortsteile.csv``): Ortsteile and Stadtteile as places of their
  municipality's AGS (kind ``locality``), with genitive and a spaced form of hyphenated
  names. A locality is *risky* when it is listed as risky, short (up to four letters),
  shared by three or more municipalities, or a well-known place outside Saxony;
  ordinary words (»Zentrum«, »Siedlung«) are never localities. Extra quarters named
  after other towns (»Leipziger Vorstadt«) come from ``variants.toml``.
- *written forms*: a double name also without its hyphen (»Hohenstein Ernstthal«) and
  with its second part shortened (»Limbach-O.«).
- *areas, foreign places, stop phrases*: as listed in ``variants.toml``; adjective
  stems (»vogtländisch«) get the endings -e, -en, -er, -es, -em.
- *markers* (kind ``marker``, key ``institution``, ``authority``, ``saxon``, ``route`` or
  ``direction``): words the context rules look for (»Landtag«, »Polizeipräsidium«,
  »Sachsen«, »sächsischen«, »BAB«, »Richtung«); they
  name no place but ride along in the one scan, so the rules need no extra pass.
"""

from __future__ import annotations

import csv
import io
import tomllib
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

Variants = dict[str, Any]

MUNICIPALITY_KINDS = frozenset({"municipality", "adjective", "locality"})
NAME_KINDS = frozenset({"municipality", "locality"})
SHARED_BY_MANY = 3
SHORT_NAME = 4


@dataclass(frozen=True)
class Place:
    """What a phrase can name. ``districts`` are 5-digit district keys."""

    kind: str  # municipality adjective locality verband district landscape region directorate foreign stop
    key: str  # AGS, verband key, district key, area or directorate name
    districts: tuple[str, ...]
    risky: bool = False


@dataclass(frozen=True)
class Municipality:
    """One row of sachsen-gemeinden.csv."""

    ags: str
    name: str
    short_name: str
    district: str
    district_name: str


@dataclass(frozen=True)
class GazetteerData:
    """Everything the classifier needs, independent of the region layout."""

    phrases: dict[str, tuple[Place, ...]]
    municipalities: tuple[Municipality, ...]
    district_names: dict[str, str]
    words: dict[str, list[str]] = field(default_factory=dict)


Candidate = tuple[str, int, Place]  # phrase, tier (0 official, 1 generated), place


def _read(name: str) -> str:
    """Read one packaged data file as text."""
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _csv(name: str) -> list[dict[str, str]]:
    """Read one packaged CSV file."""
    return list(csv.DictReader(io.StringIO(_read(name))))


def load_municipalities() -> tuple[Municipality, ...]:
    """The 418 municipalities of the packaged CSV."""
    return tuple(
        Municipality(r["ags"], r["name"], r["short_name"], r["kreis_ags"], r["kreis_name"])
        for r in _csv("sachsen-gemeinden.csv")
    )


def split_qualifier(name: str, variants: Variants) -> tuple[str, str | None]:
    """Split »Reichenbach im Vogtland« into (»Reichenbach«, »Vogtland«)."""
    for family, forms in variants["qualifiers"].items():
        for form in forms:
            if name.endswith(form) and len(name) > len(form):
                return name[: -len(form)], family
    return name, None


def qualified(base: str, family: str, variants: Variants) -> list[str]:
    """Every written form of ``base`` with a qualifier of ``family``."""
    return [base + form for form in variants["qualifiers"][family]]


def parts(base: str, variants: Variants) -> list[str]:
    """Usable parts of a double name: »Aue-Bad Schlema« → »Aue«, »Bad Schlema«."""
    if "-" not in base:
        return []
    return [p for p in base.split("-") if len(p) > 2 and p not in variants["parts"]["stop"]]


def plain_names(m: Municipality, variants: Variants) -> list[str]:
    """Bare German names of a municipality: short name or base name, parts of it."""
    base, _ = split_qualifier(m.short_name, variants)
    return [base, *parts(base, variants)]


def written_forms(name: str) -> list[str]:
    """A double name without hyphen and shortened: »Limbach Oberfrohna«, »Limbach-O.«."""
    if "-" not in name or " " in name:
        return []
    first, _, rest = name.partition("-")
    return [f"{first} {rest}", f"{first}-{rest[0]}."]


def qualified_names(m: Municipality, variants: Variants) -> Iterator[tuple[str, int]]:
    """The official name with its qualifier family (tier 0), home qualifiers (tier 1)."""
    base, family = split_qualifier(m.short_name, variants)
    if family:
        yield m.short_name, 0
        yield from ((q, 0) for q in qualified(base, family, variants))
    for home in variants["home_qualifiers"].get(m.district, []):
        if home != family:
            yield from ((q, 1) for q in qualified(base, home, variants))


def genitives(name: str) -> list[str]:
    """»Leipzigs«, »Dresdens«; »Chemnitz'« and »Chemnitz’« after s, ß, x, z."""
    if name[-1] in "sßxz":
        return [name + "'", name + "’"]
    return [name + "s"]


def adjectives(name: str, variants: Variants) -> list[str]:
    """The -er adjective of a bare name, regular (by rule) and irregular (listed)."""
    regular = [] if name in variants["no_regular_adjective"]["names"] else [name]
    if name.startswith("Bad "):
        regular.append(name.removeprefix("Bad "))
    forms = [r + ("r" if r.endswith("e") else "er") for r in regular]
    forms += variants["adjectives"].get(name, [])
    endings = variants["words"]["adjective_endings"]
    return [f + e for f in forms for e in endings]


def municipality_candidates(m: Municipality, variants: Variants) -> Iterator[Candidate]:
    """All phrases naming one municipality, its genitive and adjective forms."""
    here = (m.district,)
    for name, tier in qualified_names(m, variants):
        yield name, tier, Place("municipality", m.ags, here)
    for alias in variants["aliases"].get(m.short_name, []):
        yield alias, 0, Place("municipality", m.ags, here)
    base, _ = split_qualifier(m.short_name, variants)
    yield from ((f, 1, Place("municipality", m.ags, here)) for f in written_forms(base))
    for name in plain_names(m, variants):
        risky = name in variants["risky"]["names"]
        for form in [name, *genitives(name)]:
            yield form, 0, Place("municipality", m.ags, here, risky)
        if not risky:
            yield name.upper(), 0, Place("municipality", m.ags, here)
            yield from ((a, 0, Place("adjective", m.ags, here)) for a in adjectives(name, variants))


def verband_candidates(variants: Variants) -> Iterator[Candidate]:
    """»Verwaltungsverband Wildenstein«, »VG Burgstädt«, … → the Verband's district."""
    seen: set[str] = set()
    for row in _csv("sachsen-verwaltungsverbaende.csv"):
        if row["verband_key"] in seen:
            continue
        seen.add(row["verband_key"])
        place = Place("verband", row["verband_key"], (row["kreis_ags"],))
        base, family = split_qualifier(row["verband_name"], variants)
        names = [row["verband_name"], base, *(qualified(base, family, variants) if family else [])]
        for prefix in variants["words"]["verband_prefixes"]:
            yield from ((f"{prefix} {n}", 0, place) for n in names)


def district_candidates(munis: Iterable[Municipality], variants: Variants) -> Iterator[Candidate]:
    """»Landkreis Bautzen«, »Kreis Mittelsachsen«, »Nordsachsen«, »Erzgebirgskreises«."""
    towns = {m.short_name for m in munis}
    for key, name in sorted({(m.district, m.district_name) for m in munis}):
        place = Place("district", key, (key,))
        if name.startswith("Landkreis "):
            core = name.removeprefix("Landkreis ")
            for prefix in variants["words"]["district_prefixes"]:
                yield f"{prefix} {core}", 0, place
            if core not in towns:
                yield from ((f, 0, place) for f in (core, *genitives(core)))
        elif not name.startswith("Kreisfreie Stadt"):
            yield from ((f, 0, place) for f in (name, name + "es", name + "s"))


def locality_candidates(munis: Iterable[Municipality], variants: Variants) -> Iterator[Candidate]:
    """Ortsteile and Stadtteile as places of their municipality (kind ``locality``)."""
    district = {m.ags: m.district for m in munis}
    rows = [r for r in _csv("sachsen-ortsteile.csv") if r["ags"] in district]
    known = {r["name"] for r in rows}
    rows += [r for r in _csv("sachsen-stadtteile.csv") if r["name"] not in known]
    rows += [{"name": n, "ags": a} for n, a in variants["localities"]["extra"].items()]
    shared = Counter(r["name"] for r in rows)
    stop = set(variants["localities"]["stop"])
    for row in rows:
        name = row["name"]
        if name in stop:
            continue
        risky = _risky_locality(name, shared[name], variants)
        place = Place("locality", row["ags"], (district[row["ags"]],), risky)
        forms = [name, *written_forms(name)] + ([] if risky else genitives(name))
        yield from ((form, 0, place) for form in forms)


def _risky_locality(name: str, shared: int, variants: Variants) -> bool:
    """Listed, short, shared by many municipalities or a well-known place elsewhere."""
    return (
        len(name) <= SHORT_NAME
        or shared >= SHARED_BY_MANY
        or name in variants["risky"]["names"]
        or name in variants["localities"]["risky"]
        or name in variants["foreign"]["forms"]
    )


def inflected(stems: Iterable[str], variants: Variants) -> Iterator[str]:
    """Adjective stems with endings, lower case and capitalised: »vogtländischen«."""
    for stem in stems:
        for ending in variants["words"]["endings"]:
            yield stem + ending
            yield stem[0].upper() + stem[1:] + ending


def area_candidates(variants: Variants) -> Iterator[Candidate]:
    """Landscapes, region names, district aliases, directorates, foreign and stop phrases."""
    for area in variants["area"]:
        place = Place(area["kind"], area["key"], tuple(area["districts"]))
        for form in [*area["forms"], *inflected(area["stems"], variants)]:
            yield form, 0, place
    for town, districts in variants["directorates"].items():
        place = Place("directorate", f"Polizeidirektion {town}", tuple(districts))
        yield from ((f"{p} {town}", 0, place) for p in variants["words"]["directorate_prefixes"])
    foreign = variants["foreign"]
    for form in [*foreign["forms"], *inflected(foreign["stems"], variants)]:
        yield form, 0, Place("foreign", form, ())
    yield from ((form, 0, Place("stop", form, ())) for form in variants["stop"]["forms"])


def marker_candidates(variants: Variants) -> Iterator[Candidate]:
    """State institutions, authorities, Saxon anchors, motorways and direction words, as
    kind ``marker``."""
    words = variants["words"]
    saxon = [*words["saxon"], *inflected(words["saxon_stems"], variants)]
    for key, forms in (
        ("institution", words["institutions"]),
        ("authority", words["authorities"]),
        ("saxon", saxon),
        ("route", words["motorways"]),
        ("direction", words["directions"]),
    ):
        yield from ((form, 0, Place("marker", key, ())) for form in forms)


def spellings(phrase: str) -> set[str]:
    """The phrase, with »ss« for »ß«, with »Sankt« for »St.«."""
    forms = {phrase, phrase.replace("ß", "ss")}
    return forms | {f.replace("St. ", "Sankt ", 1) for f in forms if f.startswith("St. ")}


def resolve(candidates: Iterable[Candidate]) -> dict[str, tuple[Place, ...]]:
    """Group by phrase; keep the best tier; a generated (tier 1) clash is dropped."""
    by_phrase: dict[str, dict[int, set[Place]]] = defaultdict(lambda: defaultdict(set))
    for phrase, tier, place in candidates:
        for form in spellings(phrase):
            by_phrase[form][tier].add(place)
    table: dict[str, tuple[Place, ...]] = {}
    for phrase, tiers in by_phrase.items():
        tier = min(tiers)
        places = _merge_risky(tiers[tier])
        if tier == 0 or len({p.key for p in places}) == 1:
            table[phrase] = places
    return table


def _merge_risky(places: set[Place]) -> tuple[Place, ...]:
    """One place per (kind, key); it is risky only if every form of it is."""
    merged: dict[tuple[str, str], Place] = {}
    for p in sorted(places, key=lambda p: p.risky):
        merged.setdefault((p.kind, p.key), p)
    return tuple(sorted(merged.values(), key=lambda p: (p.kind, p.key)))


@cache
def load_data() -> GazetteerData:
    """Load the packaged data and apply every rule (once per process)."""
    variants: Variants = tomllib.loads(_read("variants.toml"))
    munis = load_municipalities()
    candidates: list[Candidate] = []
    for m in munis:
        candidates.extend(municipality_candidates(m, variants))
    candidates.extend(verband_candidates(variants))
    candidates.extend(district_candidates(munis, variants))
    candidates.extend(area_candidates(variants))
    candidates.extend(locality_candidates(munis, variants))
    candidates.extend(marker_candidates(variants))
    names = {m.district: m.district_name for m in munis}
    words = {**variants["words"], "first_names": first_names()}
    return GazetteerData(resolve(candidates), munis, names, words)


def first_names() -> list[str]:
    """The packaged list of common German first names (``vornamen.txt``)."""
    lines = (line.strip() for line in _read("vornamen.txt").splitlines())
    return [line for line in lines if line and not line.startswith("#")]
