"""The bounce job end to end: real SMTP (aiosmtpd), a real Maildir, SQLite and PostgreSQL."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from newsletter.config import Config
from newsletter.context import Context
from newsletter.mail import sending
from newsletter.mail.bounces import UNMATCHED, run_bounce_job
from newsletter.mail.mailboxes import MaildirMailbox, MemoryMailbox
from newsletter.mail.verp import envelope_sender
from newsletter.models import BounceKind, DeliveryStatus
from newsletter.store import bounces as bounce_store
from newsletter.store import subscribers as subscriber_store
from newsletter.store.db import transaction, utcnow
from newsletter.subscriptions import privacy
from tests.bounce_samples import sample
from tests.conftest import PG_ENV, _truncate
from tests.delivery_helpers import add_subscriber, deliveries, smtp_settings
from tests.feedfixtures import sample_items, store_items
from tests.livesrv import free_port

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
A, B = "a@gemeinde-zwickau.example", "b@plauen.example"


@dataclass
class EnvelopeSink:
    """An SMTP server that keeps MAIL FROM, RCPT TO and the message."""

    received: list[tuple[str, str, bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for rcpt in envelope.rcpt_tos:
            self.received.append((envelope.mail_from, rcpt, bytes(envelope.original_content)))
        return "250 2.0.0 queued"

    def to(self, address: str) -> tuple[str, str]:
        """(MAIL FROM, Message-ID) of the last message to ``address``."""
        mail_from, _, data = [r for r in self.received if r[1] == address][-1]
        message = email.message_from_bytes(data, policy=email.policy.default)
        return mail_from, str(message["Message-ID"])


@pytest.fixture
def sink() -> EnvelopeSink:
    return EnvelopeSink()


@pytest.fixture
def smtp_port(sink: EnvelopeSink) -> Iterator[int]:
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield port
    controller.stop()


def _config(
    make_config: Callable[..., Config],
    tmp_path: Path,
    port: int,
    database_url: str | None = None,
    **bounces: Any,
) -> Config:
    return make_config(
        database_url,
        mail=smtp_settings(port),
        bounces={"verp": True, "mailbox": "maildir", "maildir": str(tmp_path / "bounces")}
        | bounces,
    )


@pytest.fixture(params=["sqlite", "postgres"])
def bctx(
    request: pytest.FixtureRequest,
    make_config: Callable[..., Config],
    tmp_path: Path,
    smtp_port: int,
    postgres_url: str | None,
) -> Iterator[Context]:
    """A service sending to the sink with VERP, on SQLite and (when configured) PostgreSQL."""
    url = None
    if request.param == "postgres":
        if postgres_url is None:
            pytest.skip(f"{PG_ENV} not set")
        url = postgres_url
    ctx = Context(_config(make_config, tmp_path, smtp_port, url))
    ctx.init_db()
    if url is not None:
        _truncate(ctx)
    store_items(ctx, sample_items())
    yield ctx
    ctx.close()


def _drop(ctx: Context, name: str, data: bytes) -> Path:
    """Deliver ``data`` into the bounce Maildir as an MDA does (tmp/, then new/)."""
    root = ctx.config.path(ctx.config.bounces.maildir)
    for sub in ("tmp", "new", "cur"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "tmp" / name).write_bytes(data)
    (root / "tmp" / name).rename(root / "new" / name)
    return root


def _bounce_for(sink: EnvelopeSink, address: str, sample_name: str, **fill: str) -> bytes:
    verp, message_id = sink.to(address)
    values = {"verp": verp, "recipient": address, "message_id": message_id} | fill
    return sample(sample_name, **values)


def _subscriber(ctx: Context, address: str) -> Any:
    with transaction(ctx.engine) as conn:
        found = subscriber_store.find_by_email(conn, address)
    assert found is not None
    return found


def test_a_dsn_for_one_recipient_suspends_it_and_the_next_digest_skips_it(
    bctx: Context, sink: EnvelopeSink
) -> None:
    add_subscriber(bctx, A, {"zwickau": "confirmed"})
    add_subscriber(bctx, B, {"zwickau": "confirmed"})
    assert sending.send_region(bctx, "zwickau", now=NOW).recipients == 2
    senders = {sink.to(A)[0], sink.to(B)[0]}
    assert len(senders) == 2 and all(s.startswith("bounces+") for s in senders)

    root = _drop(bctx, "1795680847.M1P1.mx", _bounce_for(sink, A, "postfix-user-unknown.eml"))
    stats = run_bounce_job(bctx)

    assert stats is not None and (stats.read, stats.hard, stats.suspended) == (1, 1, 1)
    assert _subscriber(bctx, A).suspended and not _subscriber(bctx, B).suspended
    assert [p.name for p in (root / "cur").iterdir()] == ["1795680847.M1P1.mx:2,S"]
    row = next(d for d in deliveries(bctx) if d.address == A)
    assert row.status is DeliveryStatus.FAILED and "5.1.1" in (row.last_reply or "")
    with transaction(bctx.engine) as conn:
        (bounce,) = bounce_store.of_address(conn, A)
    assert (bounce.kind, bounce.status) == (BounceKind.HARD, "5.1.1")
    assert "Adresse gesperrt" in bounce.action and "User unknown" in bounce.raw

    later = NOW + timedelta(days=7)
    fresh = replace(sample_items()[1], id="item99", collected_at=later - timedelta(hours=1))
    store_items(bctx, [fresh])
    before = len(sink.received)
    assert sending.send_region(bctx, "zwickau", now=later).recipients == 1
    assert [r[1] for r in sink.received[before:]] == [B]


def test_reading_the_same_bounce_twice_records_it_once(bctx: Context, sink: EnvelopeSink) -> None:
    add_subscriber(bctx, A, {"zwickau": "confirmed"})
    sending.send_region(bctx, "zwickau", now=NOW)
    data = _bounce_for(sink, A, "gmail-over-quota.eml")
    box = MemoryMailbox([("one", data), ("two", data)])
    stats = run_bounce_job(bctx, box)
    assert stats is not None and (stats.soft, stats.ignored) == (1, 1)
    assert box.flags == {"one": True, "two": True}


def test_soft_bounces_suspend_after_n_deliveries_in_a_row(
    bctx: Context, sink: EnvelopeSink
) -> None:
    ctx = bctx
    config = ctx.config.bounces.model_copy(update={"soft_suspend_after": 2})
    ctx.config = ctx.config.model_copy(update={"bounces": config})
    sid = add_subscriber(ctx, A, {"zwickau": "confirmed"})
    for week, suspended in enumerate([False, True, None, False]):
        moment = NOW + timedelta(days=7 * week)
        if suspended is None:  # confirmed again: the run starts afresh
            with transaction(ctx.engine) as conn:
                subscriber_store.set_status(conn, sid, ["zwickau"], "confirmed", utcnow())
                subscriber_store.clear_suspension(conn, sid)
            continue
        item = replace(sample_items()[1], id=f"w{week}", collected_at=moment - timedelta(hours=1))
        store_items(ctx, [item])
        assert sending.send_region(ctx, "zwickau", now=moment).recipients == 1
        box = MemoryMailbox([(f"w{week}", _bounce_for(sink, A, "postfix-mailbox-full.eml"))])
        stats = run_bounce_job(ctx, box)
        assert stats is not None and stats.soft == 1
        assert _subscriber(ctx, A).suspended is suspended


def test_a_complaint_unsubscribes_from_everything_with_a_consent_record(
    bctx: Context, sink: EnvelopeSink
) -> None:
    add_subscriber(bctx, A, {"zwickau": "confirmed", "dresden": "confirmed"})
    sending.send_region(bctx, "zwickau", now=NOW)
    box = MemoryMailbox([("arf", _bounce_for(sink, A, "arf-redacted.eml"))])
    stats = run_bounce_job(bctx, box)
    assert stats is not None and (stats.complaints, stats.unsubscribed) == (1, 1)
    subscriber = _subscriber(bctx, A)
    assert set(subscriber.subscriptions.values()) == {"unsubscribed"}
    events = privacy.consent_record(bctx, A)
    complaint = [e for e in events if e.event == "complaint"]
    assert complaint and sorted(complaint[0].regions) == ["dresden", "zwickau"]
    assert "ARF" in complaint[0].detail["note"]


def test_without_verp_the_message_id_finds_the_delivery(
    make_config: Callable[..., Config], tmp_path: Path, smtp_port: int, sink: EnvelopeSink
) -> None:
    ctx = Context(_config(make_config, tmp_path, smtp_port, verp=False))
    ctx.init_db()
    try:
        store_items(ctx, sample_items())
        add_subscriber(ctx, A, {"zwickau": "confirmed"})
        sending.send_region(ctx, "zwickau", now=NOW)
        assert sink.to(A)[0] == "newsletter@example.org"
        box = MemoryMailbox([("m", _bounce_for(sink, A, "m365-recipient-not-found.eml"))])
        stats = run_bounce_job(ctx, box)
        assert stats is not None and stats.suspended == 1
    finally:
        ctx.close()


def test_a_forged_bounce_suspends_nobody(bctx: Context, sink: EnvelopeSink) -> None:
    add_subscriber(bctx, A, {"zwickau": "confirmed"})
    sending.send_region(bctx, "zwickau", now=NOW)
    verp, _ = sink.to(A)
    forged = verp[: verp.index("-") + 1] + "0" * 16 + verp[verp.index("@") :]
    data = _bounce_for(sink, A, "exim-user-unknown.eml", verp=forged, message_id="<x@y.example>")
    stats = run_bounce_job(bctx, MemoryMailbox([("f", data)]))
    assert stats is not None and (stats.unmatched, stats.suspended) == (1, 0)
    assert not _subscriber(bctx, A).suspended
    with transaction(bctx.engine) as conn:
        (bounce,) = bounce_store.of_address(conn, A)
    assert bounce.subscriber_id is None and bounce.action == UNMATCHED


def test_auto_replies_are_ignored_and_unknown_mail_is_flagged(
    bctx: Context, sink: EnvelopeSink
) -> None:
    add_subscriber(bctx, A, {"zwickau": "confirmed"})
    sending.send_region(bctx, "zwickau", now=NOW)
    _drop(bctx, "1.ooo", _bounce_for(sink, A, "autoreply-outlook.eml"))
    _drop(bctx, "2.delay", _bounce_for(sink, A, "postfix-delayed.eml"))
    root = _drop(bctx, "3.human", _bounce_for(sink, A, "human-reply.eml"))
    stats = run_bounce_job(bctx)
    assert stats is not None and (stats.ignored, stats.unrecognised) == (2, 1)
    assert sorted(p.name for p in (root / "cur").iterdir()) == [
        "1.ooo:2,S",
        "2.delay:2,S",
        "3.human:2,FS",
    ]
    assert not _subscriber(bctx, A).suspended
    assert run_bounce_job(bctx) == replace(stats, read=0, ignored=0, unrecognised=0)


def test_a_message_left_halfway_is_taken_again(tmp_path: Path) -> None:
    box = MaildirMailbox(tmp_path / "b", 1000)
    (tmp_path / "b" / "cur" / "7.x:2,").write_bytes(b"Subject: x\n\n" + b"y" * 5000)
    (tmp_path / "b" / "new" / "8.x").write_bytes(b"Subject: z\n\nz")
    taken = list(box.messages(10))
    assert [k for k, _ in taken] == ["7.x:2,", "8.x:2,"]
    assert len(taken[0][1]) == 1000  # read up to the cap only


def test_the_envelope_sender_follows_the_config(make_config: Callable[..., Config]) -> None:
    plain = make_config(mail={"envelope_from": "return@example.org"})
    assert envelope_sender(plain, "s" * 32, 5) == "return@example.org"
    verp = make_config(
        bounces={"verp": True, "verp_local": "nl-bounce", "verp_domain": "b.example"}
    )
    address = envelope_sender(verp, "s" * 32, 5)
    assert address.startswith("nl-bounce+5-") and address.endswith("@b.example")


def test_the_scheduler_runs_the_bounce_job_only_with_a_mailbox(
    make_config: Callable[..., Config],
) -> None:
    from newsletter.scheduler import job_specs

    assert "bounces" not in [s.id for s in job_specs(make_config())]
    config = make_config(bounces={"mailbox": "maildir", "interval_minutes": 7})
    (spec,) = [s for s in job_specs(config) if s.id == "bounces"]
    assert spec.trigger.interval == timedelta(minutes=7)  # type: ignore[attr-defined]


async def test_the_scheduled_job_reads_the_maildir(bctx: Context, sink: EnvelopeSink) -> None:
    from newsletter.scheduler import ServiceJobs, build_scheduler

    add_subscriber(bctx, A, {"zwickau": "confirmed"})
    sending.send_region(bctx, "zwickau", now=NOW)
    _drop(bctx, "1.bounce", _bounce_for(sink, A, "gmail-user-unknown.eml"))
    scheduler = build_scheduler(bctx, ServiceJobs(bctx))
    job = scheduler.get_job("bounces")
    assert job is not None and job.name == "Rückläufer verarbeiten"
    await job.func(*job.args)
    assert _subscriber(bctx, A).suspended


# --- IMAP over TLS ----------------------------------------------------------------------


def _imap_config(ctx: Context, port: int, **imap: Any) -> Config:
    values = {
        "mailbox": "imap",
        "imap_host": "127.0.0.1",
        "imap_port": port,
        "imap_username": "bounces",
        "imap_password": "geheim-und-lang",
    } | imap
    bounces = ctx.config.bounces.model_copy(update=values)
    return ctx.config.model_copy(update={"bounces": bounces})


def test_bounces_are_read_from_an_imap_folder_over_tls(
    bctx: Context, sink: EnvelopeSink, tmp_path: Path
) -> None:
    import ssl

    from newsletter.mail.mailboxes import ImapMailbox
    from tests.imapsrv import Folder, imap_server

    add_subscriber(bctx, A, {"zwickau": "confirmed"})
    add_subscriber(bctx, B, {"zwickau": "confirmed"})
    sending.send_region(bctx, "zwickau", now=NOW)
    folder = Folder()
    hard = folder.add(_bounce_for(sink, A, "m365-recipient-not-found.eml"))
    human = folder.add(_bounce_for(sink, B, "human-reply.eml"))
    with imap_server(folder, tmp_path) as (port, cert):
        trusted = ssl.create_default_context(cafile=str(cert))
        box = ImapMailbox(_imap_config(bctx, port), context=trusted)
        try:
            stats = run_bounce_job(bctx, box)
            again = run_bounce_job(bctx, box)
        finally:
            box.close()
    assert stats is not None and (stats.read, stats.hard, stats.unrecognised) == (2, 1, 1)
    assert again is not None and again.read == 0  # both are \Seen now
    assert folder.flags == {hard: {"\\Seen"}, human: {"\\Seen", "\\Flagged"}}
    assert all(
        f"BODY.PEEK[]<0.{bctx.config.bounces.max_message_bytes}>" in f for f in folder.fetched
    )
    assert _subscriber(bctx, A).suspended and not _subscriber(bctx, B).suspended


def test_an_imap_server_with_an_untrusted_certificate_or_wrong_password_is_refused(
    ctx: Context, tmp_path: Path
) -> None:
    import ssl

    from newsletter.errors import MailboxError
    from newsletter.mail.mailboxes import ImapMailbox
    from tests.imapsrv import Folder, imap_server

    with imap_server(Folder(), tmp_path) as (port, cert):
        with pytest.raises(MailboxError, match="nicht erreichbar"):
            ImapMailbox(_imap_config(ctx, port))  # the system's CAs do not know it
        wrong = _imap_config(ctx, port, imap_password="falsch")
        with pytest.raises(MailboxError, match="Anmeldung"):
            ImapMailbox(wrong, context=ssl.create_default_context(cafile=str(cert)))


def test_nul_and_escape_bytes_in_a_bounce_are_stored(bctx: Context, sink: EnvelopeSink) -> None:
    add_subscriber(bctx, A, {"zwickau": "confirmed"})
    sending.send_region(bctx, "zwickau", now=NOW)
    data = _bounce_for(sink, A, "postfix-user-unknown.eml")
    data = data.replace(b"User unknown in", b"User\x00 \x1b[2J unknown in")
    stats = run_bounce_job(bctx, MemoryMailbox([("nul", data)]))
    assert stats is not None and stats.hard == 1
    with transaction(bctx.engine) as conn:
        (bounce,) = bounce_store.of_address(conn, A)
    assert "\x00" not in bounce.raw and "User\\x00" in bounce.raw


def test_an_unreadable_maildir_ends_the_run_as_an_error(
    make_config: Callable[..., Config], tmp_path: Path, smtp_port: int
) -> None:
    from newsletter.errors import MailboxError

    blocker = tmp_path / "bounces"
    blocker.write_text("a file where the Maildir should be")
    ctx = Context(_config(make_config, tmp_path, smtp_port))
    ctx.init_db()
    try:
        with pytest.raises(MailboxError, match="Rückläufer-Maildir"):
            run_bounce_job(ctx)
        from sqlalchemy import select

        from newsletter.store.schema import job_runs

        with transaction(ctx.engine) as conn:
            status, detail = conn.execute(select(job_runs.c.status, job_runs.c.detail)).one()
        assert status == "error" and "Rückläufer-Maildir" in detail["error"]
    finally:
        ctx.close()


def test_a_message_the_database_refuses_is_flagged_and_the_rest_go_on(
    bctx: Context, sink: EnvelopeSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fault injection: the first message's row is refused as data (as PostgreSQL refuses
    a value), the second is stored; a store that is down stops the run instead."""
    from sqlalchemy.exc import DataError, OperationalError

    from newsletter.errors import StoreError

    add_subscriber(bctx, A, {"zwickau": "confirmed"})
    add_subscriber(bctx, B, {"zwickau": "confirmed"})
    sending.send_region(bctx, "zwickau", now=NOW)
    real = bounce_store.record
    refused: list[str] = []

    def record(conn: Any, **values: Any) -> int:
        if values["address"] == A:
            refused.append(A)
            cause = DataError("INSERT", {}, Exception("invalid byte sequence"))
            raise StoreError("Datenbankfehler: DataError") from cause
        return real(conn, **values)

    monkeypatch.setattr(bounce_store, "record", record)
    box = MemoryMailbox(
        [
            ("a", _bounce_for(sink, A, "postfix-user-unknown.eml")),
            ("b", _bounce_for(sink, B, "postfix-user-unknown.eml")),
        ]
    )
    stats = run_bounce_job(bctx, box)
    assert stats is not None and (stats.unrecognised, stats.hard) == (1, 1)
    assert box.flags == {"a": False, "b": True} and refused == [A]
    assert _subscriber(bctx, B).suspended and not _subscriber(bctx, A).suspended

    def down(conn: Any, **values: Any) -> int:
        raise StoreError("Datenbank nicht erreichbar") from OperationalError("x", {}, Exception())

    monkeypatch.setattr(bounce_store, "record", down)
    box = MemoryMailbox([("c", _bounce_for(sink, A, "gmail-user-unknown.eml"))])
    with pytest.raises(StoreError):
        run_bounce_job(bctx, box)
    assert box.flags == {}  # left for the next run


def test_an_address_s_bounces_are_in_its_export_and_gone_after_forget(
    bctx: Context, sink: EnvelopeSink
) -> None:
    add_subscriber(bctx, A, {"zwickau": "confirmed"})
    sending.send_region(bctx, "zwickau", now=NOW)
    hard = _bounce_for(sink, A, "postfix-user-unknown.eml")
    unmatched = _bounce_for(
        sink, A, "qmail-no-mailbox.eml", verp="x@example.org", message_id="<a@b>"
    )
    run_bounce_job(bctx, MemoryMailbox([("h", hard), ("u", unmatched)]))
    exported = privacy.personal_data(bctx, A)["bounces"]
    assert sorted(b["kind"] for b in exported) == ["hard", "hard"]
    assert any("User unknown" in b["message"] for b in exported)
    assert privacy.forget(bctx, A, actor="test")
    late = _bounce_for(sink, A, "exim-user-unknown.eml", verp="x@example.org", message_id="<c@d>")
    stats = run_bounce_job(bctx, MemoryMailbox([("late", late)]))
    assert stats is not None and stats.ignored == 1  # not stored again after erasure
    with transaction(bctx.engine) as conn:
        assert bounce_store.of_address(conn, A) == []
