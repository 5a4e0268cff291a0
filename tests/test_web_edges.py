"""Request edges: token before body, body size limits (German 413), German form errors,
no Swagger UI from a CDN, a warning when an https site is reached over http."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from newsletter.config import Config
from newsletter.context import Context
from newsletter.web import create_app
from tests._admin import app_client, csrf
from tests.livesrv import serve_app

MB = 1024 * 1024


def test_the_token_is_checked_before_the_body(client: TestClient) -> None:
    broken = client.post(
        "/api/v1/subscribers", content=b"{kaputt", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 401 and "API-Schlüssel" in broken.json()["error"]["message"]
    put = client.put("/api/v1/items/x/regions", json={"unbekannt": 1})
    assert put.status_code == 401


def test_an_api_body_over_one_megabyte_is_a_german_413(api: TestClient) -> None:
    body = b'{"email": "a@example.org", "regions": ["dresden"], "name": "' + b"x" * MB + b'"}'
    answer = api.post(
        "/api/v1/subscribers", content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 413
    assert answer.json()["error"]["message"] == "Die Anfrage ist zu groß (höchstens 1 MB)."


def test_a_form_over_one_megabyte_is_a_german_413_page(client: TestClient) -> None:
    token = csrf(client, "/abonnieren")
    data = {"csrf_token": token, "email": "a@example.org", "name": "x" * (2 * MB)}
    answer = client.post("/abonnieren", data=data)
    assert answer.status_code == 413 and "text/html" in answer.headers["content-type"]
    assert "Die Anfrage ist zu groß" in answer.text


def test_a_streamed_body_is_counted_without_content_length(ctx: Context) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(3):
            yield b"name=" + b"x" * MB

    with serve_app(create_app(ctx)) as base:
        answer = httpx.post(
            f"{base}/abonnieren",
            content=chunks(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert answer.status_code == 413 and "Die Anfrage ist zu groß" in answer.text


def test_csv_uploads_may_be_ten_megabytes(admin_client: TestClient) -> None:
    admin = admin_client
    token = csrf(admin, "/admin/abonnenten/import")
    for size, refused in ((5 * MB, False), (11 * MB, True)):
        files = {"datei": ("liste.csv", b"email\n" + b"a" * size, "text/csv")}
        answer = admin.post("/admin/abonnenten/import", data={"csrf_token": token}, files=files)
        assert (answer.status_code == 413) is refused, (size, answer.status_code)


def test_an_oversized_form_field_is_reported_in_german(admin_client: TestClient) -> None:
    admin = admin_client
    token = csrf(admin, "/admin/abonnenten/import")
    data = {"csrf_token": token, "notiz": "x" * (2 * MB)}
    files = {"datei": ("liste.csv", b"email\n", "text/csv")}
    answer = admin.post("/admin/abonnenten/import", data=data, files=files)
    assert answer.status_code == 400
    assert "Das Formular ließ sich nicht lesen" in answer.text and "exceeded" not in answer.text


def test_no_swagger_ui_but_the_openapi_document(client: TestClient) -> None:
    assert client.get("/api/v1/docs").status_code == 404
    assert client.get("/api/v1/openapi.json").json()["info"]["title"]


@pytest.mark.parametrize(
    ("base_url", "warnings"), [("https://news.example.org", 1), ("http://x", 0)]
)
def test_an_https_site_reached_over_http_warns_once(
    make_config: Callable[..., Config],
    caplog: pytest.LogCaptureFixture,
    base_url: str,
    warnings: int,
) -> None:
    ctx = Context(make_config(site={"base_url": base_url}))
    ctx.init_db()
    client = app_client(ctx, base_url="http://testserver")
    with caplog.at_level(logging.WARNING, logger="newsletter.web"):
        client.get("/healthz")
        client.get("/")
    found = [r for r in caplog.records if "web.trusted_proxies" in r.getMessage()]
    assert len(found) == warnings
    ctx.close()
