"""Benchmark collect: 100 feeds × 50 items from a loopback server that delays every answer.

Baseline (measured in the same run): the slowest of a few single fetches, one at a time.
Printed:
  1. concurrent fetch of all feeds (the product's HttpFetcher, ``fetch.concurrency`` = number
     of feeds) ÷ slowest single fetch — goal < 2: the fetches overlap;
  2. a full ``collect_all`` (fetch + parse + sanitise + classify + store, SQLite file) ÷ the
     same baseline — informational: parsing 5,000 items is CPU work that threads cannot
     overlap on CPython;
  3. a second ``collect_all``: the server answers 304 to the ETag, so the number of feeds
     parsed must be 0.
No timed assertions; exit code 1 only if the 304 run parsed something.

Usage: ``.venv/bin/python bench/bench_collect.py [--feeds N] [--items M] [--delay S]``
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path

from newsletter.collect import collect_all
from newsletter.config import Config
from newsletter.context import Context
from newsletter.sources.http import FetchRequest, FetchSettings, HttpFetcher

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--feeds", type=int, default=100)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--delay", type=float, default=0.1)
    args = parser.parse_args()
    bodies = {f"/feed/{n}.xml": feed_body(n, args.items) for n in range(args.feeds)}
    with serve(bodies, args.delay) as (port, control), tempfile.TemporaryDirectory() as tmp:
        base = f"http://127.0.0.1:{port}"
        urls = [base + path for path in bodies]
        settings = FetchSettings(concurrency=args.feeds, allow_private_hosts=True)
        with HttpFetcher(settings) as fetcher:
            slowest = max(timed_fetch(fetcher, url) for url in urls[:5])
            start = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.feeds) as pool:
                list(pool.map(lambda u: timed_fetch(fetcher, u), urls))
            fetch_all = time.perf_counter() - start
        ctx = make_context(Path(tmp), urls)
        assert ctx.gazetteer is not None  # compiled once per process, not per collect run
        try:
            start = time.perf_counter()
            first = collect_all(ctx)
            collect_time = time.perf_counter() - start
            control.send("reset")
            control.recv()
            start = time.perf_counter()
            second = collect_all(ctx)
            second_time = time.perf_counter() - start
            control.send("counts")
            counts = control.recv()
        finally:
            ctx.close()
    parsed_again = sum(r.status == "ok" for r in second.reports)
    print(
        f"{args.feeds} feeds × {args.items} items, every answer delayed {args.delay * 1000:.0f} ms"
    )
    print(f"baseline: slowest single fetch           {slowest * 1000:8.1f} ms")
    print(f"concurrent fetch of all feeds            {fetch_all * 1000:8.1f} ms"
          f"  ratio {fetch_all / slowest:5.2f}  (goal < 2)")  # fmt: skip
    print(f"full collect, first run ({first.new} new items) {collect_time * 1000:8.1f} ms"
          f"  ratio {collect_time / slowest:5.2f}  (includes parsing and storing)")  # fmt: skip
    print(f"second collect (304s: {counts[304]}, 200s: {counts[200]})"
          f"       {second_time * 1000:8.1f} ms  ratio {second_time / slowest:5.2f}")  # fmt: skip
    print(f"feeds parsed on the second run: {parsed_again} (must be 0)")
    return 0 if parsed_again == 0 and second.new == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
