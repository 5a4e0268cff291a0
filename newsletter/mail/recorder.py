"""Group commit for accepted mail: the sender hands each "250" to a thread that writes.

One transaction per sent message costs about as much as the SMTP transaction itself on
a fast relay (``bench/bench_send.py``, 2,000 subscribers, SQLite: sending runs at 1.16
and 1.35 times the raw SMTP rate with group commit, at 0.39 and 0.45 times when every
mark is committed before the next mail: group commit makes sending about 2.8 times
faster). So the send loop does not wait for the store: it hands the acceptance to
:class:`SentRecorder`, whose thread waits ``linger`` seconds (50 ms) for more and then
writes everything handed over in one statement and one commit, while the sender
already talks to the server about the next messages.

Exactly once: the window between the server's "250" and the commit of ``sent`` is the
linger plus one commit, some 50 ms while the store keeps up. Each wake-up of the thread
slows the sender down: 5 ms cost 15 % (``bench/bench_send.py``), and 50 ms instead of
20 ms took a worker's CPU per mail from 0.46–0.48 to 0.41–0.44 ms and its PostgreSQL
backend's from 0.10–0.11 to 0.08–0.09 ms (``bench/bench_load.py``, 20,000 subscribers,
three interleaved runs each: service ÷ raw 0.82–0.83 against 0.85–0.87). A
crash inside it leaves the rows leased; when the leases expire they are sent again
(a duplicate with the same Message-ID, never a loss). :meth:`SentRecorder.flush` waits
until everything handed over is committed: the drain calls it before it gives rows back
(stop, paused transport) and at its end. That order is the invariant: a row whose mail
was accepted is never given back for another worker to send again
(``tests/test_send_tricks.py::test_an_accepted_mail_is_recorded_before_the_drain_gives_rows_back``).
A failed write is raised in the sender at its next :meth:`~SentRecorder.add` or
:meth:`~SentRecorder.flush`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from types import TracebackType

from sqlalchemy import Engine

from newsletter.errors import StoreError
from newsletter.models import Accepted
from newsletter.retry import backoff
from newsletter.store import outbox as store
from newsletter.store.db import transaction

log = logging.getLogger(__name__)
WRITE_ATTEMPTS = 4  # a dropped database connection costs a retry, not a duplicate mail


class SentRecorder:
    """A thread that records accepted deliveries as ``sent``, many rows per commit."""

    def __init__(self, engine: Engine, *, linger: float = 0.05, max_batch: int = 500) -> None:
        self.engine, self.linger, self.max_batch = engine, linger, max_batch
        self._queue: queue.SimpleQueue[Accepted | None] = queue.SimpleQueue()
        self._done = threading.Condition()
        self._pending = 0
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="sent-recorder", daemon=True)
        self._thread.start()

    def __enter__(self) -> SentRecorder:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(raise_error=kind is None)

    def add(self, accepted: Accepted) -> None:
        """Hand over one acceptance; returns at once."""
        self._raise()
        with self._done:
            self._pending += 1
        self._queue.put(accepted)

    def flush(self) -> None:
        """Wait until everything handed over is committed (or a write failed)."""
        with self._done:
            self._done.wait_for(lambda: self._pending == 0)
        self._raise()

    def close(self, *, raise_error: bool = True) -> None:
        """Flush and stop the thread."""
        self._queue.put(None)  # tells the thread to stop after what is queued
        self._thread.join()
        if raise_error:
            self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
            time.sleep(self.linger)  # let more acceptances arrive: one commit for all
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            self._write(batch)

    def _write(self, batch: list[Accepted]) -> None:
        try:
            for attempt in range(WRITE_ATTEMPTS):  # marking sent is idempotent: retry it
                try:
                    with transaction(self.engine) as conn:
                        store.mark_sent(conn, batch)
                    break
                except StoreError:  # a dropped connection; the pool hands out a new one
                    if attempt + 1 == WRITE_ATTEMPTS:
                        raise
                    log.warning("recording %d sent deliveries failed; retrying", len(batch))
                    time.sleep(backoff(attempt, 0.2, 2.0))
        except Exception as exc:  # handed to the sender; the rows stay leased, sent again later
            log.exception("could not record %d sent deliveries", len(batch))
            self._error = exc
        finally:
            with self._done:
                self._pending -= len(batch)
                self._done.notify_all()
