"""Admin security: guards on every route, CSRF, login rate limit, cookies, no secrets in logs."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from newsletter.config import Config
from newsletter.context import Context
from newsletter.store.schema import admins, audit_log
from newsletter.web import create_app
from tests._admin import NAME, PASSWORD, admin_client, app_client, csrf, make_client
from tests.livesrv import run_cli, write_config

OPEN_ADMIN = {"/admin/anmelden", "/admin/abmelden"}
OPEN_API = {"/api/v1/openapi.json"}


def _flat(routes: list[Any]) -> Iterator[Any]:
    """Every route, also inside included routers (FastAPI includes them lazily)."""
    for route in routes:
        if hasattr(route, "effective_route_contexts"):
            for context in route.effective_route_contexts():
                yield SimpleNamespace(
                    path=context.path, methods=getattr(context.original_route, "methods", None)
                )
        else:
            yield route


def _routes(ctx: Context, prefix: str, open_paths: set[str]) -> list[tuple[str, str]]:
    app = create_app(ctx)
    found = []
    for route in _flat(app.routes):
        path = getattr(route, "path", "")
        if not path.startswith(prefix) or path in open_paths:
            continue
        concrete = re.sub(r"\{[^}]+\}", "dresden", path)
        methods = sorted(getattr(route, "methods", None) or {"GET"})
        found += [(m, concrete) for m in methods if m != "HEAD"]
    return found


def test_every_admin_route_without_a_session_redirects_to_the_login(ctx: Context) -> None:
    client = app_client(ctx, follow_redirects=False)
    routes = _routes(ctx, "/admin", OPEN_ADMIN)
    assert len(routes) >= 8
    for method, path in routes:
        answer = client.request(method, path)
        assert answer.status_code == 303, (method, path, answer.status_code)
        assert answer.headers["location"].startswith("/admin/anmelden?weiter=%2Fadmin")


def test_every_api_route_without_a_token_is_401_json(ctx: Context) -> None:
    client = app_client(ctx, follow_redirects=False)
    routes = _routes(ctx, "/api/v1", OPEN_API)
    for method, path in routes:
        for headers in ({}, {"Authorization": "Bearer nl_wrong"}, {"Authorization": "Basic eA=="}):
            answer = client.request(method, path, headers=headers)
            assert answer.status_code == 401, (method, path, answer.status_code)
            assert answer.json()["error"]["status"] == 401
            assert answer.headers["www-authenticate"].startswith("Bearer")


def test_login_sets_a_hardened_session_and_logout_ends_it(ctx: Context) -> None:
    client = admin_client(ctx)
    cookie = next(c for c in client.cookies.jar if c.name == "nl_admin")
    assert cookie.has_nonstandard_attr("HttpOnly")
    assert not cookie.secure  # plain http on the test server
    assert client.get("/admin").status_code == 200
    token = csrf(client, "/admin")
    assert client.post("/admin/abmelden", data={"csrf_token": token}).status_code == 303
    assert client.get("/admin").status_code == 303


def test_session_cookie_is_secure_under_https(ctx: Context) -> None:
    client = make_client(ctx)
    client.base_url = client.base_url.copy_with(scheme="https")  # type: ignore[assignment]
    token = csrf(client)
    answer = client.post(
        "/admin/anmelden", data={"csrf_token": token, "name": NAME, "password": PASSWORD}
    )
    header = answer.headers["set-cookie"]
    assert "nl_admin=" in header
    assert "Secure" in header and "HttpOnly" in header and "SameSite=lax" in header


def test_a_tampered_session_cookie_is_no_session(ctx: Context) -> None:
    client = admin_client(ctx)
    value = client.cookies["nl_admin"]
    client.cookies.delete("nl_admin")
    client.cookies.set("nl_admin", value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert client.get("/admin").status_code == 303


def test_wrong_password_is_refused_and_audited(ctx: Context) -> None:
    client = make_client(ctx)
    token = csrf(client)
    answer = client.post(
        "/admin/anmelden", data={"csrf_token": token, "name": NAME, "password": "falsch-falsch"}
    )
    assert answer.status_code == 401
    assert "Name oder Passwort stimmen nicht" in answer.text
    assert client.get("/admin").status_code == 303
    with ctx.engine.connect() as conn:
        actions = [r.action for r in conn.execute(select(audit_log))]
    assert "login.failed" in actions


def test_login_without_csrf_token_is_refused(ctx: Context) -> None:
    client = make_client(ctx)
    client.get("/admin/anmelden")  # gets the CSRF cookie, but the form field is missing
    answer = client.post("/admin/anmelden", data={"name": NAME, "password": PASSWORD})
    assert answer.status_code == 403
    assert "nl_admin" not in client.cookies


def test_admin_post_without_csrf_token_changes_nothing(ctx: Context) -> None:
    client = admin_client(ctx)
    answer = client.post("/admin/quellen/abrufen", data={})
    assert answer.status_code == 403
    wrong = client.post("/admin/quellen/abrufen", data={"csrf_token": "0" * 64})
    assert wrong.status_code == 403
    with ctx.engine.connect() as conn:
        actions = [r.action for r in conn.execute(select(audit_log))]
    assert "sources.collect" not in actions


def test_login_attempts_are_rate_limited_per_ip(make_config: Callable[..., Config]) -> None:
    context = Context(make_config(web={"login_rate_per_minute": 3}))
    context.init_db()
    client = make_client(context)
    token = csrf(client)
    codes = [
        client.post(
            "/admin/anmelden", data={"csrf_token": token, "name": NAME, "password": "falsch-123"}
        ).status_code
        for _ in range(4)
    ]
    assert codes == [401, 401, 401, 429]
    right = client.post(
        "/admin/anmelden", data={"csrf_token": token, "name": NAME, "password": PASSWORD}
    )
    assert right.status_code == 429 and right.headers["retry-after"] == "60"
    context.close()


def test_login_redirects_only_to_local_admin_paths(ctx: Context) -> None:
    client = make_client(ctx)
    for target, expected in [
        ("/admin/meldungen", "/admin/meldungen"),
        ("https://evil.example/admin", "/admin"),
        ("//evil.example/admin", "/admin"),
        ("/admin//evil.example", "/admin"),
    ]:
        client.cookies.delete("nl_admin")
        token = csrf(client)
        answer = client.post(
            "/admin/anmelden",
            data={"csrf_token": token, "name": NAME, "password": PASSWORD, "weiter": target},
        )
        assert answer.headers["location"] == expected


def test_password_and_hash_are_never_logged(ctx: Context, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = admin_client(ctx)
    token = csrf(client, "/admin")
    client.post("/admin/anmelden", data={"csrf_token": token, "name": NAME, "password": "x" * 12})
    with ctx.engine.connect() as conn:
        stored = conn.execute(select(admins.c.password_hash)).scalar_one()
        audit_text = " ".join(str(tuple(r)) for r in conn.execute(select(audit_log)))
    logged = "\n".join(r.getMessage() + str(r.__dict__) for r in caplog.records)
    assert "admin login name=anna" in logged  # the events are logged ...
    for secret in (PASSWORD, stored, stored.split("$")[-1], "x" * 12):
        assert secret not in logged  # ... but never a password or its hash
        assert secret not in audit_text
    assert stored.startswith("$argon2id$")


def test_admin_cli_adds_lists_and_makes_a_token(tmp_path: Path, config: Config) -> None:
    database_url = f"sqlite:///{tmp_path / 'cli.db'}"
    config_file = write_config(tmp_path, database_url, name="cli.toml")
    added = run_cli(
        config_file,
        *("admin", "add", "bert", "--email", "bert@example.org", "--password-stdin"),
        stdin="ein-passwort-mit-laenge\n",
    )
    assert added.returncode == 0, added.stderr
    short = run_cli(config_file, "admin", "add", "carl", "--password-stdin", stdin="kurz\n")
    assert short.returncode == 65 and "mindestens 10 Zeichen" in short.stderr
    made = run_cli(config_file, "admin", "token", "bert")
    assert made.returncode == 0, made.stderr
    token = next(line for line in made.stdout.splitlines() if line.startswith("nl_"))
    listed = run_cli(config_file, "admin", "list")
    assert "bert@example.org" in listed.stdout and "ja" in listed.stdout
    context = Context(
        config.model_copy(
            update={"storage": config.storage.model_copy(update={"database_url": database_url})}
        )
    )
    from newsletter.admins import admin_for_token

    found = admin_for_token(context, token)
    assert found is not None and found.name == "bert"
    with context.engine.connect() as conn:
        hashes = [r.api_token_hash for r in conn.execute(select(admins))]
    assert token not in hashes and all(h is None or len(h) == 64 for h in hashes)
    context.close()
