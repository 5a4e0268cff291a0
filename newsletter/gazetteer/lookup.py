"""»Welche Region ist meine?«: a place name (municipality, Ortsteil, Stadtteil) -> its district.

Pure and packaged: the municipalities, the localities of ``sachsen-ortsteile.csv`` and the
Stadtteile of the three cities (``sachsen-stadtteile.csv``, used only here: the classifier
does not read them). The caller maps the district to its configured region.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

from newsletter.gazetteer.build import _csv, load_municipalities

MAX_HITS = 8


@dataclass(frozen=True)
class Place:
    name: str  # as written: »Connewitz«, »Pirna«
    municipality: str  # the municipality it belongs to (itself for a municipality)
    district: str  # 5-digit district key
    kind: str  # »Gemeinde«, »Ortsteil«, »Stadtteil«, …
    district_name: str = ""  # »Vogtlandkreis«, »Landkreis Bautzen«, »Kreisfreie Stadt Leipzig«

    @property
    def is_municipality(self) -> bool:
        return self.kind == "Gemeinde"


def key(text: str) -> str:
    """The form names are compared in: NFC, case-folded, one space, no »OT«, no dots."""
    text = unicodedata.normalize("NFC", text).casefold()
    text = re.sub(r"^(?:ot|ortsteil|stadtteil|gemeinde|stadt)\s+", "", text.strip())
    return re.sub(r"[\s.]+", " ", text).strip()


@cache
def places() -> tuple[Place, ...]:
    """Every known place, municipalities first, each (name, municipality) once."""
    found: dict[tuple[str, str], Place] = {}
    munis = load_municipalities()
    districts = {m.district: m.district_name for m in munis}
    for m in munis:
        for name in (m.short_name, m.name.split(",")[0]):
            place = Place(name, m.short_name, m.district, "Gemeinde", m.district_name)
            found.setdefault((key(name), m.ags), place)
    for file in ("sachsen-ortsteile.csv", "sachsen-stadtteile.csv"):
        for row in _csv(file):
            district = row["ags"][:5]
            place = Place(
                row["name"], row["municipality"], district, row["kind"], districts.get(district, "")
            )
            found.setdefault((key(row["name"]), row["ags"]), place)
    return tuple(found.values())


@cache
def _index() -> dict[str, tuple[Place, ...]]:
    index: dict[str, list[Place]] = {}
    for place in places():
        index.setdefault(key(place.name), []).append(place)
    return {k: tuple(sorted(v, key=lambda p: not p.is_municipality)) for k, v in index.items()}


def find(query: str) -> list[Place]:
    """The places called ``query`` (any case); else those whose name starts with it, or
    with its first word (a qualifier written another way: »Reichenbach i.V.«)."""
    wanted = key(query)
    if not wanted:
        return []
    exact = _index().get(wanted)
    if exact:
        return list(exact)[:MAX_HITS]
    for prefix in (wanted, re.split(r"[ /(]", wanted)[0]):  # »Reichenbach i.V.« -> »reichenbach«
        starts = sorted(
            (p for k, ps in _index().items() if k.startswith(prefix) for p in ps),
            key=lambda p: (not p.is_municipality, p.name),
        )
        if starts:
            return starts[:MAX_HITS]
    return []


@cache
def names() -> tuple[str, ...]:
    """Every name once, sorted the German way enough for a datalist."""
    return tuple(sorted({p.name for p in places()}, key=key))
