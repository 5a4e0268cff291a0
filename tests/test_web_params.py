"""Every integer a route takes is bounded: a huge number is 404 (path) or 400/422 (query),
answered in German, never a 500 with a traceback."""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from newsletter.context import Context
from newsletter.web import create_app
from tests._admin import admin_client, api_client

HUGE = "99999999999999999999999"
STRING_IDS = {("/admin/meldungen", "source")}  # filters that carry an id as free text


def _is_int(annotation: Any) -> bool:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return any(_is_int(a) for a in typing.get_args(annotation))
    return annotation is int


def _integer_params(app: FastAPI) -> Iterator[tuple[str, str, str, str]]:
    """(method, path, "path" or "query", name) for every integer parameter of every route."""
    for route in app.routes:
        for context in getattr(route, "effective_route_contexts", lambda: [])():
            original = context.original_route
            dependant = getattr(original, "dependant", None)
            if dependant is None:
                continue
            params = [("path", p) for p in dependant.path_params]
            params += [("query", p) for p in dependant.query_params]
            for where, param in params:
                named = (context.path, param.name) in STRING_IDS
                if named or _is_int(param.field_info.annotation):
                    for method in sorted(original.methods - {"HEAD"}):
                        yield method, context.path, where, param.name


def _url(path: str, where: str, name: str) -> str:
    def fill(match: re.Match[str]) -> str:
        if where == "path" and match.group(1) == name:
            return HUGE
        return "1" if match.group(1).endswith("_id") else "dresden"  # a valid other part

    concrete = re.sub(r"\{([^}]+)\}", fill, path)
    return f"{concrete}?{name}={HUGE}" if where == "query" else concrete


@pytest.fixture
def clients(ctx: Context) -> tuple[TestClient, TestClient]:
    return admin_client(ctx), api_client(ctx)


def test_every_integer_parameter_is_bounded(
    ctx: Context, clients: tuple[TestClient, TestClient]
) -> None:
    admin, api = clients
    found = list(_integer_params(create_app(ctx)))
    names = {(path, name) for _, path, _, name in found}
    assert {
        ("/regionen/{region}", "seite"),
        ("/admin/meldungen", "seite"),
        ("/admin/protokoll", "seite"),
        ("/admin/newsletter/versand/{digest_id}", "digest_id"),
        ("/admin/abonnenten/{subscriber_id}", "subscriber_id"),
        ("/api/v1/items", "offset"),
    } <= names
    for method, path, where, name in found:
        client = api if path.startswith("/api/") else admin
        answer = client.request(method, _url(path, where, name))
        expected = {404} if where == "path" else {200, 400, 422}
        assert answer.status_code in expected, (method, path, name, answer.status_code)
        if answer.status_code != 200:
            body = answer.text
            assert "Diese Seite gibt es nicht" in body or "ungültig" in body, (path, body)


def test_pages_past_the_range_are_a_german_400(client: TestClient) -> None:
    answer = client.get(f"/regionen/dresden?seite={HUGE}")
    assert answer.status_code == 400 and "Die Eingabe ist ungültig (seite)" in answer.text
    assert "text/html" in answer.headers["content-type"]
    assert client.get("/regionen/dresden?seite=0").status_code == 400
    assert client.get("/regionen/dresden?seite=2").status_code == 200


def test_a_huge_path_id_is_a_german_404(admin_client: TestClient) -> None:
    answer = admin_client.get(f"/admin/abonnenten/{HUGE}")
    assert answer.status_code == 404 and "Diese Seite gibt es nicht" in answer.text
