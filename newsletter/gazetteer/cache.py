"""Compile the gazetteer's big trie pattern once per data version and keep it on disk.

Python parses and compiles a regular expression in Python code: for the trie of about
13,000 phrases (more with the full locality list) that is most of the start-up time.
The result of that step is a list of integers (the engine's code), which this module
stores in the user cache directory (``$XDG_CACHE_HOME/newsletter`` or
``~/.cache/newsletter``), keyed by a hash of the pattern text and the Python version.
Loading it hands the code straight to the regex engine, which validates it again, so
a damaged file raises and is replaced; any failure falls back to ``re.compile``.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import re
import sys
from array import array
from pathlib import Path
from typing import Any

_sre: Any = importlib.import_module("_sre")
_parser: Any = importlib.import_module("re._parser")
_compiler: Any = importlib.import_module("re._compiler")


def cache_dir() -> Path:
    """Where compiled patterns are kept."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "newsletter"


def compile_cached(pattern: str, directory: Path | None = None) -> re.Pattern[str]:
    """``re.compile(pattern)``, from the disk cache when this exact pattern was seen before.

    Only patterns without capturing groups are cached (the trie has none).
    """
    key = hashlib.sha256(f"{sys.version}\0{_sre.MAGIC}\0{pattern}".encode()).hexdigest()
    path = (directory or cache_dir()) / f"trie-{key[:32]}.bin"
    try:
        return _from_code(pattern, array("I", path.read_bytes()).tolist())
    except (OSError, ValueError, RuntimeError, TypeError):
        pass
    parsed = _parser.parse(pattern, 0)
    if parsed.state.groups != 1 or parsed.state.flags & ~re.UNICODE:
        return re.compile(pattern)
    code = _compiler._code(parsed, 0)
    compiled = _from_code(pattern, code)
    _store(path, array("I", code).tobytes())
    return compiled


def _from_code(pattern: str, code: list[int]) -> re.Pattern[str]:
    """The engine's pattern object for ``code`` (checked by the engine)."""
    compiled: re.Pattern[str] = _sre.compile(pattern, re.UNICODE, code, 0, {}, (None,))
    return compiled


def _store(path: Path, data: bytes) -> None:
    """Write atomically; a cache that cannot be written is no error."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_bytes(data)
        temporary.replace(path)
    except OSError:
        pass
