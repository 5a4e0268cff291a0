"""The region classifier on real text (issue 14): 228 paraphrased Saxon news paragraphs
with hand labels, tests/data/regions-real.jsonl (how they were made and labelled:
tests/data/regions-real.md). The set is held out: the rules are tested with made-up
sentences in test_regions_rules.py, never with these texts."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from newsletter.regions import DEFAULT_REGIONS, classify, load_gazetteer

REAL = Path(__file__).parent / "data" / "regions-real.jsonl"
GOAL = 0.95


def _rows() -> list[tuple[str, list[str]]]:
    """(text, sorted expected regions) per line."""
    lines = REAL.read_text(encoding="utf-8").splitlines()
    return [(row["text"], sorted(row["regions"])) for row in map(json.loads, lines)]


def regions(text: str) -> list[str]:
    return sorted(classify(text, load_gazetteer()).regions)


def test_real_text_accuracy(
    capsys: pytest.CaptureFixture[str], record_property: Callable[[str, object], None]
) -> None:
    rows = _rows()
    found = [(text, expected, regions(text)) for text, expected in rows]
    wrong = [(text, expected, got) for text, expected, got in found if got != expected]
    accuracy = 1 - len(wrong) / len(rows)
    record_property("regions_real_accuracy", accuracy)
    with capsys.disabled():
        print(
            f"\nregions accuracy on real text: {accuracy:.2%} exact set match ({len(rows)} texts)"
        )
        for text, expected, got in wrong:
            print(f"  miss: expected {expected}, got {got}: {text[:100]!r}")
    assert accuracy >= GOAL, f"regions accuracy on real text {accuracy:.2%} < {GOAL:.0%}"


def test_real_set_is_what_its_description_says() -> None:
    rows = _rows()
    assert len(rows) == 228
    assert len({text for text, _ in rows}) == len(rows)
    assert {region for _, expected in rows for region in expected} == set(DEFAULT_REGIONS)
    assert sum(not expected for _, expected in rows) == 32  # statewide
