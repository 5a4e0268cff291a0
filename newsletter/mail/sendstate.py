"""Which regions a manual send (»Jetzt senden«) is running for in this process.

Runtime state, kept on the :class:`~newsletter.context.Context` and guarded by a lock (web
requests and background sends share it); :mod:`newsletter.mail.sendnow` claims and
releases. A module of its own so that the Context can hold it without importing the send
path.
"""

from __future__ import annotations

import threading


class ManualSends:
    """The regions whose manual send runs in this process, and who started it."""

    def __init__(self) -> None:
        self._running: dict[str, str] = {}
        self._lock = threading.Lock()

    def claim(self, region: str, who: str) -> bool:
        """Mark ``region`` as being sent (False: a send of it runs already)."""
        with self._lock:
            if region in self._running:
                return False
            self._running[region] = who
            return True

    def release(self, region: str) -> None:
        with self._lock:
            self._running.pop(region, None)

    def snapshot(self) -> dict[str, str]:
        """Region -> who started it, as it is now."""
        with self._lock:
            return dict(self._running)

    def running(self, region: str) -> bool:
        with self._lock:
            return region in self._running
