"""Web rate limits: counted in the database per address, network, client and globally."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from newsletter import admins
from newsletter.config import Config
from newsletter.context import Context
from newsletter.housekeeping import run_housekeeping
from newsletter.store import outbox as queue
from newsletter.store import ratelimits
from newsletter.store.db import transaction, utcnow
from newsletter.store.schema import rate_limits
from newsletter.web import limits
from tests._admin import app_client
from tests.delivery_helpers import add_subscriber

_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def _away_from_a_minute_boundary() -> None:
    """Fixed windows restart at full minutes: start a burst well inside one."""
    second = datetime.now(UTC).second
    if second >= 45:
        time.sleep(61 - second)


def _client(ctx: Context, ip: str) -> tuple[TestClient, str]:
    client = app_client(ctx, client=(ip, 40000))
    found = _CSRF.search(client.get("/abonnieren").text)
    assert found
    return client, found.group(1)


def _mails(ctx: Context, kind: str | None = None) -> list[dict[str, object]]:
    with transaction(ctx.engine) as conn:
        found = queue.list_deliveries(conn)
    return [m for m in found if kind is None or m.kind == kind]


def _subscribe(ctx: Context, ip: str, email: str) -> int:
    client, token = _client(ctx, ip)
    data = {"csrf_token": token, "email": email, "regions": ["dresden"], "consent": "ja"}
    return client.post("/abonnieren", data=data).status_code


# --- the pure decision ------------------------------------------------------------------


def test_networks_are_slash_24_and_slash_64() -> None:
    assert limits.network_of("127.0.3.7") == "127.0.3.0/24"
    assert limits.network_of("::ffff:10.1.2.3") == "10.1.2.0/24"
    assert limits.network_of("2001:db8:1:2:a:b:c:d") == "2001:db8:1:2::/64"
    assert limits.network_of("testclient") == "testclient"


def test_windows_are_fixed_and_keys_name_scope_length_and_target(config: Config) -> None:
    now = datetime(2026, 11, 26, 10, 17, 42, tzinfo=UTC)
    assert limits.window_start(now, 3600) == datetime(2026, 11, 26, 10, tzinfo=UTC)
    assert limits.window_start(now, 86400) == datetime(2026, 11, 26, tzinfo=UTC)
    target = limits.target_key("geheim", " Anna@Example.org ")
    assert target == limits.target_key("geheim", "anna@example.org") and "@" not in target
    counted = limits.counters("mail", limits.rules("mail", config), "10.0.0.9", target, now)
    keys = [c.key for c in counted]
    assert keys == [
        "mail:client:3600:10.0.0.9",
        "mail:network:3600:10.0.0.0/24",
        "mail:all:60:*",
        f"mail:target:3600:{target}",
        f"mail:target:86400:{target}",
    ]


def test_verdict_tells_the_requester_from_the_target(config: Config) -> None:
    now = datetime(2026, 11, 26, 10, tzinfo=UTC)
    counted = limits.counters("mail", limits.rules("mail", config), "10.0.0.9", "t", now)
    allowed = [c.rule.allowed for c in counted]
    assert limits.verdict(counted, allowed).ok
    over_target = [*allowed[:3], allowed[3] + 1, 1]
    assert limits.verdict(counted, over_target) == limits.Verdict(True, False)
    over_network = [1, allowed[1] + 1, 1, 1, 1]
    assert limits.verdict(counted, over_network) == limits.Verdict(False, True)


# --- the store ------------------------------------------------------------------------


def test_hits_count_per_key_and_window_and_old_windows_go(db_ctx: Context) -> None:
    start = datetime(2026, 11, 26, 10, tzinfo=UTC)
    with transaction(db_ctx.engine) as conn:
        counts = [ratelimits.hit(conn, "k", start) for _ in range(3)]
        other = ratelimits.hit(conn, "k", start + timedelta(hours=1))
    assert counts == [1, 2, 3] and other == 1
    with transaction(db_ctx.engine) as conn:
        assert ratelimits.purge(conn, start + timedelta(minutes=30)) == 1
        assert ratelimits.hit(conn, "k", start) == 1


def test_concurrent_hits_are_atomic(db_ctx: Context) -> None:
    start = datetime(2026, 11, 26, 10, tzinfo=UTC)
    seen: list[int] = []

    def worker() -> None:
        for _ in range(10):
            with transaction(db_ctx.engine) as conn:
                seen.append(ratelimits.hit(conn, "shared", start))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(seen) == list(range(1, 41))


def test_housekeeping_drops_windows_older_than_two_days(ctx: Context) -> None:
    now = utcnow()
    with transaction(ctx.engine) as conn:
        ratelimits.hit(conn, "old", now - timedelta(days=3))
        ratelimits.hit(conn, "recent", limits.window_start(now, 86400))
    assert run_housekeeping(ctx, now)["rate_limit_windows"] == 1
    with ctx.engine.connect() as conn:
        assert list(conn.execute(select(rate_limits.c.key)).scalars()) == ["recent"]


# --- through the web ------------------------------------------------------------------


def test_link_requests_for_one_address_from_many_networks_send_three_mails(ctx: Context) -> None:
    add_subscriber(ctx, "partner@example.org", {"dresden": "confirmed"})
    _away_from_a_minute_boundary()
    pages = []
    for n in range(12):
        client, token = _client(ctx, f"198.51.{n}.10")
        data = {"csrf_token": token, "email": "partner@example.org"}
        answer = client.post("/link-anfordern", data=data)
        pages.append((answer.status_code, "Bitte sehen Sie in Ihr Postfach" in answer.text))
    assert set(pages) == {(200, True)}  # the same answer every time
    assert len(_mails(ctx)) == limits.MAILS_PER_ADDRESS_HOUR


def test_a_flood_of_one_address_gets_the_same_page_and_no_more_mails(ctx: Context) -> None:
    _away_from_a_minute_boundary()
    codes = [_subscribe(ctx, f"203.0.{n}.1", "victim@example.org") for n in range(6)]
    assert codes == [200] * 6
    assert len(_mails(ctx, "confirm")) == limits.MAILS_PER_ADDRESS_HOUR


def test_one_network_cannot_vary_its_addresses_around_the_limit(ctx: Context) -> None:
    _away_from_a_minute_boundary()
    per_hour = ctx.config.subscriptions.rate_limit_per_hour
    codes = [_subscribe(ctx, f"127.0.0.{n}", f"p{n}@example.org") for n in range(1, 31)]
    allowed = per_hour * limits.NETWORK_FACTOR
    assert codes == [200] * allowed + [429] * (30 - allowed)
    assert len(_mails(ctx, "confirm")) == allowed


def test_all_clients_together_are_limited_per_minute(ctx: Context) -> None:
    _away_from_a_minute_boundary()
    total = limits.MAILS_PER_MINUTE + 2
    codes = [_subscribe(ctx, f"10.{n}.0.1", f"p{n}@example.org") for n in range(total)]
    assert codes == [200] * limits.MAILS_PER_MINUTE + [429, 429]


def test_admin_logins_are_limited_per_network(make_config: Callable[..., Config]) -> None:
    context = Context(make_config(web={"login_rate_per_minute": 2}))
    context.init_db()
    admins.create(context, "anna", "anna@example.org", "ein-langes-geheimes-passwort", actor="t")
    _away_from_a_minute_boundary()
    codes = []
    for n in range(1, 11):
        client = app_client(context, client=(f"127.0.0.{n}", 40000))
        token = _CSRF.search(client.get("/admin/anmelden").text)
        assert token
        data = {"csrf_token": token.group(1), "name": "anna", "password": "falsch-falsch"}
        codes.append(client.post("/admin/anmelden", data=data).status_code)
    assert codes == [401] * 8 + [429, 429]
    with context.engine.connect() as conn:
        keys = list(conn.execute(select(rate_limits.c.key)).scalars())
    assert len(keys) == 10 + 4 and not [k for k in keys if "anna" in k]  # 10 clients
    context.close()


@pytest.mark.parametrize("action", ["mail", "login"])
def test_every_action_has_requester_and_target_limits(config: Config, action: str) -> None:
    scopes = {rule.scope for rule in limits.rules(action, config)}  # type: ignore[arg-type]
    assert scopes == {"client", "network", "all", "target"}
