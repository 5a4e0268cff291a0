"""Benchmark the roster import (CLI path) on a SQLite file: is it linear?

For each size (2,000 / 8,000 / 50,000 rows by default) a fresh store is filled with a
tenth of the rows as existing subscribers (so look-ups hit and miss), then a CSV of
``size`` rows is imported the default way (pending, one confirmation mail each). Prints
seconds (wall and CPU: the machine may be shared) and rows per second per size, and the linearity ratio: rows/s of the largest
size against the smallest (1.0 = perfectly linear; well below 1 = super-linear).
Exit code 1 when the largest size takes longer than ``--budget`` seconds.

Usage: ``.venv/bin/python bench/bench_import.py [--sizes 2000,8000,50000] [--budget 30]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from newsletter.context import Context
from newsletter.subscriptions import roster
from tests.conftest import _config

REGIONS = ["leipzig-nordsachsen", "chemnitz", "ostsachsen", "zwickau", "dresden"]


def csv_rows(size: int, offset: int = 0) -> bytes:
    lines = ["email,name,organisation,ags,regions"]
    for i in range(offset, offset + size):
        regions = "|".join(REGIONS[j % 5] for j in range(i, i + 1 + i % 2))
        lines.append(f"p{i}@amt{i % 97}.example,Person {i},Gemeinde {i % 400},,{regions}")
    return ("\n".join(lines) + "\n").encode()


def run(size: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        ctx = Context(_config(Path(tmp)))
        ctx.init_db()
        existing = size // 10
        roster.import_roster(
            ctx, csv_rows(existing), filename="alt.csv", actor="bench", confirmed_reason="x"
        )
        data = csv_rows(size)
        started, cpu = time.perf_counter(), time.process_time()
        reports = roster.import_roster(ctx, data, filename="neu.csv", actor="bench")
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        ctx.close()
    assert len(reports) == size
    return seconds, cpu


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="2000,8000,50000")
    parser.add_argument("--budget", type=float, default=30.0)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rates = {}
    for size in sizes:
        seconds, cpu = run(size)
        rates[size] = size / seconds
        print(
            f"{size:>7} rows: {seconds:7.2f} s ({cpu:6.2f} s CPU), {rates[size]:8.0f} rows/s",
            flush=True,
        )
    ratio = rates[sizes[-1]] / rates[sizes[0]]
    print(f"linearity (rows/s at {sizes[-1]} / at {sizes[0]}): {ratio:.2f}")
    last = sizes[-1] / rates[sizes[-1]]
    return 1 if last > args.budget else 0


if __name__ == "__main__":
    sys.exit(main())
