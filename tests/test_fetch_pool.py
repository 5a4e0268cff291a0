"""At width, the fetcher's pool keeps few idle connections (httpcore scans all of them).

httpcore's pool walks every connection, and for each idle one the whole pool again, each
time a request starts or ends; with ``fetch.concurrency`` = 100 idle keep-alive
connections that scan cost more than the fetches (bench/bench_collect.py). So after a
burst the pool closes the surplus: the server sees them go.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from newsletter.sources.http import KEEPALIVE_CONNECTIONS, FetchRequest, FetchSettings, HttpFetcher
from tests.livesrv import wait_for

WIDTH = 3 * KEEPALIVE_CONNECTIONS
BODY = b"<rss version='2.0'><channel><title>T</title></channel></rss>"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.open = 0  # connections the client has not closed yet
        self.burst = threading.Barrier(WIDTH, timeout=20)  # all requests in flight at once


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.open += 1

    def finish(self) -> None:
        super().finish()
        with self.server.lock:
            self.server.open -= 1

    def do_GET(self) -> None:
        if self.path.startswith("/burst/"):
            self.server.burst.wait()
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


def test_after_a_burst_the_pool_keeps_at_most_the_keepalive_cap(server: _Server) -> None:
    base = f"http://127.0.0.1:{server.server_address[1]}"
    settings = FetchSettings(concurrency=WIDTH, allow_private_hosts=True)
    with HttpFetcher(settings) as fetcher:
        with ThreadPoolExecutor(max_workers=WIDTH) as pool:
            answers = list(
                pool.map(
                    lambda n: fetcher.fetch(FetchRequest(f"{base}/burst/{n}", allow_private=True)),
                    range(WIDTH),
                )
            )
        assert [a.status for a in answers] == [200] * WIDTH
        assert wait_for(lambda: server.open <= KEEPALIVE_CONNECTIONS, 10), server.open
        # what is kept is used: a further fetch needs no new connection
        kept = server.open
        assert fetcher.fetch(FetchRequest(f"{base}/again", allow_private=True)).status == 200
        assert server.open == kept
    assert wait_for(lambda: server.open == 0, 10), server.open  # close() closes them all
