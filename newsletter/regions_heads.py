"""Rules 5 and 6 of ``newsletter.regions``: a city named as the seat of a state
institution or where a state speaker says something, and datelines and headings at the
start of a line. Pure functions over the text, the hits and the rule patterns."""

from __future__ import annotations

import re
from collections.abc import Sequence

from newsletter.gazetteer.build import NAME_KINDS
from newsletter.regions_hits import LOOK_BACK, NOT_COUNTING, Hit, Rules, Sets, is_marker

_SEAT_LOOK_BACK = 90
_SENTENCE_LOOK = 300
_SPEAKER_LOOK_BACK = 600


def seats(text: str, hits: list[Hit], rules: Rules, sets: Sets) -> list[Hit]:
    """Rule 5: a town named as the seat of a state institution adds nothing, nor the
    seat city where a state speaker says something."""
    kept: list[Hit] = []
    for i, hit in enumerate(hits):
        if hit.entry.kind == "adjective" and i + 1 < len(hits):
            after = hits[i + 1]
            if is_marker(after, "institution") and text[hit.end : after.start].isspace():
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
        if is_marker(before, "institution"):
            return rules["seat"].fullmatch(text, before.end, hit.start) is not None
    return False


def _said_at_seat(text: str, hit: Hit, rules: Rules, sets: Sets) -> bool:
    """»…, sagte der Innenminister heute in Dresden«: a seat city after »in«, in a sentence
    with a verb of saying, and a state speaker in it or shortly before in the paragraph."""
    if hit.phrase not in sets["seat_cities"]:
        return False
    if not rules["in"].search(text, max(0, hit.start - LOOK_BACK), hit.start):
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


def datelines(text: str, hits: list[Hit], rules: Rules) -> list[Hit]:
    """Rule 6: drop datelines, mark heading places as cued (at the start of each line)."""
    result: list[Hit] = []
    i = 0
    while i < len(hits):
        group = _head_group(text, hits, i, rules)
        if group is None:
            result.append(hits[i])
            i += 1
            continue
        end, dateline = group
        if not dateline:
            result.extend(h._replace(cued=True) for h in hits[i:end])
        i = end
    return result


def _head_group(text: str, hits: Sequence[Hit], i: int, rules: Rules) -> tuple[int, bool] | None:
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
    state = separator in "–—-" and rules["state_lead"].match(text, head.end()) is not None
    return end, separator != ":" and (capitals or end - i > 1 or state)


def _line_start(text: str, lo: int, start: int) -> bool:
    """Only white space between the last line break (or the text's start) and ``start``."""
    segment = text[lo:start]
    newline = segment.rfind("\n")
    if newline < 0:
        return lo == 0 and (not segment or segment.isspace())
    rest = segment[newline + 1 :]
    return not rest or rest.isspace()
