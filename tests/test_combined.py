"""One mail for all of a partner's regions that share a schedule slot (issue 16, part 3).

Real aiosmtpd on loopback, a real SQLite file, the real web app for the unsubscribe links.
"""

from __future__ import annotations

import collections
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from newsletter import digests
from newsletter.config import Config, load_config
from newsletter.context import Context
from newsletter.digests import assign, combined_sections
from newsletter.mail import sending
from newsletter.mail.transports import MemoryTransport
from newsletter.models import DigestKind, Region, SendStatus, SlotRecipient, SubscriptionStatus
from newsletter.scheduler import ServiceJobs, slot_group
from newsletter.store import digests as digest_store
from newsletter.store import subscribers as subscriber_store
from newsletter.store.db import transaction
from newsletter.store.schema import audit_log
from newsletter.subscriptions import rules
from newsletter.subscriptions import service as subscriptions
from newsletter.subscriptions.tokens import Purpose
from tests import _admin
from tests.conftest import _truncate
from tests.delivery_helpers import Sink, add_subscriber, deliveries, sending_context, token_for
from tests.feedfixtures import sample_items, store_items
from tests.livesrv import run_cli, write_config

NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)  # Thursday 09:00 in Berlin: a slot
ALL = ("leipzig-nordsachsen", "chemnitz", "ostsachsen", "zwickau", "dresden")


def set_per_region(ctx: Context, sid: int) -> None:
    with transaction(ctx.engine) as conn:
        subscriber_store.set_per_region(conn, sid, True)


def by_recipient(sink: Sink) -> dict[str, list[EmailMessage]]:
    import email
    import email.policy

    out: dict[str, list[EmailMessage]] = collections.defaultdict(list)
    for rcpts, data in sink.messages:
        message = email.message_from_bytes(data, policy=email.policy.default)
        out[rcpts[0]].append(message)  # type: ignore[arg-type]
    return out


def html_of(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def test_sections_put_each_item_once_and_statewide_last() -> None:
    zwickau = Region("zwickau", "Zwickau", ())
    dresden = Region("dresden", "Dresden", ())
    items = sample_items()
    border = items[1].__class__(
        **{**items[1].__dict__, "id": "both", "regions": ("zwickau", "dresden")}
    )
    found = combined_sections([zwickau, dresden], [*items, border])
    assert [s.heading for s in found] == ["Aus Zwickau", "Aus Dresden", "Sachsen (landesweit)"]
    ids = [i.id for s in found for i in s.items]
    assert len(ids) == len(set(ids)), "an item of two regions is shown once"
    assert "both" in [i.id for i in found[0].items]


def test_assign_gives_every_subscriber_each_region_once() -> None:
    order = ("zwickau", "dresden", "ostsachsen")
    people = [
        SlotRecipient(1, "a@x", False, ("zwickau", "dresden", "ostsachsen")),
        SlotRecipient(2, "b@x", True, ("zwickau", "dresden")),
        SlotRecipient(3, "c@x", False, ("zwickau",)),
        SlotRecipient(4, "d@x", False, ("dresden", "chemnitz")),  # chemnitz has no digest
    ]
    plan = assign(people, order, {"zwickau", "dresden", "ostsachsen"})
    assert {k: [p.subscriber_id for p in v] for k, v in plan.items()} == {
        "zwickau+dresden+ostsachsen": [1],
        "zwickau": [2, 3],
        "dresden": [2, 4],
    }


def test_combined_and_per_region_subscribers_in_one_send(
    make_config: Callable[..., Config],
) -> None:
    sink = Sink()
    with sending_context(make_config, sink) as ctx:
        combined = add_subscriber(
            ctx,
            "alle@example.org",
            dict.fromkeys(("zwickau", "dresden", "ostsachsen"), "confirmed"),
        )
        separate = add_subscriber(
            ctx, "je@example.org", {"zwickau": "confirmed", "dresden": "confirmed"}
        )
        set_per_region(ctx, separate)
        add_subscriber(ctx, "eine@example.org", {"zwickau": "confirmed"})
        add_subscriber(ctx, "zwei@example.org", {"zwickau": "confirmed", "dresden": "confirmed"})
        before = digests.inline_calls.calls
        results, stats = sending.send_slot(ctx, ALL, now=NOW, triggered_by="test")
        inlined = digests.inline_calls.calls - before
        assert stats is not None and stats.sent == 5 and stats.failed == 0
        got = by_recipient(sink)
        with transaction(ctx.engine) as conn:
            stored = digest_store.history(conn)
        # five region digests (statewide item: every region has one) and two combined
        assert inlined == len(stored) == 7, "premailer once per distinct mail body"
        kinds = collections.Counter(r.region.count("+") > 0 for r in stored)
        assert kinds == {False: 5, True: 2}
        assert {r.region for r in results if r.status == SendStatus.SENT} >= {
            "ostsachsen+zwickau+dresden",
            "zwickau+dresden",
        }
    assert {k: len(v) for k, v in got.items()} == {
        "alle@example.org": 1,
        "je@example.org": 2,
        "eine@example.org": 1,
        "zwei@example.org": 1,
    }
    mail = got["alle@example.org"][0]
    assert mail["Subject"] == "ASSKomm-Nachrichten – 3 Regionen, 4 neue Meldungen (KW 48/2026)"
    html, text = html_of(mail), text_of(mail)
    headings = re.findall(r"<h2[^>]*>(.*?)</h2>", html)
    assert headings == ["Aus Ostsachsen", "Aus Zwickau", "Aus Dresden", "Sachsen (landesweit)"]
    assert html.count("/meldungen/item03") == 1 and text.count("/meldungen/item03") == 1
    assert "die Regionen Ostsachsen, Zwickau und Dresden" in html.replace("\n", " ")
    for key in ("ostsachsen", "zwickau", "dresden"):
        assert f"/regionen/{key}" in html and f"/regionen/{key}" in text
    assert html.count("/abmelden/") == 4, "one link for all regions and one per region"
    assert "%%NL_" not in html + text
    subjects = sorted(m["Subject"] for m in got["je@example.org"])
    assert subjects == [
        "ASSKomm-Nachrichten Dresden – 2 neue Meldungen (KW 48/2026)",
        "ASSKomm-Nachrichten Zwickau – 2 neue Meldungen (KW 48/2026)",
    ]
    assert got["zwei@example.org"][0]["Subject"].startswith("ASSKomm-Nachrichten – 2 Regionen")
    assert combined > 0


def test_list_unsubscribe_of_a_combined_mail_leaves_all_its_regions(
    make_config: Callable[..., Config],
) -> None:
    sink = Sink()
    with sending_context(make_config, sink) as ctx:
        sid = add_subscriber(
            ctx,
            "alle@example.org",
            {"zwickau": "confirmed", "dresden": "confirmed", "chemnitz": "confirmed"},
        )
        sending.send_slot(ctx, ("zwickau", "dresden", "ostsachsen"), now=NOW)
        mail = by_recipient(sink)["alle@example.org"][0]
        client = _admin.app_client(ctx)
        # the per-region link in the footer: only that region
        dresden_link = re.search(
            r'href="http://[^"]+(/abmelden/[^"]+)"[^>]*>Dresden<', html_of(mail)
        )
        assert dresden_link is not None
        assert client.post(dresden_link.group(1)).status_code == 200
        with transaction(ctx.engine) as conn:
            statuses = subscriber_store.get(conn, sid).subscriptions
        assert statuses["dresden"] == SubscriptionStatus.UNSUBSCRIBED
        assert statuses["zwickau"] == SubscriptionStatus.CONFIRMED
        # RFC 8058 one-click on List-Unsubscribe: every region of that mail, not chemnitz
        url = re.search(r"<http://[^>]+(/abmelden/[^>]+)>", mail["List-Unsubscribe"])
        assert url is not None
        page = client.post(url.group(1), data={"List-Unsubscribe": "One-Click"})
        assert page.status_code == 200 and "Zwickau und Dresden" in page.text
        with transaction(ctx.engine) as conn:
            statuses = subscriber_store.get(conn, sid).subscriptions
    assert statuses == {
        "zwickau": SubscriptionStatus.UNSUBSCRIBED,
        "dresden": SubscriptionStatus.UNSUBSCRIBED,
        "chemnitz": SubscriptionStatus.CONFIRMED,
    }


def test_send_now_for_one_region_reaches_combined_subscribers_and_the_slot_goes_on(
    make_config: Callable[..., Config],
) -> None:
    """»Jetzt senden« for Zwickau sends Zwickau's mail to everyone of Zwickau, combined
    or not, and covers Zwickau up to then; the next slot has nothing new for Zwickau,
    so the combined subscriber gets Dresden's mail alone."""
    sink = Sink()
    with sending_context(make_config, sink) as ctx:
        add_subscriber(ctx, "alle@example.org", {"zwickau": "confirmed", "dresden": "confirmed"})
        first = sending.send_region(ctx, "zwickau", now=NOW - timedelta(days=1))
        assert first.status == SendStatus.SENT and first.recipients == 1
        results, _ = sending.send_slot(ctx, ("zwickau", "dresden"), now=NOW)
        got = by_recipient(sink)["alle@example.org"]
        status = {r.region: r.status for r in results}
        again, stats = sending.send_slot(ctx, ("zwickau", "dresden"), now=NOW)
    assert [m["Subject"] for m in got] == [
        "ASSKomm-Nachrichten Zwickau – 2 neue Meldungen (KW 48/2026)",
        "ASSKomm-Nachrichten Dresden – 2 neue Meldungen (KW 48/2026)",
    ]
    assert status == {"zwickau": SendStatus.NOTHING_NEW, "dresden": SendStatus.SENT}
    assert {r.region: r.status for r in again} == {
        "zwickau": SendStatus.NOTHING_NEW,
        "dresden": SendStatus.ALREADY_SENT,
    }
    assert stats is None


def test_regions_on_different_slots_keep_separate_mails(
    make_config: Callable[..., Config],
) -> None:
    regions = [
        {
            "key": "zwickau",
            "name": "Zwickau",
            "districts": ["14524", "14523"],
            "digest_cron": "0 7 * * mon",
        },
        {"key": "dresden", "name": "Dresden", "districts": ["14612", "14627", "14628"]},
        {"key": "ostsachsen", "name": "Ostsachsen", "districts": ["14625", "14626"]},
    ]
    sink = Sink()
    config_maker = lambda **kw: make_config(regions=regions, **kw)  # noqa: E731
    with sending_context(config_maker, sink) as ctx:
        assert slot_group(ctx.config, "dresden") == ("dresden", "ostsachsen")
        assert slot_group(ctx.config, "zwickau") == ("zwickau",)
        add_subscriber(
            ctx,
            "alle@example.org",
            {"zwickau": "confirmed", "dresden": "confirmed", "ostsachsen": "confirmed"},
        )
        jobs = ServiceJobs(ctx)
        with jobs.region_lock("dresden"):
            assert jobs.send_digest("dresden", NOW) == SendStatus.SENT
        with jobs.region_lock("ostsachsen"):
            assert jobs.last_cutoff("ostsachsen") == NOW  # sent by dresden's job
        with jobs.region_lock("zwickau"):
            assert jobs.send_digest("zwickau", NOW) == SendStatus.SENT
        subjects = sorted(m["Subject"] for m in by_recipient(sink)["alle@example.org"])
    assert subjects == [
        "ASSKomm-Nachrichten Zwickau – 2 neue Meldungen (KW 48/2026)",
        "ASSKomm-Nachrichten – 2 Regionen, 3 neue Meldungen (KW 48/2026)",
    ]


def test_preference_page_sets_one_mail_per_region(make_config: Callable[..., Config]) -> None:
    sink = Sink()
    with sending_context(make_config, sink) as ctx:
        sid = add_subscriber(
            ctx, "je@example.org", {"zwickau": "confirmed", "dresden": "confirmed"}
        )
        token = token_for(ctx, sid, Purpose.MANAGE)
        client = _admin.app_client(ctx)
        page = client.get(f"/einstellungen/{token}")
        assert "eine E-Mail je Region" in page.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf is not None
        form = {
            "csrf_token": csrf.group(1),
            "regions": ["zwickau", "dresden"],
            "name": "",
            "organisation": "",
            "per_region": "ja",
            "action": "speichern",
        }
        assert client.post(f"/einstellungen/{token}", data=form).status_code == 200
        with transaction(ctx.engine) as conn:
            assert subscriber_store.get(conn, sid).per_region
        sending.send_slot(ctx, ("zwickau", "dresden"), now=NOW)
        assert len(by_recipient(sink)["je@example.org"]) == 2


def test_late_joiner_of_several_regions_gets_one_welcome_mail(
    make_config: Callable[..., Config],
) -> None:
    sink = Sink()
    with sending_context(make_config, sink) as ctx:
        add_subscriber(ctx, "early@example.org", {"zwickau": "confirmed"})
        sending.send_slot(ctx, ALL, now=NOW)
        late = add_subscriber(ctx, "late@example.org", {"zwickau": "pending", "dresden": "pending"})
        subscriptions.confirm(ctx, late, rules.Request())
        subscriptions.confirm(ctx, late, rules.Request())
        sending.drain_queue(ctx)
        got = by_recipient(sink)["late@example.org"]
        rows = [r for r in deliveries(ctx) if r.subscriber_id == late]
        with transaction(ctx.engine) as conn:
            welcome = digest_store.get(conn, rows[0].digest_id or 0)
    assert [m["Subject"] for m in got] == [
        "ASSKomm-Nachrichten – 2 Regionen, 3 neue Meldungen (KW 48/2026)"
    ]
    assert [r.kind for r in rows] == ["welcome"] and welcome.kind == DigestKind.COMBINED


def test_cli_previews_the_combined_mail(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    ctx = Context(load_config(path, environ={}))
    ctx.init_db()
    store_items(ctx, sample_items())
    ctx.close()
    out = tmp_path / "alle.html"
    done = run_cli(path, "digest", "preview", "--all", "--html", str(out))
    assert done.returncode == 0, done.stderr
    assert "5 Regionen, 5 neue Meldungen" in done.stdout
    html = out.read_text(encoding="utf-8")
    assert html.count("Aus ") >= 4 and "VORSCHAU" in html and "%%NL_" not in html
    both = run_cli(path, "digest", "preview", "--all", "--region", "zwickau")
    assert both.returncode == 2  # a usage error


def test_admin_sets_one_mail_per_region(ctx: Context, admin_client: TestClient) -> None:
    sid = add_subscriber(ctx, "je@example.org", {"zwickau": "confirmed", "dresden": "confirmed"})
    page = admin_client.get(f"/admin/abonnenten/{sid}")
    assert "eine E-Mail je Region" in page.text
    answer = _admin.post(admin_client, f"/admin/abonnenten/{sid}/zustellung", {"per_region": "ja"})
    assert answer.status_code in (200, 303)
    with transaction(ctx.engine) as conn:
        assert subscriber_store.get(conn, sid).per_region
    _admin.post(admin_client, f"/admin/abonnenten/{sid}/zustellung", {"per_region": "nein"})
    with transaction(ctx.engine) as conn:
        assert not subscriber_store.get(conn, sid).per_region
        actions = [row.action for row in conn.execute(select(audit_log.c.action))]
    assert actions.count("subscriber.delivery") == 2


def test_admin_history_and_detail_show_a_combined_mail(
    ctx: Context, admin_client: TestClient
) -> None:
    store_items(ctx, sample_items())
    add_subscriber(ctx, "alle@example.org", {"zwickau": "confirmed", "dresden": "confirmed"})
    results, _ = sending.send_slot(
        ctx, ("zwickau", "dresden"), now=NOW, transport=MemoryTransport()
    )
    combined = next(r for r in results if "+" in r.region)
    assert "Zwickau + Dresden" in admin_client.get("/admin/newsletter").text
    page = admin_client.get(f"/admin/newsletter/versand/{combined.digest_id}")
    assert page.status_code == 200 and "Zwickau und Dresden (gemeinsame E-Mail)" in page.text
    assert "alle@example.org" in page.text


def test_combined_mail_at_claim_needs_one_of_its_regions(
    make_config: Callable[..., Config], postgres_url: str | None
) -> None:
    """The claim's check for a combined mail (any of its regions still confirmed), on
    PostgreSQL when NEWSLETTER_TEST_DATABASE_URL is set, else SQLite: a subscriber who
    left one region still gets it, one who left all of them does not."""
    sink = Sink()
    with sending_context(lambda **kw: make_config(postgres_url, **kw), sink) as ctx:
        both = {"zwickau": "confirmed", "dresden": "confirmed"}
        stays = add_subscriber(ctx, "bleibt@example.org", both)
        leaves = add_subscriber(ctx, "geht@example.org", both)
        plan = sending.plan_slot(ctx, ("zwickau", "dresden"), NOW)
        sending.enqueue_slot(ctx, plan, "test")
        for sid, regions in ((stays, "zwickau"), (leaves, "zwickau+dresden")):
            subscriptions.unsubscribe(ctx, sid, regions, rules.Request(), "test")
        sending.drain_queue(ctx)
        rows = {r.address: r.status for r in deliveries(ctx)}
        if postgres_url is not None:
            _truncate(ctx)
    assert rows == {"bleibt@example.org": "sent", "geht@example.org": "cancelled"}
    assert [rcpts for rcpts, _ in sink.messages] == [["bleibt@example.org"]]


def test_dashboard_counts_combined_mails_with_their_regions(
    ctx: Context, admin_client: TestClient
) -> None:
    store_items(ctx, sample_items())
    add_subscriber(ctx, "alle@example.org", {"zwickau": "confirmed", "dresden": "confirmed"})
    add_subscriber(ctx, "eine@example.org", {"zwickau": "confirmed"})
    sending.send_slot(ctx, ("zwickau", "dresden"), now=NOW, transport=MemoryTransport())
    page = admin_client.get("/admin").text
    rows = {
        key: re.search(rf"{name}</a></th>.*?(\d+) von (\d+) gesendet", page, re.DOTALL)
        for key, name in (("zwickau", "Zwickau"), ("dresden", "Dresden"))
    }
    assert {k: m.groups() if m else None for k, m in rows.items()} == {
        "zwickau": ("2", "2"),
        "dresden": ("1", "1"),
    }


def test_combined_mail_has_the_editors_word_once_and_each_regions_archive_page(
    make_config: Callable[..., Config],
) -> None:
    from newsletter import editor
    from newsletter.models import ALL_REGIONS

    sink = Sink()
    with sending_context(make_config, sink) as ctx:
        editor.save(ctx, ALL_REGIONS, "Liebe **Partner**, ein Wort vorweg.", actor="anna")
        add_subscriber(ctx, "alle@example.org", {"zwickau": "confirmed", "dresden": "confirmed"})
        sending.send_slot(ctx, ("zwickau", "dresden"), now=NOW)
        mail = by_recipient(sink)["alle@example.org"][0]
        html, text = html_of(mail), text_of(mail)
        links = re.findall(r'href="http://127\.0\.0\.1:8000(/newsletter/[^"]+)"', html)
        client = _admin.app_client(ctx)
        pages = {link: client.get(link) for link in links}
    assert html.count("ein Wort vorweg") == 1 and "<strong>Partner</strong>" in html
    assert text.count("ein Wort vorweg") == 1
    assert sorted(links) == [
        "/newsletter/dresden/2026-11-26T080000Z",
        "/newsletter/zwickau/2026-11-26T080000Z",
    ]
    assert all(page.status_code == 200 for page in pages.values())
    assert "alle@example.org" not in "".join(page.text for page in pages.values())


def test_cli_send_all_reports_its_own_mails_not_a_workers(tmp_path: Path) -> None:
    config_path = write_config(tmp_path)
    ctx = Context(load_config(config_path, environ={}))
    ctx.init_db()
    store_items(ctx, sample_items())
    add_subscriber(ctx, "alle@example.org", {"zwickau": "confirmed", "dresden": "confirmed"})
    add_subscriber(ctx, "eine@example.org", {"zwickau": "confirmed"})
    ctx.close()
    done = run_cli(config_path, "send", "--all")
    assert done.returncode == 0, done.stderr
    assert "Zwickau, D" in done.stdout  # the combined mail's row (cut at 80 columns)
    assert "Versand-Worker" not in done.stdout  # this process sent them all
    assert len(list((tmp_path / "mail" / "new").iterdir())) == 2
