"""Compile the matcher: the phrase trie as one regex, and the small context patterns.

Python's ``re`` does not merge a plain alternation of 12,000 phrases, so the phrases
are arranged as a character trie (``Leipzig(?:er(?:in)?|s)?``): the engine then
decides at each position with one character test which branch can match, and the
pattern starts with a character set that lets it skip all other positions in C.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

PARAGRAPH = r"\n[^\S\n]*\n"
ENDPOINT = r"[A-ZÄÖÜ][\w-]*"  # of a route or direction: »Hof«, »Dresden-West«
DASH = r"\s*[-–—/]\s*"
PART = r"(?:OT|Ortsteil|Stadtteil|Gemeindeteil)"
# »Y, ein Ortsteil von X«: the name before is part of the name after; »X, OT Y«,
# »X Ortsteil Y«: the name after is part of the name before
PART_UP = rf",?\s*(?:(?:ein|einem|im|dem)\s+)?{PART}\s+(?:von|der\s+(?:Gemeinde|Stadt)|des|in)\s+"
PART_DOWN = rf",?\s*(?:im\s+)?{PART}\s+"


def trie_pattern(phrases: Iterable[str]) -> str:
    """One regex alternation shaped as a character trie; longer phrases are tried first."""
    root: dict[str, Any] = {}
    for phrase in phrases:
        node = root
        for char in phrase:
            node = node.setdefault(char, {})
        node[""] = {}
    return _node_pattern(root)


def _node_pattern(node: dict[str, Any]) -> str:
    """The pattern of one trie node; a space matches any run of whitespace."""
    alternatives = [
        (r"\s+" if char == " " else re.escape(char)) + _node_pattern(child)
        for char, child in sorted(node.items())
        if char
    ]
    if not alternatives:
        return ""
    body = alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"
    return f"(?:{body})?" if "" in node else body


def _words(words: Iterable[str]) -> str:
    """An alternation of literal words, longest first."""
    return "|".join(
        re.escape(w).replace(r"\ ", r"\s+") for w in sorted(words, key=len, reverse=True)
    )


def rule_patterns(words: Mapping[str, list[str]]) -> dict[str, re.Pattern[str]]:
    """The small context patterns of the rules, from the word lists in variants.toml."""
    before = r"(?<!\w)(?:{})\s+$"
    return {
        "article": re.compile(before.format(_words(words["articles"])), re.IGNORECASE),
        "cue": re.compile(before.format(_words(words["cues"])), re.IGNORECASE),
        "street": re.compile(r"[\s-]+(?:{})(?!\w)".format(_words(words["streets"]))),
        "connector": re.compile(r"\s*[(/]\s*|,?\s+(?:{})\s+".format(_words(words["connectors"]))),
        "near": re.compile(r"\s+(?:bei|b\.)\s+(?=[A-ZÄÖÜ]\w)"),
        "seat": re.compile(
            r"(?:,?\s+(?:des|der|für|und|im|[A-ZÄÖÜ][\w.-]*))*?,?\s+(?:(?:in|zu|mit\s+Sitz\s+in)\s+)?"
        ),
        "authority_name": re.compile(r"\s+[A-ZÄÖÜ]"),
        "name": re.compile(r"[A-ZÄÖÜ][a-zäöüß]+(?:-[A-ZÄÖÜ][a-zäöüß]+)?"),
        "initial": re.compile(r"[A-ZÄÖÜ]\."),
        "heading": re.compile(r"\s*(?:\(([^()\n]{1,25})\)\s*)?(?:[–—:]|-(?=\s)|\.(?=\s))"),
        "slash": re.compile(r"\s*/\s*|,\s*"),
        "link_up": re.compile(rf"{PART_UP}|\s+\((?:Gemeinde|Stadt|OT\s+von)?\s*"),
        "link_down": re.compile(rf"-|{PART_DOWN}|\s+\((?:OT|Ortsteil)?\s*"),
        "part_up": re.compile(PART_UP),
        "part_down": re.compile(PART_DOWN),
        "part_cue": re.compile(rf",?\s*{PART}\s+(?!(?:von|der|des|in)\s)[A-ZÄÖÜ]"),
        "route": re.compile(
            rf"\s*\d+\s*,?\s*(?:(?:{_words(words['directions'])})\s+)?{ENDPOINT}(?:{DASH}{ENDPOINT})+"
        ),
        "direction": re.compile(rf"\s+{ENDPOINT}(?:{DASH}{ENDPOINT})*"),
        "connection": re.compile(
            r"(?:(?i:strecke|linie|verbindung|bahn|route)|\b(?:BAB|A|B)\s*\d+)[,\s]+$"
        ),
        "agency": re.compile(r"(?:{0})(?:\s*/\s*(?:{0}))*".format(_words(words["agencies"]))),
        "state_lead": re.compile(
            r"[^.!?\n]*?(?:{}|(?<!\w)(?:{})|(?<!\w)(?:{})(?![\w-]))".format(
                _speaker(words), _words(words["state_topics"]), _words(words["saxon"])
            )
        ),
        "speaker": re.compile(_speaker(words)),
        "statement": re.compile(r"(?<!\w)(?:{})(?!\w)".format(_words(words["statements"]))),
        "in": re.compile(r"(?<!\w)in\s+$"),
        "link_near": re.compile(r"\s+(?:bei|b\.|nahe|nahe\s+bei)\s+"),
        "paragraph": re.compile(PARAGRAPH),
        "sentence_end": re.compile(r"[.!?][\"»«“”)]?\s+(?=[\"»«„“(]?[A-ZÄÖÜ0-9])|\n"),
    }


def _speaker(words: Mapping[str, list[str]]) -> str:
    """A state official or body: a listed word start, an institution, or a compound of
    »-minister…«, »-staatssekretär…« (»Innenministerin«, »Wirtschaftsministerium«)."""
    starts = _words([*words["state_speakers"], *words["institutions"]])
    return r"(?<!\w)(?:{})|(?i:{})".format(starts, _words(words["speaker_parts"]))


def word_sets(words: Mapping[str, list[str]]) -> dict[str, frozenset[str]]:
    """Word lists the rules look up by the word before a name (»Thomas Colditz«)."""
    states = words["states"]
    return {
        "honorifics": frozenset(words["honorifics"]),
        "first_names": frozenset(words["first_names"]),
        "roles": frozenset(words["roles"]),
        "states": frozenset([*states, *(s + "s" for s in states)]),
        "seat_cities": frozenset(words["seat_cities"]),
    }
