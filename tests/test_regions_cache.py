"""The compiled trie is cached on disk by the pattern's hash: same behaviour, reused,
and a damaged or foreign file never breaks the classifier."""

from __future__ import annotations

import re
from pathlib import Path

from newsletter.gazetteer.cache import compile_cached
from newsletter.regions import load_gazetteer

TEXT = "Einbruch in Pirna, Bad Düben und Dresden-Klotzsche; Bautzener Senf."


def _spans(pattern: re.Pattern[str]) -> list[tuple[int, int]]:
    return [m.span() for m in pattern.finditer(TEXT)]


def test_cached_pattern_matches_like_re_compile(tmp_path: Path) -> None:
    source = load_gazetteer().pattern.pattern
    first = compile_cached(source, tmp_path)
    [cached] = list(tmp_path.iterdir())
    second = compile_cached(source, tmp_path)
    assert _spans(first) == _spans(second) == _spans(re.compile(source))
    assert cached.stat().st_size > 100_000 and second is not first


def test_damaged_cache_file_is_replaced(tmp_path: Path) -> None:
    source = r"(?:Pirna|Bad\s+Düben)(?!\w)"
    compile_cached(source, tmp_path)
    [cached] = list(tmp_path.iterdir())
    cached.write_bytes(b"\x01\x02\x03\x04" * 7)
    assert _spans(compile_cached(source, tmp_path)) == [(12, 17), (19, 28)]
    assert len(cached.read_bytes()) != 28


def test_patterns_with_groups_are_compiled_normally(tmp_path: Path) -> None:
    pattern = compile_cached(r"(Pirna)", tmp_path)
    assert pattern.groups == 1 and not list(tmp_path.iterdir())


def test_unwritable_cache_directory_is_no_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert _spans(compile_cached(r"Pirna(?!\w)", blocker / "sub")) == [(12, 17)]
