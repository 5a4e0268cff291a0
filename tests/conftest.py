"""Shared fixtures: a config in a temp dir, a migrated database (SQLite file, and
PostgreSQL in a schema of its own when NEWSLETTER_TEST_DATABASE_URL is set), and test
browsers on the app of that database (``client``, ``admin_client``, ``api``)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from newsletter.config import Config
from newsletter.context import Context
from tests import _admin
from tests.configs import service_config

DATA = Path(__file__).resolve().parent / "data"
PG_ENV = "NEWSLETTER_TEST_DATABASE_URL"


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Config]:
    """Build a test config: ``make_config(mail={"transport": "smtp"}, sources=[...])``."""

    def factory(database_url: str | None = None, **sections: dict[str, Any]) -> Config:
        return service_config(tmp_path, database_url, **sections)

    return factory


@pytest.fixture
def config(make_config: Callable[..., Config]) -> Config:
    return make_config()


@pytest.fixture
def ctx(config: Config) -> Iterator[Context]:
    """A migrated SQLite context in a temp dir."""
    context = Context(config)
    context.init_db()
    yield context
    context.close()


@pytest.fixture
def client(ctx: Context) -> TestClient:
    """The app on ``ctx`` in an anonymous browser."""
    return _admin.app_client(ctx)


@pytest.fixture
def admin_client(ctx: Context) -> TestClient:
    """The app on ``ctx`` in the browser of the admin ``anna``, logged in; redirects are
    answered, not followed."""
    return _admin.admin_client(ctx)


@pytest.fixture
def api(ctx: Context) -> TestClient:
    """The JSON API of the app on ``ctx`` with a bearer token of the admin ``robot``."""
    return _admin.api_client(ctx)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    """A fresh schema on the PostgreSQL server named by NEWSLETTER_TEST_DATABASE_URL."""
    url = os.environ.get(PG_ENV)
    if not url:
        yield None
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in url else "?"
    yield f"{url}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db_ctx(
    request: pytest.FixtureRequest, make_config: Callable[..., Config], postgres_url: str | None
) -> Iterator[Context]:
    """A migrated context on SQLite, and again on PostgreSQL when configured.

    Each PostgreSQL test starts from empty tables (the schema is per run).
    """
    if request.param == "postgres":
        if postgres_url is None:
            pytest.skip(f"{PG_ENV} not set")
        context = Context(make_config(database_url=postgres_url))
        context.init_db()
        _truncate(context)
    else:
        context = Context(make_config())
        context.init_db()
    yield context
    context.close()


def _truncate(context: Context) -> None:
    from newsletter.store.schema import metadata

    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with context.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
