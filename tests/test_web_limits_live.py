"""Two real `newsletter serve` processes on one database share the per-address limit."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from newsletter.config import Config
from newsletter.context import Context
from newsletter.store import outbox as queue
from newsletter.store.db import transaction
from newsletter.web import limits
from tests.conftest import _truncate
from tests.livesrv import newsletter_serve, write_config

pytestmark = pytest.mark.slow


def _config_file(tmp: Path, url: str) -> Path:
    dresden = {"key": "dresden", "name": "Dresden", "districts": ["14612"]}
    limit = {"rate_limit_per_hour": 50}
    return write_config(tmp, url, name="two.toml", subscriptions=limit, regions=[dresden])


def _subscribe(client: httpx.Client, email: str) -> int:
    page = client.get("/abonnieren").text
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
    assert found
    data = {"csrf_token": found.group(1), "email": email, "regions": ["dresden"], "consent": "ja"}
    return client.post("/abonnieren", data=data).status_code


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_the_address_limit_holds_across_two_serve_processes(
    tmp_path: Path, make_config: Callable[..., Config], postgres_url: str | None, database: str
) -> None:
    if database == "postgres" and postgres_url is None:
        pytest.skip("NEWSLETTER_TEST_DATABASE_URL not set")
    url = postgres_url if database == "postgres" else f"sqlite:///{tmp_path / 'two.db'}"
    assert url is not None
    ctx = Context(make_config(database_url=url))
    ctx.init_db()
    if database == "postgres":
        _truncate(ctx)
    config = _config_file(tmp_path, url)
    with ExitStack() as stack:
        servers = [
            stack.enter_context(newsletter_serve(config, tmp_path / f"serve{n}.log"))
            for n in range(2)
        ]
        clients = [stack.enter_context(httpx.Client(base_url=s.url)) for s in servers]
        codes = [_subscribe(clients[n % 2], "same@example.org") for n in range(8)]
    assert codes == [200] * 8  # the same page every time
    with transaction(ctx.engine) as conn:
        mails = [m for m in queue.list_deliveries(conn) if m.kind == "confirm"]
    assert len(mails) == limits.MAILS_PER_ADDRESS_HOUR  # not three per process
    ctx.close()
