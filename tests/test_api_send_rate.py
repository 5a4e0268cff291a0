"""POST /api/v1/digests/<r>/send: one send path, one pace beside the worker, a true reply."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from newsletter.config import Config
from newsletter.mail import sending
from newsletter.mail.outbox import run_worker_blocking
from newsletter.store.db import utcnow
from tests._admin import api_client
from tests.delivery_helpers import Sink, add_subscriber, smtp_context, smtp_sink

RATE = 20.0
RECIPIENTS = 80


@dataclass
class TimedSink(Sink):
    """The sink, noting when each message arrived."""

    times: list[float] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.times.append(time.monotonic())
        return await super().handle_DATA(server, session, envelope)


def test_api_send_keeps_the_rate_beside_the_worker_and_counts_at_enqueue(
    make_config: Callable[..., Config],
) -> None:
    sink = TimedSink()
    with smtp_sink(sink) as port:
        ctx = smtp_context(make_config, port, rate_per_second=RATE)
        for n in range(RECIPIENTS):
            add_subscriber(ctx, f"p{n}@example.org", {"zwickau": "confirmed"})
        planned = sending.plan(ctx, "zwickau", utcnow())
        assert planned is not None
        api = api_client(ctx)
        stop = threading.Event()
        worker = threading.Thread(target=run_worker_blocking, args=(ctx, stop, "w", 0.05))
        worker.start()
        try:
            answer = api.post("/api/v1/digests/zwickau/send", json={})
            deadline = time.monotonic() + 60
            while len(sink.messages) < RECIPIENTS and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            stop.set()
            worker.join(timeout=30)
        ctx.close()
    assert answer.status_code == 202
    assert answer.json() == {
        "region": "zwickau",
        "status": "started",
        "items": len(planned.item_ids),
        "recipients": RECIPIENTS,
    }
    assert len(sink.messages) == RECIPIENTS  # each once, though two drains ran
    steady = sorted(sink.times)[20:]  # past the bucket's burst (10 tokens)
    rate = (len(steady) - 1) / (steady[-1] - steady[0])
    assert rate <= RATE * 1.25, f"{rate:.1f} mails/s with {RATE}/s configured"
