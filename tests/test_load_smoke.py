"""The load bench (bench/bench_load.py) small: 300 subscribers on PostgreSQL, two real
workers and serve, a recording sink; every subscriber gets exactly one mail. No timing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "bench_load.py"
PG_ENV = "NEWSLETTER_TEST_DATABASE_URL"


@pytest.mark.skipif(not os.environ.get(PG_ENV), reason=f"{PG_ENV} not set")
def test_load_bench_small_sends_exactly_one_mail_per_subscriber() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--subscribers", "300", "--idle-runs", "1"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    said = done.stdout + done.stderr
    assert done.returncode == 0, said
    assert "exactly one mail per subscriber: yes (300 addresses, 0 missing" in said, said
    assert "deliveries:       {'sent': 300}" in said, said
    assert "peak RSS (VmHWM): serve " in said, said
