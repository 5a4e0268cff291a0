"""Token bucket for outgoing mail: ``per_second`` on average, with a small burst.

One instance paces every drain of a process (the ``serve`` worker and a manual send from
the admin pages or the API share :attr:`newsletter.context.Context.send_pace`), so the
configured rate holds for the process, not per drain; it is thread-safe. The hourly cap (``mail.rate_per_hour``) is kept in the store for all
workers together (:meth:`newsletter.mail.outbox._Drain.claim`).
"""

from __future__ import annotations

import threading
import time


class RateLimit:
    """At most ``per_second`` messages a second, with a bucket of ``burst`` tokens."""

    def __init__(self, per_second: float, burst: float | None = None) -> None:
        self.rate = per_second
        self.capacity = burst if burst is not None else max(1.0, min(per_second, 10.0))
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self._lock = threading.Lock()

    def delay(self, now: float) -> float:
        """Seconds to wait before the next message may go (0 when it may go now)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        return (1.0 - self.tokens) / self.rate if self.tokens < 1.0 else 0.0

    def wait(self, stop: threading.Event | None = None) -> bool:
        """Block until a message may go; False if ``stop`` was set while waiting."""
        while True:
            with self._lock:  # look and take at once: two threads never spend one token
                pause = self.delay(time.monotonic())
                if pause <= 0:
                    self.tokens -= 1.0
                    return True
            if stop is None:
                time.sleep(pause)
            elif stop.wait(pause):
                return False
