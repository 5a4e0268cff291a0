"""Build ``sachsen-ortsteile.csv``, the localities below the municipality, from input files.

Run ``python -m newsletter.gazetteer.build_localities --inputs DIR`` (see SOURCE.md for
which files DIR holds and where they come from). Every input is optional except the
start list; the output is deterministic (sorted rows, ``+``-joined sorted source ids).

Inputs read from DIR:

- ``sachsen-ortsteile-open.csv``: the start list of the shared data (same columns as
  the output); every row is kept, its source ids as they are.
- ``revosax/*.md``: Saxon municipal reform laws (REVOSax markdown). The sentences that
  merge or incorporate municipalities name the former municipalities (source ``revosax``).
- ``lds-gemeindeverzeichnis.csv``: the Gemeindeverzeichnis export of the Landesdirektion
  Sachsen (source ``lds``; columns ``SCHLNR`` and ``ORTSTEILE`` only). **Not in the
  committed file**: its licence could not be established (SOURCE.md); put it into DIR
  only once its terms allow redistribution.
- ``DE.txt``: the GeoNames country dump for Germany (tab-separated, no header; source
  ``gnde``). Populated places (feature class ``P``) of Saxony (``admin1`` 13) whose
  ``admin4`` (the AGS) is a municipality of today or maps to one through ``OLD_AGS``.

Filters (pure functions below): names are NFC-normalised with collapsed whitespace; a
trailing qualifier in parentheses is dropped (»Neudorf (Erzgeb.)« → »Neudorf«); a
bilingual name »A / B« gives both forms; names with digits, planning areas
(»Gewerbegebiet …«) and bare generic words (»Zentrum«, »Nord«) are dropped; a name equal
to its own municipality's short name is dropped.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from newsletter.gazetteer.build import Municipality, load_municipalities

OUTPUT = Path(__file__).with_name("sachsen-ortsteile.csv")
COLUMNS = ("name", "ags", "municipality", "kind", "source")
START_FILE = "sachsen-ortsteile-open.csv"
GEONAMES_FILE = "DE.txt"
LDS_FILE = "lds-gemeindeverzeichnis.csv"
REVOSAX_DIR = "revosax"

# AGS of municipalities dissolved since the sources were made -> AGS of today
# (the 2023 merger of Ostrau and Zschaitz-Ottewig into Jahnatal). Other unknown keys
# are dropped and counted.
OLD_AGS = {"14522450": "14522275", "14522620": "14522275"}

# Not names of places: planning and commercial areas, and bare generic words.
NON_NAME_PREFIXES = (
    "Gewerbegebiet",
    "Industriegebiet",
    "Gewerbepark",
    "Industriepark",
    "Wohngebiet",
    "Neubaugebiet",
    "Wohnpark",
)
GENERIC_WORDS = frozenset(
    {"Zentrum", "Mitte", "Innenstadt", "Stadtmitte", "Siedlung", "Nord", "Süd", "Ost", "West"}
)
# Rows of the sources that are wrong: (name, AGS) -> why. The start list's law
# extraction took Markkleeberg, which only ceded land to Leipzig, for a part of it.
EXCLUDED = {("Markkleeberg", "14713000"): "an independent town that only ceded land to Leipzig"}
GEONAMES_KINDS = {"PPLX": "Ortsteil"}  # any other populated-place code is an »Ort«
STADTTEIL_CITIES = frozenset({"14511000", "14612000"})  # Chemnitz and Dresden say »Stadtteil«

_QUALIFIER = re.compile(r"\s*\([^)]*\)$")
_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class Row:
    """One locality of a municipality, from one or more sources."""

    name: str
    ags: str
    kind: str
    source: str


# --- names -------------------------------------------------------------------------


def clean(name: str) -> str:
    """NFC, single spaces, no trailing parenthesised qualifier."""
    name = _WS.sub(" ", unicodedata.normalize("NFC", name)).strip()
    return _QUALIFIER.sub("", name).strip()


def written_forms(name: str) -> list[str]:
    """The written forms of one source name: both halves of »Deutsch / Sorbisch«."""
    return [part for part in (clean(p) for p in clean(name).split(" / ")) if part]


def is_name(name: str) -> bool:
    """False for what is no place name: digits, planning areas, generic words."""
    if len(name) < 2 or any(c.isdigit() for c in name) or name in GENERIC_WORDS:
        return False
    return not name.startswith(NON_NAME_PREFIXES)


def keep(name: str, ags: str, municipality: str) -> bool:
    """Whether a row goes into the file (see the filters in the module docstring)."""
    own = name.casefold() == municipality.casefold()
    return is_name(name) and not own and (name, ags) not in EXCLUDED


# --- merging -----------------------------------------------------------------------


def current_ags(ags: str, known: set[str]) -> str | None:
    """Today's AGS for a key of a source, or None if it is not (or no longer) one."""
    ags = OLD_AGS.get(ags, ags)
    return ags if ags in known else None


def merge(rows: Iterable[Row], munis: Sequence[Municipality]) -> list[Row]:
    """Filter, deduplicate by (name, ags) joining the source ids, and sort."""
    short = {m.ags: m.short_name for m in munis}
    merged: dict[tuple[str, str], Row] = {}
    for row in rows:
        for name in written_forms(row.name):
            ags = current_ags(row.ags, set(short))
            if ags is None or not keep(name, ags, short[ags]):
                continue
            old = merged.get((name, ags))
            if old is None:
                merged[(name, ags)] = Row(name, ags, row.kind, row.source)
            else:
                sources = "+".join(sorted(set(old.source.split("+")) | set(row.source.split("+"))))
                merged[(name, ags)] = Row(name, ags, old.kind, sources)
    return sorted(merged.values(), key=lambda r: (r.name, r.ags))


def render(rows: Iterable[Row], munis: Sequence[Municipality]) -> str:
    """The CSV text: header, one line per row, LF line ends."""
    short = {m.ags: m.short_name for m in munis}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in rows:
        writer.writerow((r.name, r.ags, short[r.ags], r.kind, r.source))
    return out.getvalue()


# --- sources -----------------------------------------------------------------------


def start_rows(text: str) -> Iterator[Row]:
    """The rows of the shared start list, as they are."""
    for r in csv.DictReader(io.StringIO(text)):
        yield Row(r["name"], r["ags"], r["kind"], r["source"])


def geonames_rows(lines: Iterable[str]) -> Iterator[Row]:
    """Populated places of Saxony from a GeoNames dump (``admin4`` is the AGS)."""
    for line in lines:
        f = line.rstrip("\n").split("\t")
        if len(f) < 14 or f[6] != "P" or f[8] != "DE" or f[10] != "13" or not f[13]:
            continue
        kind = "Stadtteil" if f[13] in STADTTEIL_CITIES else GEONAMES_KINDS.get(f[7], "Ort")
        yield Row(f[1], f[13], kind, "gnde")


def split_top_level(field: str) -> list[str]:
    """»A, B (B1, B2), C« -> [»A«, »B (B1, B2)«, »C«]: commas inside parentheses stay."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(field):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth <= 0:
            parts.append(field[start:i])
            start, depth = i + 1, 0
    parts.append(field[start:])
    return [part.strip() for part in parts if part.strip()]


def lds_names(entry: str) -> list[str]:
    """An entry of the LDS column ORTSTEILE: the name, and the names it lists in
    parentheses (»Stadtgebiet Nord (Hammertorvorstadt, Lößnitz)«)."""
    head, _, inner = entry.partition("(")
    return [head.strip(), *(n.strip() for n in inner.rstrip(")").split(",") if n.strip())]


def lds_rows(text: str) -> Iterator[Row]:
    """Localities from the Gemeindeverzeichnis export of the Landesdirektion Sachsen
    (``;``-separated; ``SCHLNR`` is the AGS, ``ORTSTEILE`` a comma-separated list). Only
    those two columns are read: the export also names mayors and their offices."""
    for r in csv.DictReader(io.StringIO(text), delimiter=";"):
        ags = (r.get("SCHLNR") or "").strip()
        if len(ags) != 8:  # a district's row
            continue
        for entry in split_top_level(r.get("ORTSTEILE") or ""):
            for name in lds_names(entry):
                kind = "Stadtteil" if ags in STADTTEIL_CITIES else "Ortsteil"
                yield Row(name, ags, kind, "lds")


_MUNI = r"(?:Stadt|Gemeinde)\s+(?P<target>[A-ZÄÖÜ][\w.\-/]*(?:\s+(?:an der|am|im|in|bei|b\.)\s+[\w.\-/]+)?)"
_INCORPORATED = re.compile(
    r"Die Gemeinden?\s+(?P<list>[A-ZÄÖÜ][^.:;()]{1,200}?)\s+(?:wird|werden)\s+in die\s+"
    + _MUNI
    + r"\s+eingegliedert"
)
_UNITED = re.compile(
    r"Die Gemeinden\s+(?P<list>[A-ZÄÖÜ][^.:;()]{1,200}?)\s+werden\s+zu(?:r| einer neuen)\s+"
    + _MUNI.replace("(?:Stadt|Gemeinde)\\s+", "(?:Stadt|Gemeinde)\\s+(?:mit dem Namen\\s+)?")
    + r"\s+vereinigt"
)
_NUMBERED = re.compile(r"In die\s+" + _MUNI + r"\s+werden(?: folgende Gemeinden)? eingegliedert:")
_ITEM = re.compile(
    r"\d+\.\s+(?:die\s+)?(?:Gemeinde\s+|Stadt\s+)?(?P<name>[A-ZÄÖÜ][\w\-]*(?:\s[A-ZÄÖÜ][\w\-]*)*)(?=[,.]|\s+mit\b|\s*$)"
)


def split_list(text: str) -> list[str]:
    """»A, B und C« -> [A, B, C]."""
    return [p.strip() for p in re.split(r",\s*|\s+und\s+", text) if p.strip()]


def revosax_pairs(text: str) -> Iterator[tuple[str, str]]:
    """(former municipality, municipality it went into) as a reform law states them."""
    text = _WS.sub(" ", text)
    for m in _INCORPORATED.finditer(text):
        for name in split_list(m["list"]):
            yield name, m["target"]
    for m in _UNITED.finditer(text):
        for name in split_list(m["list"]):
            yield name, m["target"]
    for m in _NUMBERED.finditer(text):
        items = text[m.end() : m.end() + 4000].split(" (", 1)[0]
        for item in _ITEM.finditer(items):
            if not item.group(0).split(".", 1)[1].strip().startswith("aus "):
                yield item["name"], m["target"]


def resolve_targets(
    pairs: Iterable[tuple[str, str]], munis: Sequence[Municipality]
) -> Iterator[Row]:
    """Rows for pairs whose target is a municipality of today, directly or through a
    later merger that the same laws state (A -> B, B -> C gives A -> C)."""
    by_name: dict[str, list[str]] = {}
    for m in munis:
        by_name.setdefault(m.short_name, []).append(m.ags)
    into = dict(pairs)
    for former, target in sorted(into.items()):
        seen = {former}
        while target not in by_name and target in into and target not in seen:
            seen.add(target)
            target = into[target]
        agss = by_name.get(target, [])
        if len(agss) == 1:
            yield Row(former, agss[0], "Gemeindeteil", "revosax")


# --- edges -------------------------------------------------------------------------


def collect(inputs: Path, munis: Sequence[Municipality]) -> list[Row]:
    """Read every input present in ``inputs`` and return the merged rows."""
    rows = list(start_rows((inputs / START_FILE).read_text(encoding="utf-8")))
    laws = sorted((inputs / REVOSAX_DIR).glob("*.md")) if (inputs / REVOSAX_DIR).is_dir() else []
    pairs = [p for law in laws for p in revosax_pairs(law.read_text(encoding="utf-8"))]
    rows.extend(resolve_targets(pairs, munis))
    dump = inputs / GEONAMES_FILE
    if dump.is_file():
        with dump.open(encoding="utf-8") as lines:
            rows.extend(geonames_rows(lines))
    lds = inputs / LDS_FILE
    if lds.is_file():
        rows.extend(lds_rows(lds.read_text(encoding="utf-8-sig")))
    return merge(rows, munis)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: rebuild the CSV (or write it to ``--output``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--inputs", type=Path, required=True, help="folder of input files")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="CSV to write")
    args = parser.parse_args(argv)
    munis = load_municipalities()
    rows = collect(args.inputs, munis)
    args.output.write_text(render(rows, munis), encoding="utf-8", newline="\n")
    print(
        f"{len(rows)} rows, {len({r.name for r in rows})} names -> {args.output}", file=sys.stderr
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
