"""Token bucket for outgoing mail: ``per_second`` with a small burst, plus an hourly cap."""

from __future__ import annotations

import collections
import threading
import time


class RateLimit:
    """At most ``per_second`` messages a second (bucket of ``burst`` tokens) and
    ``per_hour`` in any sliding hour, for one worker process."""

    def __init__(self, per_second: float, per_hour: int, burst: float | None = None) -> None:
        self.rate = per_second
        self.capacity = burst if burst is not None else max(1.0, min(per_second, 10.0))
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self.per_hour = per_hour
        self.sent: collections.deque[float] = collections.deque()

    def delay(self, now: float) -> float:
        """Seconds to wait before the next message may go (0 when it may go now)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        while self.sent and self.sent[0] <= now - 3600:
            self.sent.popleft()
        hourly = self.sent[0] + 3600 - now if len(self.sent) >= self.per_hour else 0.0
        bucket = (1.0 - self.tokens) / self.rate if self.tokens < 1.0 else 0.0
        return max(hourly, bucket)

    def wait(self, stop: threading.Event | None = None) -> bool:
        """Block until a message may go; False if ``stop`` was set while waiting."""
        pause = self.delay(time.monotonic())
        while pause > 0:
            if stop is None:
                time.sleep(pause)
            elif stop.wait(pause):
                return False
            pause = self.delay(time.monotonic())
        self.tokens -= 1.0
        self.sent.append(time.monotonic())
        return True
