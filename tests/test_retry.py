"""The one backoff rule, and the two policies built on it (sources, deliveries)."""

from __future__ import annotations

import random
from datetime import timedelta

from newsletter.collect import source_backoff
from newsletter.mail.outbox import retry_delay
from newsletter.retry import backoff


def test_backoff_doubles_from_the_base_up_to_the_cap() -> None:
    assert [backoff(n, 10, 1000) for n in (0, 1, 2, 3)] == [10, 20, 40, 80]
    assert backoff(50, 10, 1000) == 1000
    assert backoff(-3, 10, 1000) == 10


def test_jitter_spreads_within_the_fraction() -> None:
    rng = random.Random(7)
    delays = [backoff(2, 10, 1000, jitter=0.25, rng=rng) for _ in range(200)]
    assert all(30 <= d <= 50 for d in delays) and len(set(delays)) > 100


def test_sources_and_deliveries_use_the_one_rule() -> None:
    assert source_backoff(2) == timedelta(seconds=backoff(2, 60, 6 * 3600))
    rng_a, rng_b = random.Random(1), random.Random(1)
    assert retry_delay(3, 60, rng_a) == backoff(2, 60, 86400, jitter=0.25, rng=rng_b)
