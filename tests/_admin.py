"""Test browsers on the app: anonymous, an admin's (logged in or not), the API's with a
token; and CSRF tokens. The ``client``, ``admin_client`` and ``api`` fixtures of
``conftest.py`` are these on the ``ctx`` fixture; tests on another context call them."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from newsletter import admins
from newsletter.context import Context
from newsletter.web import create_app

NAME = "anna"
PASSWORD = "ein-langes-geheimes-passwort"
EMAIL = "anna@example.org"
_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def app_client(ctx: Context, **options: Any) -> TestClient:
    """A fresh browser on a fresh app of ``ctx`` (``options``: TestClient's, e.g. ``client``)."""
    return TestClient(create_app(ctx), **options)


def make_client(ctx: Context) -> TestClient:
    """The admin ``anna`` is created; her browser follows no redirects (not logged in yet)."""
    admins.create(ctx, NAME, EMAIL, PASSWORD, actor="test")
    return app_client(ctx, follow_redirects=False)


def admin_client(ctx: Context) -> TestClient:
    """A browser logged in as ``anna``."""
    client = make_client(ctx)
    login(client)
    return client


def api_client(ctx: Context) -> TestClient:
    """The API with a bearer token of the admin ``robot``."""
    admins.create(ctx, "robot", "", "ein-langes-passwort", actor="test")
    token = admins.new_api_token(ctx, "robot", actor="test")
    return app_client(ctx, headers={"Authorization": f"Bearer {token}"})


def csrf(client: TestClient, path: str = "/admin/anmelden") -> str:
    page = client.get(path)
    found = _CSRF.search(page.text)
    assert found, f"no CSRF field on {path}: {page.status_code}"
    return found.group(1)


def login(client: TestClient, name: str = NAME, password: str = PASSWORD) -> None:
    token = csrf(client)
    answer = client.post(
        "/admin/anmelden", data={"csrf_token": token, "name": name, "password": password}
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/admin"


def post(
    client: TestClient, path: str, data: dict[str, str | list[str]], page: str = "/admin"
) -> object:
    token = csrf(client, page)
    return client.post(path, data={"csrf_token": token, **data})
