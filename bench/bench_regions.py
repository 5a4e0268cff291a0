"""Benchmark the region classifier: 10,000 German texts of about 1 KB each.

Prints texts per second of ``classify`` and the ratio against a baseline measured in
the same run: a plain loop of ``str.find`` over the 418 short municipality names per
text (which finds far less: no boundaries, no forms, no rules). No timed assertions.
The texts are generated deterministically from a seed by mixing sentence templates
with place names, district and landscape names and ordinary-word traps.

Usage: ``.venv/bin/python bench/bench_regions.py [--texts N] [--seed S]``
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable, Sequence

from newsletter.regions import Gazetteer, classify, load_gazetteer

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


def timed(label: str, count: int, work: Callable[[], int]) -> float:
    """Run ``work`` once, print and return texts per second."""
    started = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - started
    rate = count / seconds
    print(f"{label:<28} {seconds:7.3f} s  {rate:10,.0f} texts/s  (result {result})")
    return rate


def main() -> None:
    """Generate the texts, time both approaches, print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--texts", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20240101)
    args = parser.parse_args()
    started = time.perf_counter()
    gazetteer = load_gazetteer()
    print(f"gazetteer compiled in {time.perf_counter() - started:.2f} s")
    names = [m.short_name for m in gazetteer.data.municipalities]
    texts = make_texts(args.texts, args.seed, names)
    mean = sum(len(t.encode()) for t in texts) / len(texts)
    print(f"{len(texts):,} texts, {mean:,.0f} bytes on average, {len(names)} short names")
    classify(texts[0], gazetteer)  # warm up
    rate = timed("classify (one regex)", len(texts), lambda: run_classifier(texts, gazetteer))
    base = timed("baseline (418 x str.find)", len(texts), lambda: baseline(texts, names))
    print(f"ratio classify/baseline: {rate / base:.2f}x  (goal: >= 5,000 texts/s)")


if __name__ == "__main__":
    main()
