"""Admin sessions live on the server: logout, password change and ``admin disable`` end
every copy of a cookie; idle and absolute expiry (injected clock); the password check runs
in a bounded pool and costs the same for unknown names."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from newsletter import admins, sessions
from newsletter.config import load_config
from newsletter.context import Context
from newsletter.web.hashpool import BoundedPool, PoolFull
from newsletter.web.state import state_of
from tests._admin import NAME, PASSWORD, admin_client, app_client, csrf, login, make_client
from tests.livesrv import run_cli, write_config

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def _copy(client: TestClient, ctx: Context) -> TestClient:
    """A second browser with a copy of the first one's session cookie."""
    thief = app_client(ctx, follow_redirects=False)
    thief.cookies.set("nl_admin", client.cookies["nl_admin"])
    return thief


def test_a_copied_cookie_is_refused_after_logout(ctx: Context) -> None:
    client = admin_client(ctx)
    thief = _copy(client, ctx)
    assert thief.get("/admin").status_code == 200
    assert client.post("/admin/abmelden", data={"csrf_token": csrf(client, "/admin")}).is_redirect
    assert thief.get("/admin").status_code == 303


def test_a_copied_cookie_is_refused_after_a_password_change(ctx: Context) -> None:
    client = admin_client(ctx)
    thief = _copy(client, ctx)
    assert admins.set_password(ctx, NAME, "ein-ganz-neues-passwort", actor="test") == 1
    assert thief.get("/admin").status_code == 303
    assert client.get("/admin").status_code == 303
    login(client, password="ein-ganz-neues-passwort")
    assert client.get("/admin").status_code == 200


CliAdmin = tuple[Context, Path, TestClient]


@pytest.fixture
def cli_admin(tmp_path: Path) -> Iterator[CliAdmin]:
    """A context on a config file, the ``newsletter admin`` command line for it and a
    client logged in as the admin."""
    path = write_config(tmp_path)
    context = Context(load_config(path, environ={}))
    context.init_db()
    client = admin_client(context)
    yield context, path, client
    context.close()


def _run(config: Path, *args: str, stdin: str | None = None) -> str:
    done = run_cli(config, "admin", *args, stdin=stdin)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_admin_disable_ends_sessions_and_blocks_login_and_token(cli_admin: CliAdmin) -> None:
    ctx, cli, client = cli_admin
    thief = _copy(client, ctx)
    token = admins.new_api_token(ctx, NAME, actor="test")
    assert "1 offene Sitzung" in _run(cli, "sessions", NAME)
    assert "1 Sitzung beendet" in _run(cli, "disable", NAME)
    assert thief.get("/admin").status_code == 303
    assert client.get("/admin").status_code == 303
    assert admins.admin_for_token(ctx, token) is None
    refused = client.post(
        "/admin/anmelden", data={"csrf_token": csrf(client), "name": NAME, "password": PASSWORD}
    )
    assert refused.status_code == 401
    assert "gesperrt" in _run(cli, "list")
    _run(cli, "enable", NAME)
    login(client)
    assert client.get("/admin").status_code == 200
    assert "1 Sitzung von »anna« beendet" in _run(cli, "sessions", NAME, "--end")
    assert client.get("/admin").status_code == 303


def test_admin_password_on_the_command_line_ends_sessions(cli_admin: CliAdmin) -> None:
    _, cli, client = cli_admin
    changed = _run(cli, "password", NAME, "--password-stdin", stdin="noch-ein-neues-passwort\n")
    assert "1 Sitzung beendet" in changed
    assert client.get("/admin").status_code == 303
    login(client, password="noch-ein-neues-passwort")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def _clocked_client(ctx: Context) -> tuple[TestClient, Clock]:
    client = make_client(ctx)
    clock = Clock()
    state_of(client.app).clock = clock
    login(client)
    return client, clock


def test_a_session_ends_after_two_idle_hours(ctx: Context) -> None:
    client, clock = _clocked_client(ctx)
    clock.now = T0 + sessions.IDLE - timedelta(minutes=1)
    assert client.get("/admin").status_code == 200  # activity moves the idle end
    clock.now += sessions.IDLE - timedelta(minutes=1)
    assert client.get("/admin").status_code == 200
    clock.now += sessions.IDLE
    assert client.get("/admin").status_code == 303


def test_an_active_session_ends_twelve_hours_after_the_login(ctx: Context) -> None:
    client, clock = _clocked_client(ctx)
    while clock.now < T0 + sessions.ABSOLUTE - timedelta(hours=1):
        clock.now += timedelta(hours=1)
        assert client.get("/admin").status_code == 200, clock.now
    clock.now = T0 + sessions.ABSOLUTE
    assert client.get("/admin").status_code == 303
    assert sessions.live_sessions(ctx, NAME, clock.now) == []


class CountingHasher(PasswordHasher):
    """The real argon2 hasher, counting its verifications."""

    calls = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        CountingHasher.calls += 1
        return super().verify(hash, password)


def test_unknown_names_are_verified_like_wrong_passwords(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    admins.create(ctx, NAME, "", PASSWORD, actor="test")
    monkeypatch.setattr(admins, "_hasher", CountingHasher())
    for name in (NAME, "niemand", ""):
        before = CountingHasher.calls
        assert admins.authenticate(ctx, name, "falsches-passwort") is None
        assert CountingHasher.calls == before + 1, name


def test_importing_admins_computes_no_hash() -> None:
    code = (
        "import argon2\n"
        "calls = []\n"
        "argon2.PasswordHasher.hash = lambda self, *a, **k: calls.append(1)\n"
        "import newsletter.admins, newsletter.cli\n"
        "print(len(calls))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "0"


def test_the_pool_queues_a_bounded_number_then_refuses() -> None:
    pool = BoundedPool(1, 1, "test")
    gate = threading.Event()
    running, waiting = pool.submit(gate.wait, 10), pool.submit(gate.wait, 10)
    with pytest.raises(PoolFull):
        pool.submit(gate.wait, 10)
    gate.set()
    assert running.result(5) and waiting.result(5)
    assert pool.submit(lambda: 7).result(5) == 7
    pool.shutdown()


def test_a_login_is_answered_503_in_german_when_the_pool_is_full(ctx: Context) -> None:
    client = make_client(ctx)
    pool = BoundedPool(1, 0, "test")
    state_of(client.app).login_pool = pool
    gate = threading.Event()
    blocked = pool.submit(gate.wait, 10)
    answer = client.post(
        "/admin/anmelden", data={"csrf_token": csrf(client), "name": NAME, "password": PASSWORD}
    )
    gate.set()
    blocked.result(5)
    assert answer.status_code == 503 and answer.headers["retry-after"] == "5"
    assert "einigen Sekunden" in answer.text
    login(client)
    pool.shutdown()
