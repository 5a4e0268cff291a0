"""Benchmark collect: 100 feeds × 50 items from a loopback server that delays every answer.

The server runs in a process of its own and sends each answer in one write (written
header by header, Nagle and the client's delayed ACK added 40 ms to every fetch, which
made the single-fetch baseline 145 ms instead of 105). Each round (``--rounds``, default 7) measures, in turn:
  - the slowest of five single fetches, one at a time (the first baseline);
  - the server alone: bare asyncio sockets, no HTTP library (what no client can undercut);
  - raw: a plain ``httpx.AsyncClient`` gathering the same URLs, same concurrency and pool
    limits (the second baseline: the client cost of httpx without our layers);
  - raw: a plain ``httpx.Client`` (httpx's own transport) in the service's thread pool;
  - the service: the product's ``HttpFetcher`` (netguard, per-fetch deadline) in a thread
    pool of ``fetch.concurrency`` = number of feeds, as ``collect_all`` runs it.
Printed: medians with min–max, and the per-round ratios service ÷ raw AsyncClient (goal
≤ 1.2), service ÷ slowest single fetch (goal < 2: the fetches overlap) and service ÷ raw
httpx.Client (what netguard and the deadline cost). The machine is shared, so ratios are
taken within one round and the median is the number to read.

Then ``--collects`` (default 3) times, each on a fresh SQLite file: a full ``collect_all``
(fetch + parse + sanitise + classify + store) — informational: parsing 5,000 items is CPU
work that threads cannot overlap on CPython — and a second ``collect_all`` for which the
server answers 304 to the ETag, so the number of feeds parsed must be 0.
No timed assertions; exit code 1 only if a 304 run parsed something.

Usage: ``.venv/bin/python bench/bench_collect.py [--feeds N] [--items M] [--delay S]
[--rounds R] [--collects C]``
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from newsletter.collect import CollectSummary, collect_all
from newsletter.config import Config
from newsletter.context import Context
from newsletter.sources.http import (
    KEEPALIVE_CONNECTIONS,
    FetchRequest,
    FetchSettings,
    HttpFetcher,
)

TOWNS = ["Leipzig", "Torgau", "Chemnitz", "Freiberg", "Bautzen", "Görlitz", "Zwickau", "Plauen",
         "Dresden", "Pirna", "Meißen", "Annaberg-Buchholz"]  # fmt: skip


def feed_body(number: int, items: int) -> bytes:
    entries = "".join(
        f"<item><guid isPermaLink='false'>f{number}-i{i}</guid>"
        f"<title>Meldung {i} aus {TOWNS[(number + i) % len(TOWNS)]}: Präventionshinweis {number}</title>"
        f"<link>https://bench.example.org/{number}/{i}</link>"
        f"<pubDate>Mon, 23 Nov 2026 10:{i % 60:02d}:00 +0100</pubDate>"
        f"<description>&lt;p&gt;Die Polizei rät zu Vorsicht bei Anrufen falscher Enkel."
        f" &lt;a href='/tipps/{i}'&gt;Tipps&lt;/a&gt;&lt;/p&gt;</description></item>"
        for i in range(items)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Feed {number}</title><link>https://bench.example.org/</link>"
        f"<description>Bench</description>{entries}</channel></rss>"
    ).encode()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, bodies: dict[str, bytes], delay: float) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.bodies = bodies
        self.delay = delay
        self.counts = {200: 0, 304: 0}
        self.lock = threading.Lock()

    def count(self, status: int) -> None:
        with self.lock:
            self.counts[status] += 1


class Handler(BaseHTTPRequestHandler):
    server: Server
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16  # headers and body in one send (unbuffered: Nagle + delayed ACK, +40 ms)

    def do_GET(self) -> None:
        time.sleep(self.server.delay)
        body = self.server.bodies[self.path]
        etag = f'"{hash(body) & 0xFFFFFFFF:x}"'
        if self.headers.get("If-None-Match") == etag:
            self.server.count(304)
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.server.count(200)
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
        self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _serve_forever(bodies: dict[str, bytes], delay: float, conn: Connection) -> None:
    server = Server(bodies, delay)
    conn.send(server.server_address[1])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    while True:  # commands from the parent: "counts" or "reset" or "stop"
        command = conn.recv()
        if command == "stop":
            break
        conn.send(dict(server.counts))
        if command == "reset":
            server.counts = {200: 0, 304: 0}
    server.shutdown()
    server.server_close()


@contextmanager
def serve(bodies: dict[str, bytes], delay: float) -> Iterator[tuple[int, Connection]]:
    """The server in a process of its own, so that it does not compete for our GIL."""
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.Process(target=_serve_forever, args=(bodies, delay, child))
    process.start()
    try:
        yield parent.recv(), parent
    finally:
        parent.send("stop")
        process.join(10)
        if process.is_alive():
            process.terminate()


def make_context(base_dir: Path, urls: list[str]) -> Context:
    config = Config.model_validate(
        {
            "base_dir": base_dir,
            "storage": {"data_dir": str(base_dir), "database_url": f"sqlite:///{base_dir}/b.db"},
            "fetch": {"concurrency": len(urls), "allow_private_hosts": True},
            "regions": [
                {
                    "key": "leipzig-nordsachsen",
                    "name": "Leipzig",
                    "districts": ["14713", "14729", "14730"],
                },
                {"key": "chemnitz", "name": "Chemnitz", "districts": ["14511", "14521", "14522"]},
                {"key": "ostsachsen", "name": "Ostsachsen", "districts": ["14625", "14626"]},
                {"key": "zwickau", "name": "Zwickau", "districts": ["14524", "14523"]},
                {"key": "dresden", "name": "Dresden", "districts": ["14612", "14627", "14628"]},
            ],
            "sources": [
                {"name": f"Feed {i:03d}", "kind": "feed", "url": url} for i, url in enumerate(urls)
            ],
        }
    )
    ctx = Context(config)
    ctx.init_db()
    return ctx


def timed_fetch(fetcher: HttpFetcher, url: str) -> float:
    start = time.perf_counter()
    fetcher.fetch(FetchRequest(url, allow_private=True))
    return time.perf_counter() - start


def pool_limits(concurrency: int) -> httpx.Limits:
    """The pool the service uses for ``concurrency`` (see ``HttpFetcher``)."""
    keepalive = min(concurrency, KEEPALIVE_CONNECTIONS)
    return httpx.Limits(max_connections=concurrency, max_keepalive_connections=keepalive)


def server_alone(urls: list[str], concurrency: int) -> float:
    """The server's own share: bare asyncio sockets, one ``Connection: close`` GET each,
    no HTTP library (what no client can undercut)."""

    async def one(url: str, gate: asyncio.Semaphore) -> int:
        parts = urlsplit(url)
        async with gate:
            reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
            request = f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close"
            writer.write(f"{request}\r\n\r\n".encode())
            answer = await reader.read()
            writer.close()
            return len(answer)

    async def run() -> None:
        gate = asyncio.Semaphore(concurrency)
        await asyncio.gather(*(one(url, gate) for url in urls))

    start = time.perf_counter()
    asyncio.run(run())
    return time.perf_counter() - start


def raw_async(urls: list[str], concurrency: int) -> float:
    """Plain ``httpx.AsyncClient``: gather every URL, at most ``concurrency`` at a time."""

    async def run() -> None:
        gate = asyncio.Semaphore(concurrency)
        async with httpx.AsyncClient(limits=pool_limits(concurrency), trust_env=False) as client:

            async def one(url: str) -> int:
                async with gate:
                    response = await client.get(url)
                    response.raise_for_status()
                    return len(response.content)

            await asyncio.gather(*(one(url) for url in urls))

    start = time.perf_counter()
    asyncio.run(run())
    return time.perf_counter() - start


def raw_threads(urls: list[str], concurrency: int) -> float:
    """Plain ``httpx.Client`` (httpx's own transport, no netguard, no deadline) in the
    service's thread pool: the difference to the service is what netguard costs."""
    with httpx.Client(limits=pool_limits(concurrency), trust_env=False) as client:

        def one(url: str) -> int:
            response = client.get(url)
            response.raise_for_status()
            return len(response.content)

        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            list(pool.map(one, urls))
        return time.perf_counter() - start


def service_fetch(urls: list[str], concurrency: int) -> float:
    """The product's ``HttpFetcher`` (netguard, per-fetch deadline) in a thread pool of
    ``fetch.concurrency`` workers, as ``collect_all`` runs it."""
    with HttpFetcher(FetchSettings(concurrency=concurrency, allow_private_hosts=True)) as fetcher:
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            list(pool.map(lambda u: fetcher.fetch(FetchRequest(u, allow_private=True)), urls))
        return time.perf_counter() - start


def slowest_single(urls: list[str]) -> float:
    """The slowest of five fetches made one at a time (the product's fetcher)."""
    with HttpFetcher(FetchSettings(concurrency=1, allow_private_hosts=True)) as fetcher:
        return max(timed_fetch(fetcher, url) for url in urls[:5])


@dataclass(frozen=True)
class Collected:
    first_seconds: float
    second_seconds: float
    first: CollectSummary
    second: CollectSummary
    counts: dict[int, int]  # the server's answers to the second run, by status


def collect_twice(tmp: Path, urls: list[str], control: Connection) -> Collected:
    """A first ``collect_all`` on a fresh store, then a second one that gets 304s."""
    ctx = make_context(tmp, urls)
    assert ctx.gazetteer is not None  # compiled once per process, not per collect run
    try:
        control.send("reset")
        control.recv()
        start = time.perf_counter()
        first = collect_all(ctx)
        first_time = time.perf_counter() - start
        control.send("reset")
        control.recv()
        start = time.perf_counter()
        second = collect_all(ctx)
        second_time = time.perf_counter() - start
        control.send("counts")
        counts = control.recv()
    finally:
        ctx.close()
    return Collected(first_time, second_time, first, second, counts)


def spread(values: list[float]) -> str:
    """Median and range in ms."""
    ms = sorted(v * 1000 for v in values)
    return f"{statistics.median(ms):8.1f} ms  ({ms[0]:.0f}–{ms[-1]:.0f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--feeds", type=int, default=100)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--delay", type=float, default=0.1)
    parser.add_argument("--rounds", type=int, default=7, help="rounds of the fetch comparison")
    parser.add_argument("--collects", type=int, default=3, help="full collects, each fresh")
    args = parser.parse_args()
    concurrency = args.feeds
    bodies = {f"/feed/{n}.xml": feed_body(n, args.items) for n in range(args.feeds)}
    times: dict[str, list[float]] = {
        "slowest": [], "server": [], "raw": [], "threads": [], "service": []
    }  # fmt: skip
    ratios: dict[str, list[float]] = {"raw": [], "slowest": [], "threads": []}
    with serve(bodies, args.delay) as (port, control):
        urls = [f"http://127.0.0.1:{port}{path}" for path in bodies]
        raw_async(urls, concurrency)  # warm up: imports, the server's first threads
        for _ in range(args.rounds):  # the same round for all, so load bursts hit all
            slowest = slowest_single(urls)
            times["server"].append(server_alone(urls, concurrency))
            raw = raw_async(urls, concurrency)
            threads = raw_threads(urls, concurrency)
            service = service_fetch(urls, concurrency)
            for key, value in (("slowest", slowest), ("raw", raw), ("threads", threads)):
                times[key].append(value)
                ratios[key].append(service / value)
            times["service"].append(service)
        collects: list[Collected] = []
        for _ in range(args.collects):
            with tempfile.TemporaryDirectory() as tmp:
                collects.append(collect_twice(Path(tmp), urls, control))
    last = collects[-1]
    parsed_again = max(sum(r.status == "ok" for r in c.second.reports) for c in collects)
    slowest_median = statistics.median(times["slowest"])
    print(
        f"{args.feeds} feeds × {args.items} items, every answer delayed {args.delay * 1000:.0f} ms,"
        f" concurrency {concurrency}; medians of {args.rounds} rounds (min–max)"
    )
    print(f"slowest single fetch (of 5, one at a time) {spread(times['slowest'])}")
    print(f"server alone (asyncio sockets, no httpx)   {spread(times['server'])}")
    print(f"raw: httpx.AsyncClient, gather             {spread(times['raw'])}")
    print(f"raw: httpx.Client in the thread pool       {spread(times['threads'])}")
    print(f"service: HttpFetcher in the thread pool    {spread(times['service'])}")
    print(f"  service ÷ raw AsyncClient   {ratio_text(ratios['raw'])}  (goal ≤ 1.2)")
    print(f"  service ÷ slowest fetch     {ratio_text(ratios['slowest'])}  (goal < 2)")
    print(f"  service ÷ raw httpx.Client  {ratio_text(ratios['threads'])}  (netguard and deadline)")
    firsts = [c.first_seconds for c in collects]
    seconds = [c.second_seconds for c in collects]
    print(
        f"full collect, first run ({last.first.new} new items) {spread(firsts)}"
        f"  ÷ slowest {statistics.median(firsts) / slowest_median:5.2f}"
        "  (fetch, parse, sanitise, classify, store)"
    )
    print(
        f"second collect (304s: {last.counts[304]}, 200s: {last.counts[200]})    {spread(seconds)}"
        f"  ÷ slowest {statistics.median(seconds) / slowest_median:5.2f}"
    )
    print(f"feeds parsed on the second run: {parsed_again} (must be 0)")
    return 0 if parsed_again == 0 and all(c.second.new == 0 for c in collects) else 1


def ratio_text(values: list[float]) -> str:
    ordered = sorted(values)
    return f"{statistics.median(ordered):5.2f}  ({ordered[0]:.2f}–{ordered[-1]:.2f})"


if __name__ == "__main__":
    raise SystemExit(main())
