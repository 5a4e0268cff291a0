"""Digest and delivery end to end: a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from newsletter import digests
from newsletter.config import Config
from newsletter.context import Context
from newsletter.mail import sending
from newsletter.mail.transports import MemoryTransport
from newsletter.models import Digest
from newsletter.store import digests as digest_store
from newsletter.store import outbox as queue
from newsletter.store.db import transaction
from newsletter.subscriptions.tokens import Purpose
from tests.delivery_helpers import (
    Sink,
    add_subscriber,
    deliveries,
    drain_until_done,
    smtp_context,
    smtp_sink,
)
from tests.feedfixtures import sample_items, store_items

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


@pytest.fixture
def sink() -> Sink:
    return Sink()


@pytest.fixture
def smtp_ctx(make_config: Callable[..., Config], sink: Sink) -> Iterator[Context]:
    with smtp_sink(sink) as port:
        ctx = smtp_context(make_config, port)
        yield ctx
        ctx.close()


def test_digest_reaches_every_confirmed_subscriber_once(smtp_ctx: Context, sink: Sink) -> None:
    add_subscriber(smtp_ctx, "a@gemeinde-zwickau.de", {"zwickau": "confirmed"})
    add_subscriber(smtp_ctx, "b@plauen.de", {"zwickau": "confirmed", "dresden": "confirmed"})
    add_subscriber(smtp_ctx, "pending@example.org", {"zwickau": "pending"})
    add_subscriber(smtp_ctx, "gone@example.org", {"zwickau": "unsubscribed"})
    result = sending.send_region(smtp_ctx, "zwickau", now=NOW)
    assert result.status == "sent" and result.recipients == 2
    assert sorted(r[0] for r, _ in sink.messages) == ["a@gemeinde-zwickau.de", "b@plauen.de"]
    again = sending.send_region(smtp_ctx, "zwickau", now=NOW)
    assert again.status == "nothing_new" and len(sink.messages) == 2


def test_message_headers_parts_and_personal_tokens(smtp_ctx: Context, sink: Sink) -> None:
    ids = {
        addr: add_subscriber(smtp_ctx, addr, {"zwickau": "confirmed"})
        for addr in ("a@example.org", "b@example.org")
    }
    sending.send_region(smtp_ctx, "zwickau", now=NOW)
    messages = sink.parsed()
    tokens = set()
    for address, message in messages.items():
        assert message["From"] == "ASSKomm Nachrichten <newsletter@example.org>"
        assert message["To"] == address
        assert message["Subject"] == "ASSKomm-Nachrichten Zwickau – 2 neue Meldungen (KW 48/2026)"
        assert message["Message-ID"].endswith("@127.0.0.1>")
        assert message["Date"] and message["Auto-Submitted"] == "auto-generated"
        assert (
            message["List-Id"]
            == '"Zwickau – Präventionsnachrichten" <zwickau.newsletter.127.0.0.1>'
        )
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        url = re.fullmatch(
            r"<(http://127\.0\.0\.1:8000/abmelden/([^>]+))>", message["List-Unsubscribe"]
        )
        assert url is not None
        data = smtp_ctx.tokens.read(url.group(2), Purpose.UNSUBSCRIBE)
        assert (data.subscriber_id, data.region) == (ids[address], "zwickau")
        tokens.add(url.group(2))
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
        assert "Fahrräder codieren" in text and "Fahrräder codieren" in html
        assert url.group(1) in text and url.group(1) in html
        assert "%%NL_" not in text + html
        assert '<html lang="de"' in html
    assert len(tokens) == 2


def test_wire_format_is_crlf_quoted_printable_and_short_lines(
    smtp_ctx: Context, sink: Sink
) -> None:
    add_subscriber(smtp_ctx, "a@example.org", {"zwickau": "confirmed"})
    sending.send_region(smtp_ctx, "zwickau", now=NOW)
    raw = sink.messages[0][1]
    assert b"Content-Transfer-Encoding: quoted-printable" in raw
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert raw.isascii()


def test_premailer_runs_once_per_digest(smtp_ctx: Context, sink: Sink) -> None:
    for n in range(5):
        add_subscriber(smtp_ctx, f"p{n}@example.org", {"zwickau": "confirmed"})
    before = digests.inline_calls.calls
    sending.send_region(smtp_ctx, "zwickau", now=NOW)
    assert len(sink.messages) == 5
    assert digests.inline_calls.calls - before == 1


def test_temporary_failure_is_retried_and_sent_once(smtp_ctx: Context, sink: Sink) -> None:
    sink.reply = lambda address, attempt: "451 4.3.0 try later" if attempt == 1 else "250 OK"
    add_subscriber(smtp_ctx, "later@example.org", {"zwickau": "confirmed"})
    result = sending.send_region(smtp_ctx, "zwickau", now=NOW)
    assert result.stats is not None and result.stats.retried == 1
    drain_until_done(smtp_ctx)  # the retry base is 1 ms here
    (row,) = deliveries(smtp_ctx)
    assert row.status == "sent" and row.attempts == 2
    assert sink.attempts["later@example.org"] == 2 and len(sink.messages) == 1


def test_backoff_grows_and_is_jittered() -> None:
    import random

    from newsletter.mail.outbox import retry_delay as backoff

    rng = random.Random(1)
    delays = [backoff(n, 60, rng) for n in (1, 2, 3, 4)]
    assert all(45 <= d / 2**i <= 75 for i, d in enumerate(delays))
    assert backoff(50, 60, rng) <= 86400 * 1.25


def test_permanent_failure_is_not_retried_and_counts_against_address(
    smtp_ctx: Context, sink: Sink
) -> None:
    sink.reply = lambda address, attempt: "550 5.1.1 no such user"
    add_subscriber(smtp_ctx, "nobody@example.org", {"zwickau": "confirmed"})
    result = sending.send_region(smtp_ctx, "zwickau", now=NOW)
    assert result.stats is not None and result.stats.failed == 1
    with transaction(smtp_ctx.engine) as conn:
        (row,) = queue.list_deliveries(conn)
        bounces = conn.exec_driver_sql("SELECT bounce_count FROM subscribers").scalar_one()
    assert row.status == "failed" and "550" in row.last_reply
    assert bounces == 1 and sink.attempts["nobody@example.org"] == 1


def test_dead_smtp_server_loses_nothing(make_config: Callable[..., Config]) -> None:
    from tests.livesrv import free_port

    config = make_config(
        mail={
            "transport": "smtp",
            "smtp_host": "127.0.0.1",
            "smtp_port": free_port(),
            "smtp_tls": "none",
        }
    )
    ctx = Context(config)
    ctx.init_db()
    store_items(ctx, sample_items())
    add_subscriber(ctx, "a@example.org", {"zwickau": "confirmed"})
    result = sending.send_region(ctx, "zwickau", now=NOW)
    assert result.stats is not None and result.stats.unavailable
    with transaction(ctx.engine) as conn:
        (row,) = queue.list_deliveries(conn)
    assert (row.status, row.attempts) == ("queued", 0)  # paused, no attempt used
    assert "nicht erreichbar" in row.last_reply
    ctx.close()


def test_nothing_new_means_no_digest(ctx: Context) -> None:
    add_subscriber(ctx, "a@example.org", {"zwickau": "confirmed"})
    assert sending.send_region(ctx, "zwickau", now=NOW).status == "nothing_new"


def test_test_send_goes_to_one_address_and_is_not_a_delivery(ctx: Context) -> None:
    store_items(ctx, sample_items())
    transport = MemoryTransport()
    result = sending.send_region(
        ctx, "zwickau", now=NOW, to="admin@example.org", transport=transport
    )
    assert result.status == "test_sent" and [s[1] for s in transport.sent] == ["admin@example.org"]
    with transaction(ctx.engine) as conn:
        assert queue.list_deliveries(conn) == []


def stored_digest(ctx: Context) -> tuple[Digest, int]:
    """A zwickau digest with one confirmed subscriber, stored but not yet enqueued."""
    store_items(ctx, sample_items())
    add_subscriber(ctx, "a@example.org", {"zwickau": "confirmed"})
    digest = sending.plan(ctx, "zwickau", NOW)
    assert digest is not None
    with transaction(ctx.engine) as conn:
        digest_id = digest_store.insert_digest(conn, digest, triggered_by="test")
    assert digest_id is not None
    return digest, digest_id


def test_enqueue_twice_creates_nothing_new(db_ctx: Context) -> None:
    digest, digest_id = stored_digest(db_ctx)
    with transaction(db_ctx.engine) as conn:
        assert queue.enqueue_digest(conn, digest_id, "zwickau") == 1
        assert queue.enqueue_digest(conn, digest_id, "zwickau") == 0
        assert digest_store.insert_digest(conn, digest, triggered_by="test") is None
        claimed = queue.claim(conn, "w1", 10, 60)
        assert [r.address for r in claimed] == ["a@example.org"]
        assert queue.claim(conn, "w2", 10, 60) == []
        assert digest_store.last_cutoff(conn, "zwickau") == NOW


def test_expired_lease_is_taken_over(db_ctx: Context) -> None:
    _, digest_id = stored_digest(db_ctx)
    with transaction(db_ctx.engine) as conn:
        queue.enqueue_digest(conn, digest_id, "zwickau")
        assert len(queue.claim(conn, "crashed", 10, 60)) == 1
        later = datetime.now(UTC) + timedelta(seconds=120)
        assert [r.claimed_by for r in queue.claim(conn, "w2", 10, 60, now=later)] == ["w2"]


def test_header_injection_in_recipient_is_refused(config: Config) -> None:
    from newsletter.errors import InvalidInputError
    from newsletter.mail.messages import Content, build_message

    with pytest.raises(InvalidInputError):
        build_message(
            config, Content("Betreff", "t", "<p>h</p>"), "a@example.org\r\nBcc: x@evil", NOW
        )


def test_preview_has_no_placeholders(ctx: Context) -> None:
    store_items(ctx, sample_items())
    digest = sending.preview(ctx, "zwickau", NOW)
    assert digest is not None and "%%NL_" not in digest.html + digest.text
    assert "empfaenger@beispiel.de" in digest.text


def test_fifty_items_stay_under_gmail_clipping(ctx: Context) -> None:
    from dataclasses import replace

    base = sample_items()[1]
    many = [
        replace(
            base,
            id=f"z{n:02d}",
            title=f"Meldung {n}: Prävention in Zwickau",
            summary_html="<p>" + "Ein Absatz mit Hinweisen zur Prävention. " * 6 + "</p>",
        )
        for n in range(50)
    ]
    store_items(ctx, many)
    digest = sending.plan(ctx, "zwickau", NOW)
    assert digest is not None and len(digest.item_ids) == 50
    assert len(digest.html.encode()) < 90_000
    assert all(len(line) <= 72 or "://" in line for line in digest.text.splitlines())


@pytest.mark.parametrize("part", ["html", "text"])
def test_golden_digest(config: Config, part: str) -> None:
    """The rendered digest of a fixed item set, before personalisation."""
    from pathlib import Path

    from newsletter.digests import build_digest
    from newsletter.mail.personalise import Placeholders
    from tests._golden import check_golden_bytes

    region = config.region("zwickau")
    assert region is not None
    items = [i for i in sample_items() if i.statewide or "zwickau" in i.regions]
    slots = Placeholders("0123456789abcdef" + "0" * 24)
    digest = build_digest(region, items, None, NOW, config, slots)
    body = digest.html if part == "html" else digest.text
    golden = Path(__file__).parent / "data" / "golden" / f"digest-zwickau.{part}"
    check_golden_bytes(body.encode(), golden.with_suffix(".html" if part == "html" else ".txt"))
