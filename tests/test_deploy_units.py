"""deploy/systemd and deploy/nginx.conf: the units pass ``systemd-analyze verify`` and carry
the hardening the operator guide promises; nginx, run on loopback with the shipped server
block in front of a real ``newsletter serve``, serves the exported feeds from disk
(gzip_static), proxies the rest, and overwrites whatever X-Forwarded-For a client sends."""

from __future__ import annotations

import configparser
import gzip
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.livesrv import (
    CLI,
    free_port,
    newsletter_serve,
    run_cli,
    stop_process,
    wait_for,
    write_config,
)

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
LONG_RUNNING = ["newsletter.service", "newsletter-worker@.service"]
HARDENING = {
    "User": "newsletter",
    "ProtectSystem": "strict",
    "NoNewPrivileges": "true",
    "PrivateTmp": "true",
    "ProtectHome": "true",
}


def _unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text(encoding="utf-8"))
    return parser


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_every_service_is_hardened_and_writes_only_its_data(path: Path) -> None:
    service = _unit(path)["Service"]
    for key, value in HARDENING.items():
        assert service.get(key) == value, (path.name, key)
    assert "/var/lib/newsletter" in service["ReadWritePaths"].split()
    assert service["EnvironmentFile"] == "/etc/newsletter/secrets.env"
    assert service["ExecStart"].startswith("/opt/newsletter/bin/newsletter ")
    assert service.get("CapabilityBoundingSet", "x") == ""


def test_serve_and_worker_units_run_the_right_commands() -> None:
    names = {p.name: _unit(p)["Service"]["ExecStart"] for p in UNITS}
    assert set(LONG_RUNNING) <= names.keys()
    assert names["newsletter.service"].endswith(" serve")
    assert names["newsletter-worker@.service"].endswith(" worker")
    assert names["newsletter-feeds.service"].endswith(" feeds export /srv/newsletter/static/feeds")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_analyze_verify_finds_nothing(tmp_path: Path) -> None:
    """Verified with the command path pointing at this environment's ``newsletter``."""
    for path in [*UNITS, *(DEPLOY / "systemd").glob("*.timer")]:
        text = path.read_text(encoding="utf-8").replace("/opt/newsletter/bin/newsletter", CLI)
        (tmp_path / path.name).write_text(text, encoding="utf-8")
    units = [str(tmp_path / p.name).replace("@.service", "@1.service") for p in UNITS]
    for name in units:
        if name.endswith("@1.service"):
            shutil.copy(name.replace("@1.service", "@.service"), name)
    timers = [str(p) for p in tmp_path.glob("*.timer")]
    done = subprocess.run(
        ["systemd-analyze", "verify", *units, *timers],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    ours = [line for line in done.stderr.splitlines() if "newsletter" in line]
    assert done.returncode == 0 and ours == [], done.stderr


# --- nginx ------------------------------------------------------------------------------

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def _nginx_config(tmp: Path, app_port: int, port: int, static: Path) -> Path:
    """The shipped server block on a loopback port, in a main config of its own."""
    site = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    site = site.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{app_port};")
    site = site.replace("listen 80;", f"listen 127.0.0.1:{port};")
    site = site.replace("listen [::]:80;", "")
    site = site.replace("/srv/newsletter/static", str(static))
    site = site.replace("/etc/newsletter/nginx-proxy.conf", str(DEPLOY / "nginx-proxy.conf"))
    (tmp / "site.conf").write_text(site, encoding="utf-8")
    temp = {name: tmp / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    main = f"""
{"user root;" if os.geteuid() == 0 else ""}
worker_processes 1;
pid {tmp / "nginx.pid"};
error_log {tmp / "error.log"} warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {temp["body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
    include {tmp / "site.conf"};
}}
"""
    path = tmp / "nginx.conf"
    path.write_text(main, encoding="utf-8")
    return path


@pytest.fixture
def nginx_in_front(tmp_path: Path) -> Iterator[tuple[str, Path, Path]]:
    """nginx on loopback in front of ``newsletter serve`` (trusting 127.0.0.1 as proxy),
    with the feeds exported once; yields nginx's URL, the static feeds folder and the
    app's log."""
    if not Path(NGINX).exists():
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    config = write_config(tmp_path, web={"trusted_proxies": ["127.0.0.1"], "access_log": True})
    first = ["items", "add", "--title", "Fahrradcodierung in Werdau", "--region", "zwickau"]
    assert run_cli(config, *first).returncode == 0
    static = tmp_path / "static"
    assert run_cli(config, "feeds", "export", str(static / "feeds")).returncode == 0
    log = tmp_path / "serve.log"
    with newsletter_serve(config, log) as served:
        app_port = int(served.url.rsplit(":", 1)[1])
        port = free_port()
        main = _nginx_config(tmp_path, app_port, port, static)
        check = subprocess.run([NGINX, "-t", "-c", str(main)], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        nginx = subprocess.Popen([NGINX, "-c", str(main), "-g", "daemon off;"])
        try:
            url = f"http://127.0.0.1:{port}"
            assert wait_for(lambda: _answers(url), 10), (tmp_path / "error.log").read_text()
            yield url, static / "feeds", log
        finally:
            stop_process(nginx)  # type: ignore[arg-type]


def _answers(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_nginx_serves_exported_feeds_gzipped_from_disk(
    nginx_in_front: tuple[str, Path, Path], tmp_path: Path
) -> None:
    url, feeds, log = nginx_in_front
    later = ["items", "add", "--title", "Später: Präventionstag in Plauen", "--region", "zwickau"]
    assert run_cli(tmp_path / "config.toml", *later).returncode == 0  # not exported
    with httpx.Client(base_url=url, timeout=10) as client:
        zipped = client.get("/feeds/zwickau.rss", headers={"Accept-Encoding": "gzip"})
        plain = client.get("/feeds/zwickau.rss", headers={"Accept-Encoding": "identity"})
        opml = client.get("/feeds.opml", headers={"Accept-Encoding": "identity"})
        unknown = client.get("/feeds/nirgendwo.rss", headers={"Accept": "text/html"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert "Accept-Encoding" in zipped.headers["vary"]
    assert zipped.content == (feeds / "zwickau.rss").read_bytes()  # httpx decoded the .gz
    assert (feeds / "zwickau.rss.gz").read_bytes() != (feeds / "zwickau.rss").read_bytes()
    assert gzip.decompress((feeds / "zwickau.rss.gz").read_bytes()) == plain.content
    assert b"Werdau" in plain.content and b"Plauen" not in plain.content
    assert opml.status_code == 200 and opml.content == (feeds / "feeds.opml").read_bytes()
    assert unknown.status_code == 404 and "zwickau" in unknown.text  # the app's page
    app_feed = httpx.get(log.read_text().split("serving on ")[1].split()[0] + "/feeds/zwickau.rss")
    assert "Plauen" in app_feed.text  # the app has it; the static file is older


def test_nginx_proxies_the_rest_and_overwrites_forwarded_headers(
    nginx_in_front: tuple[str, Path, Path],
) -> None:
    url, _feeds, log = nginx_in_front
    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    spoofed = {"X-Forwarded-For": "203.0.113.9", "Forwarded": "for=203.0.113.9"}
    with httpx.Client(base_url=url, transport=transport, timeout=10) as client:
        home = client.get("/", headers=spoofed)
        metrics = client.get("/metrics")
    assert home.status_code == 200 and "Werdau" in home.text
    assert metrics.status_code == 404  # never through the proxy
    assert wait_for(lambda: '"GET / HTTP/1.1" 200' in log.read_text(errors="replace"), 5)
    lines = [x for x in log.read_text(errors="replace").splitlines() if '"GET / HTTP' in x]
    assert any("127.0.0.2" in line for line in lines), lines  # the client, as nginx saw it
    assert not any("203.0.113.9" in line for line in lines), lines
