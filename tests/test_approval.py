"""Approval (``schedule.approval = "manual"``) against a real SMTP server (aiosmtpd):
the slot drafts and mails the admins, no subscriber gets anything before an admin presses
»Freigeben und senden«, then each gets the digest once; the audit log names the admin; a
draft left alone is covered by the next slot's draft."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from newsletter.config import Config
from newsletter.context import Context
from newsletter.mail import approval
from newsletter.models import DraftStatus
from newsletter.scheduler import ServiceJobs
from newsletter.store import drafts as draft_store
from newsletter.store.db import transaction, utcnow
from newsletter.store.schema import audit_log
from tests._admin import EMAIL, admin_client, csrf
from tests.delivery_helpers import Sink, add_subscriber, deliveries, drain_until_done, smtp_sink
from tests.feedfixtures import sample_items, store_items

SUBSCRIBERS = ("rathaus@plauen.example", "ordnungsamt@zwickau.example")


@pytest.fixture
def sink() -> Sink:
    return Sink()


@pytest.fixture
def manual(make_config: Callable[..., Config], sink: Sink) -> Iterator[Context]:
    """Manual approval, sending to aiosmtpd on loopback; items, subscribers, admin anna."""
    with smtp_sink(sink) as port:
        mail = {"transport": "smtp", "smtp_host": "127.0.0.1", "smtp_port": port}
        mail |= {"smtp_tls": "none", "rate_per_second": 1000.0, "retry_base_seconds": 0.001}
        ctx = Context(make_config(mail=mail, schedule={"approval": "manual"}))
        ctx.init_db()
        store_items(ctx, sample_items())
        for address in SUBSCRIBERS:
            add_subscriber(ctx, address, {"zwickau": "confirmed"})
        add_subscriber(ctx, "presse@dresden.example", {"dresden": "confirmed"})
        try:
            yield ctx
        finally:
            ctx.close()


def _received(sink: Sink) -> Counter[str]:
    return Counter(rcpt for rcpts, _ in sink.messages for rcpt in rcpts)


def _subjects(sink: Sink) -> list[str]:
    return [m["subject"] for m in sink.parsed().values()]


def test_nothing_goes_out_before_approval_then_each_subscriber_once(
    manual: Context, sink: Sink
) -> None:
    browser = admin_client(manual)  # anna, with her address
    jobs = ServiceJobs(manual)
    slot = utcnow()
    assert jobs.send_digest("zwickau", slot) == DraftStatus.DRAFTED
    assert jobs.send_digest("zwickau", slot) == DraftStatus.ALREADY_DRAFTED  # a restart
    drain_until_done(manual)
    assert _received(sink) == Counter({EMAIL: 1})  # only the admin: the review link
    notice = sink.parsed()[EMAIL]
    assert notice["subject"] == "Freigabe erbeten: Newsletter Zwickau"
    text = notice.get_body(("plain",)).get_content()
    assert "http://127.0.0.1:8000/admin/newsletter/zwickau" in text
    assert "http://127.0.0.1:8000/admin/redaktion/zwickau" in text
    with transaction(manual.engine) as conn:
        (draft,) = draft_store.waiting(conn)
    assert [d.kind for d in deliveries(manual)] == ["approval"]

    dashboard = browser.get("/admin").text
    assert "Entwürfe zur Freigabe" in dashboard and "seit 1 Minute" in dashboard
    assert "Freigeben und senden" in browser.get("/admin/newsletter/zwickau").text

    token = csrf(browser, "/admin")
    answer = browser.post(
        f"/admin/newsletter/entwurf/{draft.id}/freigeben", data={"csrf_token": token}
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/admin/newsletter/zwickau/fortschritt"
    drain_until_done(manual)
    assert _received(sink) == Counter({EMAIL: 1, SUBSCRIBERS[0]: 1, SUBSCRIBERS[1]: 1})
    assert not any(s.startswith("[TEST]") for s in _subjects(sink))
    with manual.engine.connect() as conn:
        rows = conn.execute(select(audit_log).where(audit_log.c.action == "digest.approve"))
        (entry,) = list(rows)
    assert (entry.actor, entry.target) == ("anna", "zwickau")
    assert entry.detail["recipients"] == 2

    again = browser.post(
        f"/admin/newsletter/entwurf/{draft.id}/freigeben", data={"csrf_token": token}
    )
    assert again.status_code == 404  # the draft is gone: nothing is sent twice
    assert jobs.send_digest("zwickau", slot) == DraftStatus.NOTHING_NEW  # the slot is covered
    drain_until_done(manual)
    assert _received(sink) == Counter({EMAIL: 1, SUBSCRIBERS[0]: 1, SUBSCRIBERS[1]: 1})
    assert "Zeitplan" in browser.get("/admin/newsletter").text


def test_a_draft_left_alone_is_covered_by_the_next_slot(manual: Context, sink: Sink) -> None:
    first_slot = datetime(2026, 11, 20, 12, tzinfo=UTC)  # item02 and item03 collected
    assert approval.draft_slot(manual, "zwickau", first_slot) == DraftStatus.DRAFTED
    late = replace(sample_items()[1], id="late", collected_at=datetime(2026, 11, 24, tzinfo=UTC))
    store_items(manual, [late])
    second_slot = datetime(2026, 11, 26, 8, tzinfo=UTC)
    assert approval.draft_slot(manual, "zwickau", second_slot) == DraftStatus.DRAFTED
    with transaction(manual.engine) as conn:
        waiting = draft_store.waiting(conn)
    assert [(d.period_start, d.period_end, d.items) for d in waiting] == [(None, second_slot, 3)]

    result = approval.approve(manual, waiting[0].id, "anna")
    assert result.status == "queued" and result.items == 3 and result.recipients == 2
    drain_until_done(manual)
    assert _received(sink) == Counter({SUBSCRIBERS[0]: 1, SUBSCRIBERS[1]: 1})
    body = sink.parsed()[SUBSCRIBERS[0]].get_body(("plain",)).get_content()
    assert re.search(r"/newsletter/zwickau/2026-11-26T080000Z", body)
    with transaction(manual.engine) as conn:
        assert draft_store.waiting(conn) == []


def test_auto_mode_sends_at_the_slot(make_config: Callable[..., Config], sink: Sink) -> None:
    with smtp_sink(sink) as port:
        mail = {"transport": "smtp", "smtp_host": "127.0.0.1", "smtp_port": port}
        ctx = Context(make_config(mail=mail | {"smtp_tls": "none"}))
        ctx.init_db()
        try:
            store_items(ctx, sample_items())
            add_subscriber(ctx, SUBSCRIBERS[0], {"zwickau": "confirmed"})
            assert ServiceJobs(ctx).send_digest("zwickau", utcnow()) == "sent"
            assert _received(sink) == Counter({SUBSCRIBERS[0]: 1})
        finally:
            ctx.close()


def test_test_send_is_marked_and_never_counted(manual: Context, sink: Sink) -> None:
    from newsletter.mail import sending

    browser: TestClient = admin_client(manual)
    result = sending.send_region(manual, "zwickau", to=EMAIL, triggered_by="admin:anna")
    assert result.status == "test_sent"
    (subject,) = _subjects(sink)
    assert subject.startswith("[TEST] ASSKomm-Nachrichten Zwickau – 2 neue Meldungen")
    assert deliveries(manual) == []  # not a delivery, not a digest: counted nowhere
    assert "Noch kein Newsletter verschickt." in browser.get("/admin/newsletter").text
    assert "noch kein Newsletter verschickt" in browser.get("/newsletter/zwickau").text


def test_previews_show_the_waiting_drafts_period(manual: Context) -> None:
    browser = admin_client(manual)
    assert approval.draft_slot(manual, "zwickau", datetime(2026, 11, 20, 12, tzinfo=UTC)) == (
        DraftStatus.DRAFTED
    )
    late = replace(sample_items()[1], id="late", title="Später gesammelt", collected_at=utcnow())
    store_items(manual, [late])
    for path in (
        "/admin/newsletter/zwickau",
        "/admin/vorschau/zwickau.html",
        "/admin/redaktion/zwickau",
        "/admin/redaktion/vorschau/zwickau.html",
    ):
        page = browser.get(path).text
        assert "Fahrräder codieren" in page, path
        assert "Später gesammelt" not in page, path  # after the slot: the next period's


def test_a_wrong_approval_mode_stops_start_up_in_german(tmp_path: Path) -> None:
    from newsletter.config import load_config
    from newsletter.errors import ConfigError

    path = tmp_path / "config.toml"
    path.write_text('[schedule]\napproval = "sometimes"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(path, environ={})
    assert "schedule.approval" in str(raised.value)
    assert "hat einen unzulässigen Wert (erlaubt: 'auto' or 'manual')" in str(raised.value)
