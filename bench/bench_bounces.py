"""Benchmark the bounce job: parsing bounce messages, and a whole run over a Maildir.

1. **Parsing**: the sample messages of ``tests/data/bounces/`` (DSNs of Postfix, Exim,
   Microsoft 365, Gmail, qmail; ARF complaints; auto-replies), each read by
   :func:`newsletter.mail.dsn.parse`, against a baseline measured in the same run: the
   standard library alone parsing the same bytes (``BytesParser(policy=default)`` and a
   walk over all parts), which is the floor of any reader built on it.
2. **A run**: N (500) Postfix DSNs (one per delivery, VERP-addressed) dropped into a Maildir,
   read by :func:`newsletter.mail.bounces.run_bounce_job` on a SQLite file: messages per
   second with matching, storing, suspending and moving each file, and the ratio against
   the parsing baseline of step 1 (what the store and the file moves cost on top).

CPU time of this process for step 1, wall time for step 2; medians of three. No timed
assertions.

Usage: ``.venv/bin/python bench/bench_bounces.py [--messages N]``
"""

from __future__ import annotations

import argparse
import email.policy
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from email.parser import BytesParser
from pathlib import Path

from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from newsletter.context import Context
from newsletter.mail import dsn
from newsletter.mail.bounces import run_bounce_job
from newsletter.mail.verp import envelope_sender
from newsletter.store.db import transaction
from newsletter.store.schema import deliveries, subscribers
from tests.bounce_samples import NAMES, sample
from tests.configs import service_config

NOW = datetime.now(UTC)


def messages(copies: int) -> list[bytes]:
    return [
        sample(
            name,
            verp=f"bounces+{i}-0@example.org",
            recipient=f"p{i}@amt.example",
            message_id=f"<nl.{i}.20261126081404000000@example.org>",
        )
        for i in range(copies)
        for name in NAMES
    ]


def baseline(data: list[bytes]) -> int:
    parser = BytesParser(policy=email.policy.default)
    return sum(sum(1 for _ in parser.parsebytes(d).walk()) for d in data)


def ours(data: list[bytes]) -> int:
    return sum(len(dsn.parse(d, 2_000_000).recipients) for d in data)


def cpu_rate(work: list[bytes], run: object) -> float:
    started = time.process_time()
    run(work)  # type: ignore[operator]
    return len(work) / (time.process_time() - started)


def seeded(tmp: Path, count: int) -> Context:
    config = service_config(
        tmp,
        bounces={
            "verp": True,
            "mailbox": "maildir",
            "maildir": str(tmp / "bounces"),
            "max_messages_per_run": count,
        },
    )
    ctx = Context(config)
    ctx.init_db()
    with transaction(ctx.engine) as conn:
        conn.execute(
            insert(subscribers),
            [{"email": f"p{i}@amt.example", "created_at": NOW} for i in range(count)],
        )
        conn.execute(
            insert(deliveries),
            [
                {
                    "subscriber_id": i + 1,
                    "address": f"p{i}@amt.example",
                    "status": "sent",
                    "kind": "digest",
                    "sent_at": NOW,
                    "created_at": NOW,
                }
                for i in range(count)
            ],
        )
    new = tmp / "bounces" / "new"
    new.mkdir(parents=True)
    for i in range(count):
        verp = envelope_sender(config, ctx.secret_key, i + 1)
        data = sample(
            "postfix-user-unknown.eml",
            verp=verp,
            recipient=f"p{i}@amt.example",
            message_id="<x@y.example>",
        )
        (new / f"{i}.bounce").write_bytes(data)
    return ctx


def job_rate(count: int) -> float:
    with tempfile.TemporaryDirectory() as name:
        ctx = seeded(Path(name), count)
        started = time.perf_counter()
        stats = run_bounce_job(ctx)
        seconds = time.perf_counter() - started
        ctx.close()
    assert stats is not None and stats.suspended == count, stats
    return count / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=500)
    args = parser.parse_args()
    work = messages(max(1, args.messages // len(NAMES)))
    ours(work[:50])  # warm up
    rates, bases = [], []
    for _ in range(3):
        rates.append(cpu_rate(work, ours))
        bases.append(cpu_rate(work, baseline))
    rate, base = statistics.median(rates), statistics.median(bases)
    print(f"{len(work):,} sample messages, {sum(map(len, work)) / len(work):,.0f} bytes on average")
    print(
        f"parse: {rate:,.0f} messages/s, stdlib parse alone {base:,.0f} messages/s, "
        f"ratio {rate / base:.2f}x"
    )
    jobs = [job_rate(args.messages) for _ in range(3)]
    job = statistics.median(jobs)
    print(
        f"job: {args.messages:,} DSNs from a Maildir, matched, stored, suspended: "
        f"{job:,.0f} messages/s, {job / base:.2f}x the stdlib parse alone"
    )


if __name__ == "__main__":
    main()
