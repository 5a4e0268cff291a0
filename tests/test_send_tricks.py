"""The invariants the send path's speed tricks rely on.

``SmtpTransport.send`` builds the message after ``MAIL FROM`` went out and before its reply
is read (:mod:`newsletter.mail.transports`), and the drain builds the next row's message
after the data went out and before the final reply is read; each message still goes to
its own recipient, and a failed build ahead is done again in the row's own turn. It writes MAIL, RCPT and DATA itself instead
of through smtplib's ``sendmail``: the paths and the dot-stuffing must stay what smtplib
would send. The drain hands each "250" to the
:class:`~newsletter.mail.recorder.SentRecorder` and flushes it before it gives rows back
(a stop, a paused transport): a row whose mail was accepted is never released.
"""

from __future__ import annotations

import email
import email.policy
import functools
import smtplib
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsletter.config import Config
from newsletter.context import Context
from newsletter.errors import TransportUnavailableError
from newsletter.mail import outbox
from newsletter.mail.recorder import SentRecorder
from newsletter.mail.transports import (
    MemoryTransport,
    MessageSource,
    open_transport,
    path,
    transparent,
)
from newsletter.store import outbox as store_outbox
from tests.delivery_helpers import (
    Sink,
    add_subscriber,
    deliveries,
    enqueue_only,
    smtp_context,
    smtp_sink,
)
from tests.feedfixtures import sample_items, store_items

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def test_the_message_is_built_between_mail_from_and_its_reply(
    make_config: Callable[..., Config], monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    putcmd, getreply = smtplib.SMTP.putcmd, smtplib.SMTP.getreply

    def recorded_putcmd(self: smtplib.SMTP, cmd: str, args: str = "") -> None:
        events.append(f"send {cmd}")
        putcmd(self, cmd, args)

    def recorded_getreply(self: smtplib.SMTP) -> tuple[int, bytes]:
        events.append("reply")
        return getreply(self)

    def build() -> bytes:
        events.append("build")
        return b"Subject: x\r\n\r\nok\r\n"

    monkeypatch.setattr(smtplib.SMTP, "putcmd", recorded_putcmd)
    monkeypatch.setattr(smtplib.SMTP, "getreply", recorded_getreply)
    sink = Sink()
    with smtp_sink(sink) as port:
        ctx = smtp_context(make_config, port)
        transport = open_transport(ctx.config)
        try:
            assert transport.send("from@example.org", "a@example.org", build).startswith("250")
        finally:
            transport.close()
            ctx.close()
    mail = events.index("send mail")
    assert events[mail : mail + 3] == ["send mail", "build", "reply"], events
    assert [rcpts for rcpts, _ in sink.messages] == [["a@example.org"]]


def _recorded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Events of the SMTP dialogue and of the drain's builds, in order."""
    events: list[str] = []
    putcmd, getreply, send = smtplib.SMTP.putcmd, smtplib.SMTP.getreply, smtplib.SMTP.send
    real_render = outbox.render_delivery

    def recorded_putcmd(self: smtplib.SMTP, cmd: str, args: str = "") -> None:
        events.append(f"send {cmd}")
        putcmd(self, cmd, args)

    def recorded_send(self: smtplib.SMTP, data: bytes | str) -> None:
        if isinstance(data, bytes) and data.endswith(b"\r\n.\r\n"):
            events.append("send message")
        send(self, data)

    def recorded_getreply(self: smtplib.SMTP) -> tuple[int, bytes]:
        events.append("reply")
        return getreply(self)

    def recorded_render(ctx: Context, row: Any, cache: Any) -> Any:
        events.append(f"build {row.address}")
        return real_render(ctx, row, cache)

    monkeypatch.setattr(smtplib.SMTP, "putcmd", recorded_putcmd)
    monkeypatch.setattr(smtplib.SMTP, "send", recorded_send)
    monkeypatch.setattr(smtplib.SMTP, "getreply", recorded_getreply)
    monkeypatch.setattr(outbox, "render_delivery", recorded_render)
    return events


def test_the_next_message_is_built_while_the_server_takes_in_the_current_one(
    make_config: Callable[..., Config], monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = Sink()
    with smtp_sink(sink) as port:
        ctx = smtp_context(make_config, port)
        addresses = [f"p{n}@example.org" for n in range(3)]
        for address in addresses:
            add_subscriber(ctx, address, {"zwickau": "confirmed"})
        enqueue_only(ctx, "zwickau", NOW)
        events = _recorded(monkeypatch)
        transport = open_transport(ctx.config)
        try:
            assert outbox.drain(ctx, transport, "worker").sent == 3
        finally:
            transport.close()
            ctx.close()
    mails = [i for i, e in enumerate(events) if e == "send mail"]
    assert len(mails) == 3
    # the first message is built after its MAIL FROM; each next one after the data before
    # it went out and before that message's final reply
    assert events[mails[0] : mails[0] + 3] == ["send mail", "build p0@example.org", "reply"]
    for n in (1, 2):
        done = events.index("send message", mails[n - 1])
        assert events[done : done + 3] == ["send message", f"build p{n}@example.org", "reply"]
        assert events[mails[n] : mails[n] + 2] == ["send mail", "reply"]  # built already
    assert [e for e in events if e.startswith("build")] == [f"build {a}" for a in addresses]
    # every message went to the recipient it was built for
    to = [
        email.message_from_bytes(data, policy=email.policy.default)["To"]
        for _, data in sink.messages
    ]
    assert [rcpts for rcpts, _ in sink.messages] == [[a] for a in addresses]
    assert to == addresses


def test_a_failed_build_ahead_is_done_again_in_the_rows_own_turn(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_items(ctx, sample_items())
    for n in range(2):
        add_subscriber(ctx, f"p{n}@example.org", {"zwickau": "confirmed"})
    enqueue_only(ctx, "zwickau", NOW)
    real_render, failures = outbox.render_delivery, ["p1@example.org"]

    def flaky(ctx: Context, row: Any, cache: Any) -> Any:
        if row.address in failures:
            failures.remove(row.address)  # fails once: the build ahead
            raise RuntimeError("kaputt")
        return real_render(ctx, row, cache)

    monkeypatch.setattr(outbox, "render_delivery", flaky)
    transport = MemoryTransport()
    assert outbox.drain(ctx, transport, "worker").sent == 2
    assert not failures  # the build ahead was tried, and failed
    assert [rcpt for _, rcpt, _ in transport.sent] == ["p0@example.org", "p1@example.org"]
    assert b"p1@example.org" in transport.sent[1][2]
    assert {row.status for row in deliveries(ctx)} == {"sent"}


@pytest.mark.parametrize(
    "address",
    [
        "a@example.org",
        "p.mueller+nl@stadt-zwickau.de",
        "Anna Beispiel <anna@example.org>",
        "anna@example.org (Anna)",
        '"a b"@example.org',
        "<anna@example.org>",
    ],
)
def test_the_smtp_path_is_what_smtplib_would_write(address: str) -> None:
    assert path(address) == smtplib.quoteaddr(address)


_LINES = st.lists(st.sampled_from([b"", b".", b"..", b".x", b"x.", b"a\r\n.b", b"text"]))


@given(_LINES, st.booleans())
def test_dot_stuffing_is_what_smtplib_would_send(lines: list[bytes], final_crlf: bool) -> None:
    data = b"\r\n".join(lines) + (b"\r\n" if final_crlf else b"")
    expected = smtplib._quote_periods(data)  # what SMTP.data sends, before its ».« line
    if expected[-2:] != b"\r\n":
        expected += b"\r\n"
    assert transparent(data) == expected


def test_lines_starting_with_a_dot_arrive_unchanged(make_config: Callable[..., Config]) -> None:
    message = b"Subject: Punkte\r\n\r\n.erste Zeile\r\n..zwei\r\nmitte\r\n.\r\nende"
    sink = Sink()
    with smtp_sink(sink) as port:
        ctx = smtp_context(make_config, port)
        transport = open_transport(ctx.config)
        try:
            transport.send("from@example.org", "a@example.org", message)
            transport.send("from@example.org", "b@example.org", b".\r\n")
        finally:
            transport.close()
            ctx.close()
    assert [data for _, data in sink.messages] == [message + b"\r\n", b".\r\n"]


class _StopAfterFirst(MemoryTransport):
    """Accepts one message, then asks the drain to stop (as SIGTERM does)."""

    def __init__(self, stop: threading.Event) -> None:
        super().__init__()
        self.stop = stop

    def send(
        self,
        envelope_from: str,
        recipient: str,
        message: MessageSource,
        meanwhile: Callable[[], None] | None = None,
    ) -> str:
        reply = super().send(envelope_from, recipient, message, meanwhile)
        self.stop.set()
        return reply


class _UnavailableAfterFirst(MemoryTransport):
    """Accepts one message, then the relay is gone."""

    def send(
        self,
        envelope_from: str,
        recipient: str,
        message: MessageSource,
        meanwhile: Callable[[], None] | None = None,
    ) -> str:
        if self.sent:
            raise TransportUnavailableError("weg", address=recipient)
        return super().send(envelope_from, recipient, message, meanwhile)


@pytest.fixture
def store_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the store is asked, in order: ``sent`` (the recorder's write), ``release``
    and ``postpone`` (rows given back). The drain's recorder lingers half a second, so an
    accepted mail's mark is still pending when the drain comes to give rows back."""
    calls: list[str] = []
    for name, event in (("mark_sent", "sent"), ("release", "release"), ("postpone", "postpone")):
        real = getattr(store_outbox, name)

        def recorded(*args: Any, _real: Any = real, _event: str = event) -> Any:
            calls.append(_event)
            return _real(*args)

        monkeypatch.setattr(store_outbox, name, recorded)
    monkeypatch.setattr(outbox, "SentRecorder", functools.partial(SentRecorder, linger=0.5))
    return calls


@pytest.mark.parametrize("why", ["stop", "unavailable"])
def test_an_accepted_mail_is_recorded_before_the_drain_gives_rows_back(
    ctx: Context, store_calls: list[str], why: str
) -> None:
    store_items(ctx, sample_items())
    for n in range(4):
        add_subscriber(ctx, f"p{n}@example.org", {"zwickau": "confirmed"})
    enqueue_only(ctx, "zwickau", NOW)
    stop = threading.Event()
    transport: Any = _StopAfterFirst(stop) if why == "stop" else _UnavailableAfterFirst()
    outbox.drain(ctx, transport, "worker", stop=stop)
    given_back = "release" if why == "stop" else "postpone"
    assert store_calls == ["sent", given_back], store_calls  # never the other way round
    statuses = sorted(row.status for row in deliveries(ctx))
    assert statuses == ["queued", "queued", "queued", "sent"]
