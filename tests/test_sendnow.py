"""»Jetzt senden« keeps its running state on the Context: one claim per region, always
given back, also when the send fails."""

from __future__ import annotations

import threading

import pytest

from newsletter.context import Context
from newsletter.mail import sendnow
from newsletter.mail.sendstate import ManualSends


def test_of_many_concurrent_claims_for_one_region_exactly_one_wins() -> None:
    sends = ManualSends()
    start = threading.Barrier(8)
    won: list[bool] = []

    def claim() -> None:
        start.wait()
        won.append(sends.claim("zwickau", "anna"))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(won) == [False] * 7 + [True]
    assert sends.snapshot() == {"zwickau": "anna"}
    assert sends.claim("dresden", "ben")  # another region is free


def test_a_failed_send_gives_its_claim_back(ctx: Context) -> None:
    assert ctx.manual_sends.claim("mars", "anna")
    with pytest.raises(Exception):  # noqa: B017 - whatever the send path raises
        sendnow.send_claimed(ctx, "mars", "admin:anna")
    assert not ctx.manual_sends.running("mars")
    assert ctx.manual_sends.claim("mars", "anna")


def test_two_contexts_keep_their_own_state(ctx: Context) -> None:
    other = Context(ctx.config)
    try:
        assert ctx.manual_sends.claim("zwickau", "anna")
        assert other.manual_sends.claim("zwickau", "ben")
    finally:
        other.close()
