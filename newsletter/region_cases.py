"""Region test cases: admin corrections exported as labelled texts, and the exact-set
accuracy of the classifier on such a file (pure; the CLI reads and writes the files).

The format is that of ``tests/data/regions.jsonl``: one JSON object per line,
``{"text": "…", "regions": ["dresden", …]}`` with the region keys sorted (empty: statewide).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from newsletter.errors import InvalidInputError
from newsletter.models import Correction


@dataclass(frozen=True)
class Case:
    """A text and the regions it concerns (sorted keys; empty: statewide)."""

    text: str
    regions: tuple[str, ...]

    def to_json(self) -> str:
        """One line of the file (without the newline)."""
        return json.dumps({"text": self.text, "regions": list(self.regions)}, ensure_ascii=False)


@dataclass(frozen=True)
class Miss:
    """A case the classifier got wrong."""

    text: str
    expected: tuple[str, ...]
    got: tuple[str, ...]


@dataclass(frozen=True)
class Evaluation:
    """How many cases the classifier got exactly right, and the ones it missed."""

    total: int
    misses: tuple[Miss, ...]

    @property
    def accuracy(self) -> float:
        """Share of exact region-set matches (1.0 for no cases: nothing was wrong)."""
        return 1 - len(self.misses) / self.total if self.total else 1.0


def cases_from_corrections(corrections: Iterable[Correction]) -> list[Case]:
    """One case per item, oldest first; a later correction of the same item wins."""
    latest: dict[object, Case] = {}
    for correction in corrections:
        key = correction.item_id if correction.item_id is not None else ("id", correction.id)
        latest.pop(key, None)  # re-inserted at the end: ordered by the latest correction
        latest[key] = Case(correction.text, tuple(sorted(set(correction.corrected))))
    return list(latest.values())


def parse_cases(lines: Iterable[str], name: str) -> list[Case]:
    """The cases of a JSONL file; blank lines are skipped.

    Raises :class:`InvalidInputError` (exit 65) naming the file and line of a broken line.
    """
    cases = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            cases.append(_case(line, name, number))
    return cases


def _case(line: str, name: str, number: int) -> Case:
    try:
        data: Any = json.loads(line)
    except json.JSONDecodeError as exc:
        raise _broken(name, number, f"kein gültiges JSON ({exc.msg})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("text"), str):
        raise _broken(name, number, "ein Objekt mit »text« (Text) erwartet")
    regions = data.get("regions")
    if not isinstance(regions, list) or not all(isinstance(r, str) for r in regions):
        raise _broken(name, number, "»regions« muss eine Liste von Regionsschlüsseln sein")
    return Case(data["text"], tuple(sorted(set(regions))))


def _broken(name: str, number: int, problem: str) -> InvalidInputError:
    return InvalidInputError(f"{name}, Zeile {number}: {problem}", line=number)


def evaluate(cases: Sequence[Case], regions_of: Callable[[str], Iterable[str]]) -> Evaluation:
    """Classify every case's text with ``regions_of`` and compare the sets exactly."""
    misses = []
    for case in cases:
        got = tuple(sorted(set(regions_of(case.text))))
        if got != case.regions:
            misses.append(Miss(case.text, case.regions, got))
    return Evaluation(len(cases), tuple(misses))
