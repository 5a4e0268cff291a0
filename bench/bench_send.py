"""Digest delivery vs raw SMTP sending, measured in the same run.

Raw: pre-built identical bytes sent with the same client and connection strategy
(one SmtpTransport, one connection). Service: build the digest (premailer once),
enqueue one delivery per subscriber and drain with personalisation and store updates.
The sink is aiosmtpd in a separate process. Prints service ÷ raw (goal ≥ 0.9),
premailer calls per digest (must be 1) and peak RSS. No assertions on time.
"""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from newsletter import digests, sending  # noqa: E402
from newsletter.config import load_config  # noqa: E402
from newsletter.context import Context  # noqa: E402
from newsletter.outbox import personal_message, wire_bytes  # noqa: E402
from newsletter.store.db import transaction, utcnow  # noqa: E402
from newsletter.store.schema import subscribers, subscriptions  # noqa: E402
from newsletter.transports import SmtpTransport  # noqa: E402
from tests.feedfixtures import sample_items, store_items  # noqa: E402

COUNT = int(os.environ.get("BENCH_SUBSCRIBERS", "10000"))
NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_sink(port: int) -> subprocess.Popen[bytes]:
    code = (
        "import asyncio, sys\n"
        "from aiosmtpd.controller import Controller\n"
        "class H:\n"
        "    async def handle_DATA(self, server, session, envelope):\n"
        "        return '250 OK'\n"
        f"c = Controller(H(), hostname='127.0.0.1', port={port}); c.start()\n"
        "sys.stdin.read()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("aiosmtpd sink did not start")


def context(tmp: Path, port: int) -> Context:
    env = {
        "NEWSLETTER_STORAGE__DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
        "NEWSLETTER_MAIL__TRANSPORT": "smtp",
        "NEWSLETTER_MAIL__SMTP_HOST": "127.0.0.1",
        "NEWSLETTER_MAIL__SMTP_PORT": str(port),
        "NEWSLETTER_MAIL__SMTP_TLS": "none",
        "NEWSLETTER_MAIL__RATE_PER_SECOND": "1000000",
        "NEWSLETTER_MAIL__RATE_PER_HOUR": "100000000",
        "NEWSLETTER_MAIL__BATCH_SIZE": "500",
        "NEWSLETTER_WEB__SECRET_KEY": "bench-secret-key-0123456789",
    }
    config = load_config(ROOT / "config.toml", environ=env)
    ctx = Context(config.model_copy(update={"sources": []}))
    ctx.init_db()
    return ctx


def seed(ctx: Context) -> None:
    store_items(ctx, sample_items())
    now = utcnow()
    with transaction(ctx.engine) as conn:
        conn.execute(
            insert(subscribers),
            [
                {"id": n + 1, "email": f"p{n:05d}@example.org", "created_at": now}
                for n in range(COUNT)
            ],
        )
        conn.execute(
            insert(subscriptions),
            [
                {
                    "subscriber_id": n + 1,
                    "region": "zwickau",
                    "status": "confirmed",
                    "requested_at": now,
                    "confirmed_at": now,
                }
                for n in range(COUNT)
            ],
        )


def raw_rate(ctx: Context) -> float:
    digest = sending.plan(ctx, "zwickau", NOW)
    assert digest is not None
    data = wire_bytes(ctx, personal_message(ctx, digest, "p00000@example.org", 1, NOW))
    transport = SmtpTransport(ctx.config)
    started = time.perf_counter()
    for n in range(COUNT):
        transport.send("newsletter@example.org", f"p{n:05d}@example.org", data)
    elapsed = time.perf_counter() - started
    transport.close()
    return COUNT / elapsed


def service_rate(ctx: Context) -> tuple[float, int, int]:
    before = digests.inline_calls.calls
    started = time.perf_counter()
    result = sending.send_region(ctx, "zwickau", now=NOW)
    elapsed = time.perf_counter() - started
    sent = result.stats.sent if result.stats else 0
    return sent / elapsed, sent, digests.inline_calls.calls - before


def main() -> None:
    port = free_port()
    sink = start_sink(port)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            ctx = context(Path(tmp), port)
            seed(ctx)
            raw = raw_rate(ctx)
            service, sent, inlined = service_rate(ctx)
            ctx.close()
    finally:
        sink.kill()
        sink.wait()
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"subscribers:                  {COUNT}")
    print(f"raw SMTP (same client):       {raw:8.0f} messages/s")
    print(f"service (enqueue + drain):    {service:8.0f} messages/s ({sent} sent)")
    print(f"service / raw:                {service / raw:8.2f}   (goal >= 0.9)")
    print(f"premailer calls per digest:   {inlined:8d}   (must be 1)")
    print(f"peak RSS:                     {peak_mib:8.0f} MiB")


if __name__ == "__main__":
    main()
