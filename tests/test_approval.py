"""Approval (``schedule.approval = "manual"``) against a real SMTP server (aiosmtpd):
the slot drafts every region of its group and mails the admins once, no subscriber gets
anything before an admin presses »Freigeben und senden«, then the slot is sent the combined
way: each subscriber once per slot (one mail for several regions, or one per region for who
chose so); the audit log names the admin; a draft left alone is covered by the next slot's
draft."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from newsletter.config import Config, load_config
from newsletter.context import Context
from newsletter.errors import NotFoundError
from newsletter.mail import approval, sending
from newsletter.models import Draft, DraftStatus
from newsletter.scheduler import ServiceJobs, slot_group
from newsletter.store import drafts as draft_store
from newsletter.store import subscribers as subscriber_store
from newsletter.store.db import transaction, utcnow
from newsletter.store.schema import audit_log
from tests._admin import EMAIL, admin_client, csrf
from tests.delivery_helpers import (
    Sink,
    add_subscriber,
    deliveries,
    drain_until_done,
    finish_with_workers,
    smtp_sink,
)
from tests.feedfixtures import sample_items, store_items

SUBSCRIBERS = ("rathaus@plauen.example", "ordnungsamt@zwickau.example")
COMBINED = "lpr@sachsen.example"  # zwickau, dresden, ostsachsen: one mail per slot
PER_REGION = "pd@grenze.example"  # zwickau and dresden, »eine E-Mail je Region«
DRESDEN = "presse@dresden.example"
ALL = ("leipzig-nordsachsen", "chemnitz", "ostsachsen", "zwickau", "dresden")


@pytest.fixture
def sink() -> Sink:
    return Sink()


@pytest.fixture
def manual(make_config: Callable[..., Config], sink: Sink) -> Iterator[Context]:
    """Manual approval, sending to aiosmtpd on loopback; items, subscribers (single-region,
    combined and per-region), admin anna."""
    with smtp_sink(sink) as port:
        mail = {"transport": "smtp", "smtp_host": "127.0.0.1", "smtp_port": port}
        mail |= {"smtp_tls": "none", "rate_per_second": 1000.0, "retry_base_seconds": 0.001}
        ctx = Context(make_config(mail=mail, schedule={"approval": "manual"}))
        ctx.init_db()
        store_items(ctx, sample_items())
        for address in SUBSCRIBERS:
            add_subscriber(ctx, address, {"zwickau": "confirmed"})
        add_subscriber(ctx, DRESDEN, {"dresden": "confirmed"})
        three = ("zwickau", "dresden", "ostsachsen")
        add_subscriber(ctx, COMBINED, dict.fromkeys(three, "confirmed"))
        separate = add_subscriber(ctx, PER_REGION, dict.fromkeys(three[:2], "confirmed"))
        with transaction(ctx.engine) as conn:
            subscriber_store.set_per_region(conn, separate, True)
        try:
            yield ctx
        finally:
            ctx.close()


def _received(sink: Sink) -> Counter[str]:
    return Counter(rcpt for rcpts, _ in sink.messages for rcpt in rcpts)


def _subjects(sink: Sink) -> list[str]:
    return [m["subject"] for m in sink.parsed().values()]


def _subjects_of(sink: Sink, address: str) -> list[str]:
    import email
    import email.policy

    found = []
    for rcpts, data in sink.messages:
        if address in rcpts:
            found.append(
                str(email.message_from_bytes(data, policy=email.policy.default)["Subject"])
            )
    return sorted(found)


def _waiting(ctx: Context) -> list[Draft]:
    with transaction(ctx.engine) as conn:
        return draft_store.waiting(conn)


EVERYONE_ONCE = Counter(
    {SUBSCRIBERS[0]: 1, SUBSCRIBERS[1]: 1, DRESDEN: 1, COMBINED: 1, PER_REGION: 2}
)


def test_nothing_goes_out_before_approval_then_each_subscriber_once(
    manual: Context, sink: Sink
) -> None:
    browser = admin_client(manual)  # anna, with her address
    jobs = ServiceJobs(manual)
    slot = utcnow()
    assert jobs.send_digest("zwickau", slot) == DraftStatus.DRAFTED  # the slot's five regions
    assert jobs.send_digest("zwickau", slot) == DraftStatus.ALREADY_DRAFTED  # a restart
    assert jobs.send_digest("dresden", slot) == DraftStatus.ALREADY_DRAFTED  # its own job
    drain_until_done(manual)
    assert _received(sink) == Counter({EMAIL: 1})  # only the admin: one review link a slot
    notice = sink.parsed()[EMAIL]
    assert notice["subject"] == (
        "Freigabe erbeten: Newsletter Leipzig/Nordsachsen, Chemnitz, Ostsachsen, Zwickau und Dresden"
    )
    text = notice.get_body(("plain",)).get_content()
    assert "Eine Freigabe sendet alle zusammen" in text
    assert "http://127.0.0.1:8000/admin/newsletter" in text.splitlines()
    assert "http://127.0.0.1:8000/admin/redaktion/alle" in text
    assert "Zwickau: ASSKomm-Nachrichten Zwickau – 2 neue Meldungen" in text
    drafts = _waiting(manual)
    assert sorted(d.region for d in drafts) == sorted(ALL)
    assert [d.kind for d in deliveries(manual)] == ["approval"]

    dashboard = browser.get("/admin").text
    assert "Entwürfe zur Freigabe" in dashboard and "seit 1 Minute" in dashboard
    assert dashboard.count("/freigeben") == 1, "one »Freigeben und senden« for the slot"
    assert "alle 5 Regionen dieses Termins" in dashboard
    region_page = browser.get("/admin/newsletter/zwickau").text
    assert region_page.count("/freigeben") == 1 and "Freigeben und senden" in region_page

    token = csrf(browser, "/admin")
    dresden = next(d for d in drafts if d.region == "dresden")  # any draft of the slot
    answer = browser.post(
        f"/admin/newsletter/entwurf/{dresden.id}/freigeben", data={"csrf_token": token}
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/admin/newsletter"
    drain_until_done(manual)
    assert _received(sink) == EVERYONE_ONCE + Counter({EMAIL: 1})
    (combined,) = _subjects_of(sink, COMBINED)
    assert combined.startswith("ASSKomm-Nachrichten – 3 Regionen, 4 neue Meldungen (KW ")
    per_region = _subjects_of(sink, PER_REGION)
    assert [s.split(" – ")[0] for s in per_region] == [
        "ASSKomm-Nachrichten Dresden",
        "ASSKomm-Nachrichten Zwickau",
    ]
    assert not any(s.startswith("[TEST]") for s in _subjects(sink))
    with manual.engine.connect() as conn:
        rows = conn.execute(select(audit_log).where(audit_log.c.action == "digest.approve"))
        (entry,) = list(rows)
    assert (entry.actor, entry.target) == ("anna", "+".join(ALL))
    assert entry.detail["regions"] == list(ALL)
    assert entry.detail["mails"] == 6  # one combined, two per-region, three single-region
    assert "hat die Entwürfe der Newsletter" in browser.get("/admin/protokoll").text

    for draft in drafts:  # every draft of the slot is gone: nothing is sent twice
        again = browser.post(
            f"/admin/newsletter/entwurf/{draft.id}/freigeben", data={"csrf_token": token}
        )
        assert again.status_code == 404
    assert jobs.send_digest("zwickau", slot) == DraftStatus.NOTHING_NEW  # the slot is covered
    drain_until_done(manual)
    assert _received(sink) == EVERYONE_ONCE + Counter({EMAIL: 1})
    assert "Zeitplan" in browser.get("/admin/newsletter").text


def test_a_draft_left_alone_is_covered_by_the_next_slot(manual: Context, sink: Sink) -> None:
    first_slot = datetime(2026, 11, 20, 12, tzinfo=UTC)  # item02 and item03 collected
    drafted = approval.draft_slot(manual, ALL, first_slot)
    assert drafted["zwickau"] == DraftStatus.DRAFTED
    late = replace(sample_items()[1], id="late", collected_at=datetime(2026, 11, 24, tzinfo=UTC))
    store_items(manual, [late])
    second_slot = datetime(2026, 11, 26, 8, tzinfo=UTC)
    assert set(approval.draft_slot(manual, ALL, second_slot).values()) == {DraftStatus.DRAFTED}
    waiting = _waiting(manual)
    assert {d.period_end for d in waiting} == {second_slot}, "the older drafts are dropped"
    zwickau = next(d for d in waiting if d.region == "zwickau")
    assert (zwickau.period_start, zwickau.items) == (None, 3)

    result = approval.approve(manual, zwickau.id, "anna")
    assert result.queued and result.regions == ALL and result.mails == 6
    drain_until_done(manual)
    assert _received(sink) == EVERYONE_ONCE
    body = sink.parsed()[SUBSCRIBERS[0]].get_body(("plain",)).get_content()
    assert re.search(r"/newsletter/zwickau/2026-11-26T080000Z", body)
    combined = sink.parsed()[COMBINED].get_body(("plain",)).get_content()
    for region in ("zwickau", "dresden", "ostsachsen"):  # the archive page of each region
        assert f"/newsletter/{region}/2026-11-26T080000Z" in combined
    assert _waiting(manual) == []


def test_a_region_sent_by_hand_meanwhile_leaves_the_rest_of_the_slot(
    manual: Context, sink: Sink
) -> None:
    """»Jetzt senden« for Dresden while the slot waits: Dresden's mail goes to all of its
    subscribers at once; the approval then sends the other regions, combined where a
    subscriber still has several of them."""
    slot = datetime(2026, 11, 26, 8, tzinfo=UTC)
    approval.draft_slot(manual, ALL, slot)
    sending.send_region(manual, "dresden", now=slot + timedelta(hours=1), triggered_by="admin:anna")
    assert "dresden" not in {d.region for d in _waiting(manual)}
    first = _waiting(manual)[0]
    result = approval.approve(manual, first.id, "anna")
    assert result.regions == ("leipzig-nordsachsen", "chemnitz", "ostsachsen", "zwickau")
    drain_until_done(manual)
    assert _received(sink) == Counter(
        {SUBSCRIBERS[0]: 1, SUBSCRIBERS[1]: 1, DRESDEN: 1, COMBINED: 2, PER_REGION: 2}
    )
    combined = _subjects_of(sink, COMBINED)
    assert combined[0].startswith("ASSKomm-Nachrichten Dresden"), combined
    assert combined[1].startswith("ASSKomm-Nachrichten – 2 Regionen"), combined
    assert _waiting(manual) == []


def test_approving_a_slot_twice_sends_nothing_more(manual: Context, sink: Sink) -> None:
    slot = datetime(2026, 11, 26, 8, tzinfo=UTC)
    approval.draft_slot(manual, ALL, slot)
    drafts = _waiting(manual)
    approval.approve(manual, drafts[0].id, "anna")
    with pytest.raises(NotFoundError):
        approval.approve(manual, drafts[-1].id, "bernd")
    drain_until_done(manual)
    assert _received(sink) == EVERYONE_ONCE


def test_the_approved_slot_has_the_editors_word_of_now_in_mail_and_archive(
    manual: Context, sink: Sink
) -> None:
    from newsletter import editor
    from newsletter.models import ALL_REGIONS
    from tests._admin import app_client

    slot = datetime(2026, 11, 26, 8, tzinfo=UTC)
    approval.draft_slot(manual, ALL, slot)
    editor.save(manual, ALL_REGIONS, "Ein **Wort** nach dem Entwurf.", actor="anna")
    approval.approve(manual, _waiting(manual)[0].id, "anna")
    drain_until_done(manual)
    html = sink.parsed()[COMBINED].get_body(("html",)).get_content()
    assert html.count("nach dem Entwurf") == 1 and "<strong>Wort</strong>" in html
    page = app_client(manual).get("/newsletter/zwickau/2026-11-26T080000Z")
    assert page.status_code == 200 and "<strong>Wort</strong> nach dem Entwurf" in page.text
    assert COMBINED not in page.text


def test_regions_on_other_crons_are_other_slots(make_config: Callable[..., Config]) -> None:
    config = make_config(
        schedule={"approval": "manual"},
        regions=[
            {"key": "zwickau", "name": "Zwickau", "districts": ["14524"]},
            {
                "key": "dresden",
                "name": "Dresden",
                "districts": ["14612"],
                "digest_cron": "0 7 * * 1",
            },
            {"key": "ostsachsen", "name": "Ostsachsen", "districts": ["14625"]},
        ],
    )
    end = datetime(2026, 11, 26, 8, tzinfo=UTC)
    made = datetime(2026, 11, 26, 8, 1, tzinfo=UTC)

    def draft(n: int, region: str, period_end: datetime = end) -> Draft:
        return Draft(n, region, None, period_end, f"Betreff {n}", 1, "schedule", made)

    found = approval.slots(
        config,
        [draft(1, "ostsachsen"), draft(2, "dresden"), draft(3, "zwickau"),
         draft(4, "zwickau", end + timedelta(days=7))],
    )  # fmt: skip
    assert [s.regions for s in found] == [("zwickau", "ostsachsen"), ("dresden",), ("zwickau",)]
    assert [s.id for s in found] == [3, 2, 4]
    assert slot_group(config, "dresden") == ("dresden",)


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
    drafted = approval.draft_slot(manual, ALL, datetime(2026, 11, 20, 12, tzinfo=UTC))
    assert drafted["zwickau"] == DraftStatus.DRAFTED
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
    from newsletter.errors import ConfigError

    path = tmp_path / "config.toml"
    path.write_text('[schedule]\napproval = "sometimes"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(path, environ={})
    assert "schedule.approval" in str(raised.value)
    assert "hat einen unzulässigen Wert (erlaubt: 'auto' or 'manual')" in str(raised.value)


@pytest.mark.slow
def test_kill_9_mid_approved_send_then_the_worker_one_mail_per_slot(tmp_path: Path) -> None:
    """``newsletter digest approve`` killed while sending a combined slot; approving again
    adds nothing; the worker finishes: each subscriber exactly one mail per slot (one per
    region for »eine E-Mail je Region«)."""
    import email
    import email.policy

    from tests.livesrv import run_cli, write_config
    from tests.test_combined_crash import SUBSCRIBERS as PEOPLE
    from tests.test_combined_crash import kill_mid_send, regions_of, seed

    sink = Sink()
    with smtp_sink(sink) as port:
        mail = {"transport": "smtp", "smtp_host": "127.0.0.1", "smtp_port": port}
        mail |= {"smtp_tls": "none", "rate_per_second": 400.0, "batch_size": 20}
        config_path = write_config(
            tmp_path, mail=mail | {"lease_seconds": 10}, schedule={"approval": "manual"}
        )
        ctx = Context(load_config(config_path, environ={}))
        ctx.init_db()
        try:
            seed(ctx)
            approval.draft_slot(ctx, ALL, utcnow())
            assert sink.messages == []  # no admin has an address; no subscriber yet
            draft = _waiting(ctx)[0]
            killed_at = kill_mid_send(config_path, sink, "digest", "approve", str(draft.id))
            again = run_cli(config_path, "digest", "approve", str(draft.id))
            assert again.returncode != 0 and "gibt es nicht" in again.stderr
            finish_with_workers(config_path, ctx, 90)
        finally:
            ctx.close()
    ids: dict[str, set[str]] = {}
    for rcpts, data in sink.messages:
        message = email.message_from_bytes(data, policy=email.policy.default)
        ids.setdefault(rcpts[0], set()).add(str(message["Message-ID"]))
    expected = {
        f"p{n:03d}@example.org": len(regions_of(n)[0]) if regions_of(n)[1] else 1
        for n in range(PEOPLE)
    }
    assert killed_at < sum(expected.values()), "the send finished before it could be killed"
    assert {address: len(found) for address, found in ids.items()} == expected
