"""Faults an operator meets, each with real components: nothing is lost, and an admin
can see what went wrong.

* a source that trickles its answer byte by byte (slowloris), in the headers or the body,
  or accepts the connection and never answers: the fetch ends at its deadline, the other
  sources are collected, the source's error is stored in German;
* the SMTP relay killed and started again in the middle of a worker's send: every
  partner gets the digest, the pause is visible in the deliveries;
* PostgreSQL terminating the worker's connections in the middle of claiming: the worker
  reconnects and delivers every mail once;
* the config file edited to an invalid value while ``serve`` runs: the running service
  keeps serving, every new command (and a restart) says which key in which line is wrong.

Maildir not writable and a full disk are in ``test_local_faults.py``, a server that drops
the connection mid-DATA or answers slowly in ``test_outbox_faults.py``.
"""

from __future__ import annotations

import collections
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller
from pytest_httpserver import HTTPServer
from sqlalchemy import create_engine, text

from newsletter.collect import collect_all
from newsletter.config import Config
from newsletter.context import Context
from newsletter.store import outbox as queue
from newsletter.store import sources as source_store
from newsletter.store.db import transaction
from tests.delivery_helpers import Sink, outbox_empty
from tests.livesrv import free_port, line_of, newsletter_serve, run_cli, start_cli, wait_for
from tests.test_worker_crash import RECIPIENTS, crash_config, everyone_got_it, seeded_context

RSS = (
    b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
    b"<link>https://e.org/</link><description>d</description><item><guid>g1</guid>"
    b"<title>Einbruch in Plauen</title><link>https://e.org/1</link></item></channel></rss>"
)


@contextmanager
def raw_server(handle: Callable[[socket.socket], None]) -> Iterator[str]:
    """A TCP server on loopback that runs ``handle`` for every connection (in a thread)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=_guarded, args=(handle, conn, stop), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/feed.xml"
    finally:
        stop.set()
        thread.join()
        listener.close()


def _guarded(
    handle: Callable[[socket.socket], None], conn: socket.socket, stop: threading.Event
) -> None:
    with conn:
        try:
            conn.recv(4096)
            while not stop.is_set():
                handle(conn)
        except OSError:
            pass  # the client gave up: that is the point


def _trickle(data: bytes, every: float) -> Callable[[socket.socket], None]:
    position = {"at": 0}

    def handle(conn: socket.socket) -> None:
        at = position["at"]
        conn.sendall(data[at : at + 1] or b" ")
        position["at"] = at + 1
        time.sleep(every)

    return handle


def _silent(conn: socket.socket) -> None:
    time.sleep(0.05)


HEADERS = b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 100000\r\n\r\n"


# Per-read timeout far above the trickle's pace, so only the deadline can end the slow
# fetches (whatever the machine's load); the silent one meets the per-read timeout first.
SLOW = {"timeout_seconds": 5.0, "deadline_seconds": 1.5}
SILENT = {"timeout_seconds": 0.6, "deadline_seconds": 30.0}


@pytest.mark.parametrize(
    ("behaviour", "limits", "said"),
    [
        (_trickle(HEADERS + RSS, 0.05), SLOW, "abgebrochen"),  # body trickles after the headers
        (_trickle(HEADERS, 0.2), SLOW, "abgebrochen"),  # the headers trickle
        (_silent, SILENT, "Zeitüberschreitung"),  # connected, never a byte
    ],
    ids=["slow-body", "slow-headers", "never-answers"],
)
def test_slow_or_silent_source_ends_at_its_deadline_and_others_are_collected(
    make_config: Callable[..., Config],
    httpserver: HTTPServer,
    behaviour: Callable[[socket.socket], None],
    limits: dict[str, float],
    said: str,
) -> None:
    httpserver.expect_request("/ok.xml").respond_with_data(RSS, content_type="application/rss+xml")
    with raw_server(behaviour) as slow_url:
        config = make_config(
            fetch={**limits, "allow_private_hosts": True},
            sources=[
                {"name": "Schnecke", "kind": "feed", "url": slow_url},
                {"name": "Gut", "kind": "feed", "url": httpserver.url_for("/ok.xml")},
            ],
        )
        ctx = Context(config)
        ctx.init_db()
        try:
            summary = collect_all(ctx)
            with transaction(ctx.engine) as conn:
                slow = source_store.by_name(conn, "Schnecke")
                good = source_store.by_name(conn, "Gut")
        finally:
            ctx.close()
    assert summary.new == 1 and good.last_status == "ok"
    assert slow.last_status == "error" and said in (slow.last_error or ""), slow.last_error


class Relay:
    """An aiosmtpd relay on a fixed port that can be killed and started again."""

    def __init__(self, sink: Sink, port: int) -> None:
        self.sink, self.port = sink, port
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def kill(self) -> None:
        assert self.controller is not None
        self.controller.stop()
        self.controller = None


@pytest.mark.slow
def test_relay_killed_and_restarted_mid_send_delivers_everyone(tmp_path: Path) -> None:
    sink = Sink()
    relay = Relay(sink, free_port())
    relay.start()
    config_path = crash_config(tmp_path, relay.port)
    ctx = seeded_context(config_path)
    worker = start_cli(config_path, "worker", "--poll", "0.2")
    try:
        assert wait_for(lambda: len(sink.messages) >= RECIPIENTS // 5, 30, 0.01)
        relay.kill()
        down_at = len(sink.messages)
        time.sleep(1.5)  # the worker meets a dead relay and pauses

        def waiting() -> bool:
            with transaction(ctx.engine) as conn:
                return any(d.last_reply for d in queue.list_deliveries(conn, limit=RECIPIENTS))

        assert wait_for(waiting, 10), "the pause is not visible in the deliveries"
        relay.start()

        assert wait_for(lambda: outbox_empty(ctx), 90, 0.05), (
            "the worker did not finish after the restart"
        )
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
        if relay.controller is not None:
            relay.kill()
    with transaction(ctx.engine) as conn:
        rows = queue.list_deliveries(conn, limit=RECIPIENTS * 2)
    ctx.close()
    assert down_at < RECIPIENTS
    assert {r.status for r in rows} == {"sent"} and len(rows) == RECIPIENTS
    everyone_got_it(sink.messages)


@pytest.mark.slow
def test_postgres_terminating_the_workers_connections_loses_nothing(
    tmp_path: Path, postgres_url: str | None
) -> None:
    if postgres_url is None:
        pytest.skip("NEWSLETTER_TEST_DATABASE_URL not set")
    from tests.delivery_helpers import smtp_sink

    sink = Sink()
    with smtp_sink(sink) as port:
        config_path = crash_config(tmp_path, port, postgres_url)
        ctx = seeded_context(config_path, postgres=True)
        log = tmp_path / "worker.log"
        worker = start_cli(config_path, "worker", "--poll", "0.2", log=log)
        admin = create_engine(postgres_url.split("?")[0])
        try:
            terminated = 0
            for _ in range(3):  # in the middle of the send, three times
                assert wait_for(lambda: len(sink.messages) >= RECIPIENTS // 10, 30, 0.01)
                with admin.begin() as conn:
                    terminated += conn.execute(
                        text(
                            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE application_name = :name"
                        ),
                        {"name": f"newsletter[{worker.pid}]"},
                    ).scalar_one()
                time.sleep(0.3)

            assert wait_for(lambda: outbox_empty(ctx), 90, 0.05), log.read_text(errors="replace")[
                -3000:
            ]
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
            admin.dispose()
        with transaction(ctx.engine) as conn:
            rows = queue.list_deliveries(conn, limit=RECIPIENTS * 2)
        ctx.close()
    received = collections.Counter(rcpts[0] for rcpts, _ in sink.messages)
    duplicates = sum(n - 1 for n in received.values())
    print(f"\npostgres fault: {terminated} connections terminated; duplicates: {duplicates}")
    assert terminated >= 1, "no connection of the worker was terminated"
    assert {r.status for r in rows} == {"sent"}
    everyone_got_it(sink.messages)


def test_config_broken_while_serving_keeps_the_service_and_names_the_line(
    tmp_path: Path,
) -> None:
    from tests.livesrv import write_config

    config = write_config(tmp_path, fetch={"timeout_seconds": 20})
    assert run_cli(config, "init-db").returncode == 0
    with newsletter_serve(config, tmp_path / "serve.log") as served:
        text_before = config.read_text(encoding="utf-8")
        config.write_text(text_before.replace("timeout_seconds = 20", "timeout_seconds = -3"))
        line = line_of(config, "timeout_seconds")
        assert httpx.get(f"{served.url}/healthz", timeout=5).status_code == 200
        assert httpx.get(f"{served.url}/feeds/zwickau.rss", timeout=5).status_code == 200
        refused = run_cli(config, "sources")
        assert refused.returncode == 78
        assert "fetch.timeout_seconds" in refused.stderr and f"Zeile {line}" in refused.stderr
        assert served.process.poll() is None, "the running service must not stop"
