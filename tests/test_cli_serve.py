"""``newsletter serve --port P``: links use the port served when the base URL is the
local default, and the command says what to do next (issue 17, »Command line«)."""

from __future__ import annotations

from pathlib import Path

import httpx

from newsletter.cli.serve import link_base
from tests.livesrv import newsletter_serve, run_cli, wait_for, write_config


def test_a_local_base_url_follows_the_port_served() -> None:
    assert link_base("http://127.0.0.1:8000", 8000, 8123) == "http://127.0.0.1:8123"
    assert link_base("http://localhost:8000/", 8000, 9000) == "http://localhost:9000/"
    assert link_base("http://[::1]:8000", 8000, 9000) == "http://[::1]:9000"
    assert link_base("http://127.0.0.1:8000", 8000, 8000) == "http://127.0.0.1:8000"


def test_a_public_base_url_stays() -> None:
    public = "https://newsletter.example.org"
    assert link_base(public, 8000, 8123) == public
    assert link_base("http://127.0.0.1:9999", 8000, 8123) == "http://127.0.0.1:9999"


def test_serve_on_another_port_links_there_and_prints_next_steps(tmp_path: Path) -> None:
    config = write_config(tmp_path)  # no site.base_url: the default http://127.0.0.1:8000
    assert run_cli(config, "init-db").returncode == 0
    log = tmp_path / "serve.log"
    with newsletter_serve(config, log) as served:
        feed = httpx.get(f"{served.url}/feeds/zwickau.rss", timeout=10)
        assert feed.status_code == 200
        assert f"{served.url}/" in feed.text and "127.0.0.1:8000" not in feed.text
        assert wait_for(lambda: "Beenden mit Strg+C." in log.read_text(encoding="utf-8"), 10)
    printed = log.read_text(encoding="utf-8")
    assert f"Die Website läuft: {served.url}/" in printed
    assert f"Verwaltung: {served.url}/admin/" in printed
    assert "Ersten Admin anlegen (in einem zweiten Terminal):" in printed
    assert "admin add NAME" in printed
