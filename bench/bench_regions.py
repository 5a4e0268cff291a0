"""Benchmark the region classifier: 10,000 German texts of about 1 KB each.

Prints the gazetteer's build and compile time, texts per second (CPU time of this process,
so other load on the machine counts less) of ``classify`` and the
ratio against a baseline measured in the same run: a plain loop of ``str.find`` over the
418 short municipality names per text (which finds far less: no boundaries, no forms,
no rules). Each is the median of three runs, taken in turns, so load from other
processes hits both alike. No timed assertions. The texts are generated
deterministically from a seed by mixing sentence templates with place names, district
and landscape names and ordinary-word traps.

``--localities N`` adds N made-up localities (»Oberpirna«, »Kleinzwickau«, …) to the
packaged locality list before compiling, to measure a gazetteer the size of the full
list of Saxon Ortsteile (about 3,850) while the packaged list is shorter.

Usage: ``.venv/bin/python bench/bench_regions.py [--texts N] [--seed S] [--localities N]``
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable, Sequence

from newsletter.gazetteer import build
from newsletter.regions import Gazetteer, classify, load_gazetteer

PREFIXES = ["Ober", "Nieder", "Klein", "Groß", "Neu", "Alt", "Mittel", "Unter", "Hinter", "Vorder"]

TEXT_BYTES = 1000

PLAIN = [
    "Die Polizei rät, Fenster und Türen auch bei kurzer Abwesenheit zu verschließen.",
    "Zeugen werden gebeten, sich unter der bekannten Rufnummer zu melden.",
    "Der Sachschaden wird auf mehrere tausend Euro geschätzt.",
    "Die Kriminalpolizei hat die Ermittlungen wegen besonders schweren Diebstahls aufgenommen.",
    "Betrüger geben sich am Telefon immer wieder als Polizeibeamte oder Verwandte aus.",
    "Das Präventionsteam informiert über sichere Passwörter und Phishing-Mails.",
    "Beim Bergen des Fahrzeugs unterstützte die Feuerwehr die Beamten.",
    "Der Brandschutz in der Lagerhalle war nach Angaben der Behörden ausreichend.",
    "Frau Geyer vom Landeskriminalamt erläuterte die aktuelle Lage im Freistaat.",
    "In ganz Sachsen stieg die Zahl der angezeigten Betrugsfälle im Internet.",
]
PLACED = [
    "Am Dienstagabend wurde in {town} ein Transporter aufgebrochen.",
    "Die Stadtverwaltung {town} lädt zu einem Sicherheitsforum für Senioren ein.",
    "Das {adj} Polizeirevier sucht Zeugen eines Einbruchs in ein Vereinsheim.",
    "Im {district} wurden am Wochenende mehrere Gartenlauben aufgebrochen.",
    "Im {landscape} sind erneut falsche Handwerker unterwegs.",
    "Zwischen {town} und {town2} kontrollierte die Polizei über 200 Fahrzeuge.",
    "Auf der {adj} Straße kam es zu einem Auffahrunfall mit zwei Verletzten.",
    "Einwohner aus {town} berichten von verdächtigen Anrufen falscher Enkel.",
]
DISTRICTS = [
    "Landkreis Bautzen",
    "Erzgebirgskreis",
    "Vogtlandkreis",
    "Landkreis Mittelsachsen",
    "Landkreis Nordsachsen",
    "Landkreis Leipzig",
    "Landkreis Meißen",
    "Landkreis Görlitz",
]
LANDSCAPES = ["Vogtland", "Erzgebirge", "Osterzgebirge", "Oberlausitz", "Sächsischen Schweiz"]


def make_texts(count: int, seed: int, towns: Sequence[str]) -> list[str]:
    """``count`` texts of about TEXT_BYTES characters, the same for the same seed."""
    rnd = random.Random(seed)
    return [_make_text(rnd, towns) for _ in range(count)]


def _make_text(rnd: random.Random, towns: Sequence[str]) -> str:
    """One text: sentences until about TEXT_BYTES, one in three naming places."""
    sentences: list[str] = []
    while sum(len(s) + 1 for s in sentences) < TEXT_BYTES:
        if rnd.random() < 0.35:
            sentences.append(_placed(rnd, towns))
        else:
            sentences.append(rnd.choice(PLAIN))
    return " ".join(sentences)[:TEXT_BYTES]


def _placed(rnd: random.Random, towns: Sequence[str]) -> str:
    """A template filled with place names."""
    town = rnd.choice(towns)
    return rnd.choice(PLACED).format(
        town=town,
        town2=rnd.choice(towns),
        adj=town + "er",
        district=rnd.choice(DISTRICTS),
        landscape=rnd.choice(LANDSCAPES),
    )


def baseline(texts: Sequence[str], names: Sequence[str]) -> int:
    """The naive approach: one ``str.find`` per short name and text."""
    found = 0
    for text in texts:
        for name in names:
            if text.find(name) >= 0:
                found += 1
    return found


def run_classifier(texts: Sequence[str], gazetteer: Gazetteer) -> int:
    """Classify every text; returns the number of texts with at least one region."""
    return sum(1 for text in texts if classify(text, gazetteer).regions)


def add_localities(count: int) -> None:
    """Append ``count`` made-up localities to the packaged list (for this process only)."""
    if not count:
        return
    munis = build.load_municipalities()
    rows = [
        f"{prefix}{m.short_name.split('-')[0].split('/')[0].split(' ')[0].lower()},{m.ags},x,Ortsteil,bench"
        for prefix in PREFIXES
        for m in munis
    ][:count]
    read = build._read

    def patched(name: str) -> str:
        text = read(name)
        return text + "\n".join(rows) + "\n" if name == "sachsen-ortsteile.csv" else text

    build._read = patched  # type: ignore[assignment]


def timed(label: str, count: int, work: Callable[[], int]) -> float:
    """Run ``work`` once; print and return texts per second."""
    started = time.process_time()
    result = work()
    seconds = time.process_time() - started
    rate = count / seconds
    print(f"{label:<28} {seconds:7.3f} s  {rate:10,.0f} texts/s  (result {result})")
    return rate


def compile_gazetteer() -> Gazetteer:
    """Build the phrase table and compile the matcher; print both times."""
    started = time.process_time()
    data = build.load_data()
    built = time.process_time()
    gazetteer = load_gazetteer()
    done = time.process_time()
    print(
        f"gazetteer: {len(data.phrases):,} phrases, built in {built - started:.2f} s, "
        f"compiled in {done - built:.2f} s (start-up {done - started:.2f} s)"
    )
    return gazetteer


def main() -> None:
    """Generate the texts, time both approaches, print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--texts", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20240101)
    parser.add_argument("--localities", type=int, default=0)
    args = parser.parse_args()
    add_localities(args.localities)
    gazetteer = compile_gazetteer()
    names = [m.short_name for m in gazetteer.data.municipalities]
    texts = make_texts(args.texts, args.seed, names)
    mean = sum(len(t.encode()) for t in texts) / len(texts)
    print(f"{len(texts):,} texts, {mean:,.0f} bytes on average, {len(names)} short names")
    classify(texts[0], gazetteer)  # warm up
    rates: list[float] = []
    bases: list[float] = []
    for _ in range(3):
        rates.append(
            timed("classify (one regex)", len(texts), lambda: run_classifier(texts, gazetteer))
        )
        bases.append(timed("baseline (418 x str.find)", len(texts), lambda: baseline(texts, names)))
    rate, base = statistics.median(rates), statistics.median(bases)
    print(
        f"median: classify {rate:,.0f} texts/s, baseline {base:,.0f} texts/s, "
        f"ratio {rate / base:.2f}x  (goal: >= 5,000 texts/s on one idle core)"
    )


if __name__ == "__main__":
    main()
