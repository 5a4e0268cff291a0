"""The dashboard's charts, computed at most once a minute per process (a speed trick).

Measured (bench/bench_admin.py, 50,000 subscribers confirmed over the charted 12 weeks,
100,000 items, SQLite on the 2-core test machine): the three charts' statements take
150–350 ms, the rest of the dashboard 30–80 ms; with the charts cached, a dashboard
request stays under 100 ms except once a minute.

Invariant: the charts show weekly trends, so numbers up to :data:`MAX_AGE` old are
right enough; everything else on the dashboard (counts per region, sources, the last
digest) is read fresh on every request. ``tests/test_admin_lists.py`` checks that a
chart is recomputed once it is older than :data:`MAX_AGE` and not before.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Generic, TypeVar

T = TypeVar("T")
MAX_AGE = timedelta(seconds=60)


class TimedValue(Generic[T]):
    """One value and when it was computed; thread-safe (one computation at a time)."""

    def __init__(self, max_age: timedelta = MAX_AGE) -> None:
        self._max_age = max_age
        self._lock = threading.Lock()
        self._value: tuple[datetime, T] | None = None

    def get(self, now: datetime, compute: Callable[[], T]) -> T:
        """The cached value if younger than ``max_age`` at ``now``, else ``compute()``."""
        with self._lock:
            if self._value is not None and now - self._value[0] < self._max_age:
                return self._value[1]
            value = compute()
            self._value = (now, value)
            return value
