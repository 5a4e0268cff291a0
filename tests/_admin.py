"""Helpers for the admin tests: an app with one admin, a logged-in client, CSRF tokens."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from newsletter import admins
from newsletter.context import Context
from newsletter.web import create_app

NAME = "anna"
PASSWORD = "ein-langes-geheimes-passwort"
EMAIL = "anna@example.org"
_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def make_client(ctx: Context) -> TestClient:
    admins.create(ctx, NAME, EMAIL, PASSWORD, actor="test")
    return TestClient(create_app(ctx), follow_redirects=False)


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
