"""Benchmark feed serving against nginx (same machine, same run) and the feed rebuild cost.

1. 50 items in the region ``leipzig-nordsachsen``; ``newsletter serve --no-scheduler`` runs in
   a subprocess on a free loopback port.
2. ``newsletter feeds export`` writes the feeds into a temp dir that nginx serves with
   ``gzip_static on`` (worker_processes 1, no access log).
3. ``wrk -t1 -c8 -d2s`` with ``Accept-Encoding: gzip`` against: the app (full GET), the
   app with ``If-None-Match`` (304) and nginx (full GET), interleaved in 5 rounds; the
   medians are compared (one 5 s run each moved the ratios by ±20 % between runs).
4. Prints app req/s, nginx req/s, app/nginx (goal >= 0.35) and app 304 / app full GET
   (goal >= 1.3). For reference, the same two loads against ``bench/bare_asgi.py`` (a
   constant ASGI app with the feed's bytes and headers, under uvicorn with the same
   settings): uvicorn's own 304/200 ceiling on this machine.
5. Rebuild: read the latest 50 with ``items.latest`` and render RSS, Atom and JSON once,
   with 1,000 and with 10,000 stored items (median of 5); the ratio should be about 1.

Only prints, never asserts on timing. Missing nginx or wrk skips only that measurement.
Usage: ``.venv/bin/python bench/bench_feeds.py [--seconds 2] [--rounds 5]``
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsletter import feeds  # noqa: E402
from newsletter.config import Config, load_config  # noqa: E402
from newsletter.context import Context  # noqa: E402
from newsletter.models import Item  # noqa: E402
from newsletter.store import items as item_store  # noqa: E402
from newsletter.store.db import transaction  # noqa: E402
from tests.livesrv import free_port, newsletter_serve, stop_process, write_config  # noqa: E402

REGION = "leipzig-nordsachsen"
FEED_PATH = f"/feeds/{REGION}.rss"
NEWSLETTER = str(Path(sys.executable).with_name("newsletter"))
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
WRK = shutil.which("wrk")
NOW = datetime.now(UTC).replace(microsecond=0)
GZIP = {"Accept-Encoding": "gzip"}

NGINX_CONF = """daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/nginx-body;
    proxy_temp_path {tmp}/nginx-proxy;
    fastcgi_temp_path {tmp}/nginx-fastcgi;
    uwsgi_temp_path {tmp}/nginx-uwsgi;
    scgi_temp_path {tmp}/nginx-scgi;
    types {{
        application/rss+xml rss;
        application/atom+xml atom;
        application/feed+json json;
    }}
    server {{
        listen 127.0.0.1:{port};
        location /feeds/ {{
            alias {export}/;
            gzip_static on;
            charset utf-8;
        }}
    }}
}}
"""


def make_items(count: int, start: int = 0) -> list[Item]:
    made = []
    for n in range(start, start + count):
        when = NOW - timedelta(minutes=17 * n)
        made.append(
            Item(
                id=f"bench{n:06d}",
                title=f"Präventionsmeldung Nr. {n}: Sicherheit & Ordnung in Leipzig",
                url=None if n % 3 == 0 else f"https://example.org/meldung/{n}",
                summary_html="<p>" + "Hinweise der Polizei zu Einbruch und Betrug. " * 6 + "</p>",
                content_html="",
                published_at=when,
                collected_at=when,
                updated_at=when,
                regions=(REGION,),
                classified_regions=(REGION,),
                source_name="Polizei Sachsen",
            )
        )
    return made


def seed(config: Config, count: int) -> None:
    ctx = Context(config)
    try:
        ctx.init_db()
        batch = 2_000
        for start in range(0, count, batch):
            made = make_items(min(batch, count - start), start)
            with transaction(ctx.engine) as conn:
                item_store.insert_items(conn, [(i, i.url, i.id) for i in made])
    finally:
        ctx.close()


@contextmanager
def running(
    command: list[str], url: str, seconds: float = 20, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server, wait until ``url`` answers, yield its process, always stop it
    afterwards."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, env=env)
        try:
            deadline = time.monotonic() + seconds
            while True:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    tail = log.read()[-2000:].decode(errors="replace")
                    raise RuntimeError(f"{command[0]} did not answer on {url}:\n{tail}")
                try:
                    if httpx.get(url, timeout=1).status_code < 500:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            yield process
        finally:
            stop_process(process)


def wrk(url: str, headers: dict[str, str], seconds: float) -> float:
    """Requests/sec from ``wrk -t1 -c8``; non-2xx/3xx responses are reported."""
    assert WRK
    args = [WRK, "-t1", "-c8", f"-d{seconds:g}s"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, timeout=seconds + 30).stdout
    if "Non-2xx or 3xx responses" in out:
        print(f"  warning: errors under load on {url}:\n{out}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if match is None:
        raise RuntimeError(f"no Requests/sec in wrk output:\n{out}")
    return float(match.group(1))


def measure_serving(tmp: Path, seconds: float, rounds: int) -> None:
    """App full GET, app 304 and nginx, interleaved in ``rounds`` rounds; medians."""
    config_path = write_config(tmp, name="bench.toml")
    seed(load_config(config_path, environ={}), 50)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    export = tmp / "export"
    subprocess.run(
        [NEWSLETTER, "--config", str(config_path), "feeds", "export", str(export)],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    with (
        newsletter_serve(config_path, tmp / "serve.log") as served,
        nginx_serving(tmp, export) as nginx,
    ):
        app_url = served.url + FEED_PATH
        first = httpx.get(app_url, headers=GZIP)
        first.raise_for_status()
        etag = first.headers["etag"]
        bare_command, bare_url, bare_env = bare_server(tmp, app_url)
        check = httpx.get(app_url, headers=GZIP | {"If-None-Match": etag})
        print(
            f"feed {FEED_PATH}: {first.content.count(b'<item>')} items, "
            f"{len(first.content):,} bytes, on the wire {first.headers.get('content-length')} bytes "
            f"({first.headers.get('content-encoding', 'identity')}), "
            f"conditional GET -> {check.status_code}"
        )
        if not WRK:
            print("wrk not installed: load measurements skipped")
            return
        targets = {
            "full": (app_url, GZIP),
            "304": (app_url, GZIP | {"If-None-Match": etag}),
        }
        if nginx:
            targets["nginx"] = (nginx, GZIP)
        with running(bare_command, bare_url, env=bare_env):
            targets["bare"] = (bare_url, GZIP)
            targets["bare 304"] = (bare_url, GZIP | {"If-None-Match": etag})
            rates: dict[str, list[float]] = {name: [] for name in targets}
            for _ in range(rounds):  # interleaved: drift of the machine hits all alike
                for name, (url, headers) in targets.items():
                    rates[name].append(wrk(url, headers, seconds))
    full, cached = statistics.median(rates["full"]), statistics.median(rates["304"])
    print(f"app full GET:  {full:9.0f} req/s  (median of {rounds} x {seconds:g} s)")
    if nginx:
        static = statistics.median(rates["nginx"])
        print(f"nginx static:  {static:9.0f} req/s")
        print(f"ratio app / nginx:            {full / static:.2f}  (goal >= 0.35)")
    print(f"app 304:       {cached:9.0f} req/s")
    print(f"ratio app 304 / app full GET: {cached / full:.2f}  (goal >= 1.3)")
    bare, bare_cached = statistics.median(rates["bare"]), statistics.median(rates["bare 304"])
    print(
        f"uvicorn's ceiling (bare ASGI app, same bytes): {bare:.0f} req/s full, "
        f"{bare_cached:.0f} req/s 304, ratio {bare_cached / bare:.2f}; "
        f"the app reaches {full / bare:.2f} and {cached / bare_cached:.2f} of it"
    )


def bare_server(tmp: Path, url: str) -> tuple[list[str], str, dict[str, str]]:
    """Command, feed URL and environment of ``bare_asgi.py`` answering with the bytes and
    headers the app gave for ``url`` (gzip)."""
    with httpx.stream("GET", url, headers=GZIP) as response:
        (tmp / "bare.body").write_bytes(b"".join(response.iter_raw()))
        skip = ("date", "connection")
        lines = [f"{k}: {v}" for k, v in response.headers.items() if k not in skip]
    (tmp / "bare.headers").write_text("\n".join(lines), encoding="latin-1")
    env = os.environ | {"BARE_BODY": str(tmp / "bare.body")}
    env["BARE_HEADERS"] = str(tmp / "bare.headers")
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "bare_asgi:app", "--app-dir", str(ROOT / "bench")]
    command += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    command += ["--no-server-header", "--log-level", "warning"]
    return command, f"http://127.0.0.1:{port}{FEED_PATH}", env


@contextmanager
def nginx_serving(tmp: Path, export: Path) -> Iterator[str | None]:
    """nginx serving the export (gzip_static): the feed's URL, or None without nginx."""
    if not NGINX:
        print("nginx not installed: nginx measurement skipped")
        yield None
        return
    port = free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, port=port, export=export), encoding="utf-8")
    url = f"http://127.0.0.1:{port}{FEED_PATH}"
    with running([NGINX, "-c", str(conf), "-p", str(tmp)], url):
        static = httpx.get(url, headers=GZIP)
        print(
            f"nginx: {static.status_code}, {static.headers.get('content-type')}, "
            f"content-encoding {static.headers.get('content-encoding', 'identity')}"
        )
        yield url


def measure_rebuild(total: int, repeats: int = 5) -> float:
    """Median seconds: latest 50 of the region, rendered as RSS, Atom and JSON once."""
    with tempfile.TemporaryDirectory() as name:
        config = load_config(write_config(Path(name), name="bench.toml"), environ={})
        seed(config, total)
        info = feeds.feed_info(config, config.region(REGION))
        ctx = Context(config)
        try:
            timings = []
            for _ in range(repeats + 1):  # the first one warms up
                started = time.perf_counter()
                with ctx.engine.connect() as conn:
                    latest = item_store.latest(conn, REGION, limit=50)
                changed = latest[0].updated_at if latest else feeds.EMPTY_FEED_TIME
                for kind in ("rss", "atom", "json"):
                    feeds.render(kind, info, latest, config, changed)
                timings.append(time.perf_counter() - started)
            assert len(latest) == 50
        finally:
            ctx.close()
        return statistics.median(timings[1:])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=2, help="per load measurement")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median)")
    args = parser.parse_args()
    load = "wrk -t1 -c8" if WRK else "none (wrk missing)"
    print(f"load: {load}, {args.rounds} rounds of {args.seconds:g} s per target, interleaved")
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        tmp.chmod(0o755)  # nginx may run as an unprivileged user
        measure_serving(tmp, args.seconds, args.rounds)
    small = measure_rebuild(1_000)
    large = measure_rebuild(10_000)
    print(f"rebuild (latest 50 + RSS/Atom/JSON),  1,000 items: {small * 1000:7.1f} ms")
    print(f"rebuild (latest 50 + RSS/Atom/JSON), 10,000 items: {large * 1000:7.1f} ms")
    print(f"ratio 10,000 / 1,000: {large / small:.2f}  (goal: about 1)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
