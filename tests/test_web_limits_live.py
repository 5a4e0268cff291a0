"""Two real `newsletter serve` processes on one database share the per-address limit."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from newsletter.config import Config
from newsletter.context import Context
from newsletter.store import outbox as queue
from newsletter.store.db import transaction
from newsletter.web import limits
from tests.conftest import _truncate
from tests.livesrv import free_port, start_serve, stop_process, write_serve_config

pytestmark = pytest.mark.slow


def _config_file(tmp: Path, url: str) -> Path:
    sections = f"""
[mail]
transport = "maildir"
maildir = "{tmp / "mail"}"
[subscriptions]
rate_limit_per_hour = 50
[[regions]]
key = "dresden"
name = "Dresden"
districts = ["14612"]
"""
    return write_serve_config(tmp / "two.toml", url, sections)


def _ready(port: int, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


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
    ports = [free_port(), free_port()]
    procs = [
        start_serve(config, port, tmp_path / f"serve{n}.log", "--no-scheduler")
        for n, port in enumerate(ports)
    ]
    try:
        assert all(_ready(port) for port in ports), (tmp_path / "serve0.log").read_text()
        clients = [httpx.Client(base_url=f"http://127.0.0.1:{port}") for port in ports]
        codes = [_subscribe(clients[n % 2], "same@example.org") for n in range(8)]
        for client in clients:
            client.close()
    finally:
        for proc in procs:
            stop_process(proc)
    assert codes == [200] * 8  # the same page every time
    with transaction(ctx.engine) as conn:
        mails = [m for m in queue.list_deliveries(conn) if m.kind == "confirm"]
    assert len(mails) == limits.MAILS_PER_ADDRESS_HOUR  # not three per process
    ctx.close()
