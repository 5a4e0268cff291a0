"""A burst of wrong admin logins from parallel clients while another client polls a URL.

Each attacking client has its own loopback source address (127.0.0.2, 127.0.0.3, …), so
the per-IP login limit applies to each separately, as it would to a botnet; the poller
comes from 127.0.0.1. Used by ``tests/test_login_load.py`` and ``bench/bench_login.py``.
"""

from __future__ import annotations

import re
import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


@dataclass(frozen=True)
class Latencies:
    """Seconds per request of the poller; ``failed`` counts timeouts and 5xx answers."""

    seconds: list[float]
    failed: int

    def quantile(self, q: float) -> float:
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")

    @property
    def p50(self) -> float:
        return statistics.median(self.seconds) if self.seconds else float("nan")

    def line(self) -> str:
        ms = [1000 * self.p50, 1000 * self.quantile(0.95), 1000 * max(self.seconds, default=0)]
        return (
            f"{len(self.seconds):4d} requests, p50 {ms[0]:7.1f} ms, p95 {ms[1]:7.1f} ms, "
            f"max {ms[2]:7.1f} ms, failed {self.failed}"
        )


class Attackers:
    """``clients`` HTTP clients, each from its own loopback address (127.0.0.2, …), each
    with the login form's CSRF token already fetched, so :meth:`fire` only posts."""

    def __init__(self, base: str, clients: int) -> None:
        self.sessions: list[tuple[httpx.Client, str]] = []
        for n in range(clients):
            transport = httpx.HTTPTransport(local_address=f"127.0.0.{2 + n}")
            client = httpx.Client(base_url=base, transport=transport, timeout=60)
            form = client.get("/admin/anmelden")
            found = _CSRF.search(form.text)
            assert found, form.text
            self.sessions.append((client, found.group(1)))

    def fire(self, name: str, attempts: int) -> list[int]:
        """Every client posts ``attempts`` wrong passwords for ``name``, the clients in
        parallel; all status codes."""

        def attack(session: tuple[httpx.Client, str]) -> list[int]:
            client, token = session
            data = {"csrf_token": token, "name": name}
            return [
                client.post("/admin/anmelden", data=data | {"password": f"x-{n:06d}"}).status_code
                for n in range(attempts)
            ]

        with ThreadPoolExecutor(len(self.sessions)) as pool:
            return [code for codes in pool.map(attack, self.sessions) for code in codes]

    def close(self) -> None:
        for client, _ in self.sessions:
            client.close()


def poll(url: str, until: threading.Event, timeout: float = 10) -> Latencies:
    """GET ``url`` one after the other until ``until`` is set."""
    seconds, failed = [], 0
    with httpx.Client(timeout=timeout) as client:
        while not until.is_set():
            started = time.perf_counter()
            try:
                ok = client.get(url).status_code < 500
            except httpx.TransportError:
                ok = False
            seconds.append(time.perf_counter() - started)
            failed += not ok
    return Latencies(seconds, failed)


def poll_during(urls: list[str], action: Callable[[], object]) -> tuple[list[Latencies], object]:
    """Poll every URL (one client each) while ``action`` runs; latencies and its result."""
    done = threading.Event()
    with ThreadPoolExecutor(len(urls)) as pool:
        polls = [pool.submit(poll, url, done) for url in urls]
        time.sleep(0.05)  # the pollers are running before the action starts
        try:
            result = action()
        finally:
            done.set()
        return [p.result() for p in polls], result
