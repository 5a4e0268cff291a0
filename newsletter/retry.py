"""The one backoff rule: a source after failed fetches, a delivery after a temporary failure."""

from __future__ import annotations

import random

_MAX_DOUBLINGS = 30  # 2^30 times any base is beyond every cap in use


def backoff(
    step: int,
    base_seconds: float,
    cap_seconds: float,
    *,
    jitter: float = 0.0,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait: ``base · 2^step`` (step 0 waits ``base``), at most ``cap``, then
    spread by ±``jitter`` (a fraction) so that many waiters do not return together."""
    delay = min(base_seconds * 2 ** min(max(step, 0), _MAX_DOUBLINGS), cap_seconds)
    if jitter:
        delay *= (rng or random).uniform(1 - jitter, 1 + jitter)
    return float(delay)
