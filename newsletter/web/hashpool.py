"""A small bounded thread pool for slow, CPU-bound calls (argon2) from async routes.

argon2 takes 0.1–0.4 s of CPU per check. Run on the event loop, a handful of wrong logins
stalled every other request (feeds, ``/healthz``) for seconds. In this pool at most
``workers`` checks run at once (argon2 releases the GIL, so the loop keeps serving), at
most ``waiting`` more queue behind them, and beyond that :meth:`BoundedPool.run` raises
:class:`PoolFull` at once, so a flood is answered quickly instead of queueing without end.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class PoolFull(Exception):
    """Every worker is busy and the queue is full: try again in a few seconds."""


class BoundedPool:
    def __init__(self, workers: int, waiting: int, name: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._slots = threading.BoundedSemaphore(workers + waiting)

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Queue ``fn(*args)``; :class:`PoolFull` when ``workers + waiting`` calls are in
        flight. A slot is freed when its call has finished (or was cancelled unstarted)."""
        if not self._slots.acquire(blocking=False):
            raise PoolFull
        try:
            future = self._executor.submit(fn, *args)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _: self._slots.release())
        return future

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a worker thread, awaited without blocking the event loop."""
        return await asyncio.wrap_future(self.submit(fn, *args))

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
