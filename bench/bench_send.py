"""Digest delivery vs raw SMTP sending, measured in the same run.

Half of the subscribers take only Zwickau, the other half Zwickau, Dresden and
Ostsachsen on the same slot and get one combined mail for them (issue 16).

Raw: pre-built bytes, alternately the Zwickau mail and the combined mail (the same mix
as the service sends), with the same client and connection strategy (one
``SmtpTransport``, one reused connection), half of the messages before and half after
the service run. Service: ``send_slot`` builds every distinct mail (premailer once
each: three region digests and one combined mail), enqueues one delivery per
subscriber and drains the queue with personalisation and store updates, through the
same ``SmtpTransport.send`` (which builds each personal message while the server
answers ``MAIL FROM``). The SMTP sink is aiosmtpd in a separate process, so
it does not compete with the client for the GIL.

Uses 10,000 subscribers when one run takes under 60 s (estimated from a short pilot),
otherwise fewer. Three runs, each on a fresh store (one run's ratio moves by ±0.04 with
the sink's pace). Prints the median service ÷ raw (goal ≥ 0.9) with every run's value,
premailer calls per send (must equal the distinct mail bodies: 4) and the peak RSS of this process. No assertions
on timing.

Usage: ``.venv/bin/python bench/bench_send.py [--subscribers N] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sendkit import address, start_sink  # noqa: E402
from sendkit import seed as sendkit_seed  # noqa: E402

from newsletter import digests  # noqa: E402
from newsletter.config import load_config  # noqa: E402
from newsletter.context import Context  # noqa: E402
from newsletter.mail import sending  # noqa: E402
from newsletter.mail.compose import personal_message, prepare_digest  # noqa: E402
from newsletter.mail.transports import SmtpTransport  # noqa: E402
from tests.livesrv import free_port, stop_process  # noqa: E402

TARGET = 10_000
PILOT = 500
BUDGET_SECONDS = 60.0
REGION = "zwickau"
SLOT = (REGION, "dresden", "ostsachsen")  # one cron: one slot
NOW = datetime(2026, 11, 25, tzinfo=UTC)


def make_context(directory: Path, port: int) -> Context:
    overrides = {
        "NEWSLETTER_STORAGE__DATABASE_URL": f"sqlite:///{directory / 'bench.db'}",
        "NEWSLETTER_MAIL__TRANSPORT": "smtp",
        "NEWSLETTER_MAIL__SMTP_HOST": "127.0.0.1",
        "NEWSLETTER_MAIL__SMTP_PORT": str(port),
        "NEWSLETTER_MAIL__SMTP_TLS": "none",
        "NEWSLETTER_MAIL__RATE_PER_SECOND": "100000",
        "NEWSLETTER_MAIL__RATE_PER_HOUR": "100000000",
        "NEWSLETTER_MAIL__BATCH_SIZE": "500",
        "NEWSLETTER_WEB__SECRET_KEY": "bench-secret-key-0123456789",
    }
    config = load_config(ROOT / "config.toml", environ=os.environ | overrides)
    ctx = Context(config)
    ctx.init_db()
    return ctx


def seed(ctx: Context, count: int) -> None:
    """The sample items and ``count`` confirmed subscribers: even ones in one region, odd
    ones in the whole slot (a combined mail each)."""
    sendkit_seed(ctx, count, lambda n: SLOT if n % 2 else (REGION,))


def raw_rate(ctx: Context, count: int) -> float:
    """Pre-built bytes over one SmtpTransport connection (messages/s): the region mail
    and the combined mail alternately, as the service sends them."""
    digest = sending.plan(ctx, REGION, NOW, force=True)
    combined = sending.plan_combined(ctx, SLOT, NOW)
    if digest is None or combined is None:
        raise SystemExit("no digest to send: the sample items were not stored")
    data = [
        personal_message(ctx, prepare_digest(ctx, d), address(0), 1, NOW).data
        for d in (digest, combined)
    ]
    envelope = ctx.config.mail.envelope_from or ctx.config.mail.from_address
    recipients = [address(n) for n in range(count)]
    transport = SmtpTransport(ctx.config)
    try:
        started = time.perf_counter()
        for n, recipient in enumerate(recipients):
            transport.send(envelope, recipient, data[n % 2])
        elapsed = time.perf_counter() - started
    finally:
        transport.close()
    return count / elapsed


def service_rate(ctx: Context) -> tuple[float, int, int, int]:
    """send_slot: digests, enqueue, drain. (messages/s, sent, failed, premailer runs)."""
    before = digests.inline_calls.calls
    started = time.perf_counter()
    _, stats = sending.send_slot(ctx, SLOT, now=NOW)
    elapsed = time.perf_counter() - started
    sent = stats.sent if stats else 0
    failed = (stats.failed + stats.retried) if stats else 0
    return sent / elapsed, sent, failed, digests.inline_calls.calls - before


def run(port: int, count: int) -> tuple[float, tuple[float, int, int, int]]:
    """Raw half before and half after the service run: the baseline brackets any drift
    of the sink (its rate moves by ±10 % between runs on a shared machine)."""
    with tempfile.TemporaryDirectory() as tmp:
        ctx = make_context(Path(tmp), port)
        try:
            seed(ctx, count)
            half = max(1, count // 2)
            before = raw_rate(ctx, half)
            service = service_rate(ctx)
            after = raw_rate(ctx, half)
        finally:
            ctx.close()
    return 2 / (1 / before + 1 / after), service


def choose_count(port: int, requested: int) -> tuple[int, str]:
    """``requested`` if one run (raw + service) is estimated under the budget, else fewer."""
    raw, (service, _, _, _) = run(port, PILOT)
    per_message = 1 / raw + 1 / service if raw and service else float("inf")
    estimate = requested * per_message
    if estimate < BUDGET_SECONDS:
        return requested, f"pilot of {PILOT} estimates {estimate:.1f} s per run (< 60 s)"
    fewer = max(PILOT, int(BUDGET_SECONDS * 0.9 / per_message))
    return fewer, (
        f"pilot of {PILOT} estimates {estimate:.1f} s for {requested} (>= 60 s), so {fewer} instead"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=TARGET)
    parser.add_argument("--rounds", type=int, default=3, help="runs, each on a fresh store")
    args = parser.parse_args()

    port = free_port()
    sink = start_sink(port)
    try:
        count, why = choose_count(port, args.subscribers)
        started = time.perf_counter()
        runs = [run(port, count) for _ in range(args.rounds)]
        total = time.perf_counter() - started
    finally:
        stop_process(sink, seconds=5)
    ratios = sorted(service[0] / raw for raw, service in runs)
    raw, (service, sent, failed, inlined) = min(
        runs, key=lambda r: abs(r[1][0] / r[0] - statistics.median(ratios))
    )
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"subscribers:                 {count}  ({why})")
    print(f"run time ({args.rounds} x seed+raw+service): {total:6.1f} s")
    print(f"raw SMTP (same client):      {raw:8.0f} messages/s  (median run; before and after)")
    print(f"service (enqueue + drain):   {service:8.0f} messages/s  ({sent} sent, {failed} not)")
    print(
        f"service / raw:               {statistics.median(ratios):8.2f}  (goal >= 0.9; "
        f"median of {args.rounds}: {', '.join(f'{r:.2f}' for r in ratios)})"
    )
    print(f"premailer calls per send:    {inlined:8d}  (must be 4: 3 region digests, 1 combined)")
    print(f"peak RSS:                    {peak_kib:8d} KiB")


if __name__ == "__main__":
    main()
