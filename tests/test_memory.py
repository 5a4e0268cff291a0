"""The memory cap of ``serve``: glibc takes the arena limit (see newsletter/memory.py)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from newsletter.memory import limit_malloc_arenas


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_glibc_accepts_the_arena_limit() -> None:
    """Run in a fresh interpreter, as ``serve`` does before its threads start."""
    code = "from newsletter.memory import limit_malloc_arenas as f; print(f())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_the_limit_never_fails_the_caller() -> None:
    assert limit_malloc_arenas(8) in (True, False)
