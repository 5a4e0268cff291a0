"""Run every benchmark in bench/ (``make bench``); each prints ratios against its own baseline.

Usage: ``python bench/run.py [NAME ...]`` — names like ``regions`` select ``bench_regions.py``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(names: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if names:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in names]
    failed = 0
    for script in scripts:
        print(f"\n=== {script.stem.removeprefix('bench_')} ===", flush=True)
        started = time.perf_counter()
        result = subprocess.run([sys.executable, str(script)], check=False)
        print(f"--- {script.name}: exit {result.returncode}, {time.perf_counter() - started:.1f} s")
        failed += result.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
