"""Soak: ``newsletter serve`` for 20 minutes with a digest every minute under a bounded
feed-poll load; memory and file descriptors must stay flat, no 5xx.

Set-up (loopback only): SQLite in a temporary directory, some confirmed subscribers per
region, every region's digest on the cron ``* * * * *``, collect every minute from a
folder source into which this script writes a new statewide item each minute (so every
slot has something to send), an aiosmtpd sink in its own process as the SMTP relay.
Load: ``wrk`` at a fixed pace (a Lua ``delay()`` per connection) on the feeds and the
start page; without ``wrk`` a Python client at the same pace.

Every ``--every`` seconds (30) it samples the serve process: RSS (VmRSS), open file
descriptors (``/proc/PID/fd``), 5xx feed answers (``/metrics``), digests built and mails
sent. At the end: RSS at start and end, the trend of both (mean of the last third
against the first third, after ``--warmup`` seconds: "flat" within 10 % for RSS and
within 5 descriptors, else "growing"; and the RSS slope per hour), the 5xx count and
wrk's summary. Exit code 1 when something grew or a 5xx
was seen. No other assertions; the machine's other work shows in the numbers.

Usage: ``.venv/bin/python bench/soak.py [--minutes 20] [--rate 20] [--subscribers 50]``
(``make soak``; ``make soak SOAK_ARGS="--minutes 3"`` for a short run).
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
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sendkit import seed, start_sink

from newsletter.config import load_config
from newsletter.context import Context
from tests.livesrv import REGIONS, free_port, newsletter_serve, stop_process, write_config

PATHS = ["/feeds/sachsen.rss", "/feeds/dresden.atom", "/feeds/chemnitz.json", "/"]
CONNECTIONS = 2
RSS_GROWTH = 0.10
FD_GROWTH = 5


@dataclass
class Sample:
    seconds: float
    rss_kib: int
    fds: int
    errors_5xx: int
    digests: int
    sent: int


@dataclass
class Soak:
    samples: list[Sample] = field(default_factory=list)
    client_5xx: int = 0
    client_requests: int = 0
    load_summary: str = ""


def config_for(tmp: Path, port: int) -> Path:
    regions = [region | {"digest_cron": "* * * * *"} for region in REGIONS]
    return write_config(
        tmp,
        mail={"transport": "smtp", "smtp_host": "127.0.0.1", "smtp_port": port, "smtp_tls": "none"},
        schedule={"collect_minutes": 1, "digest_cron": "* * * * *"},
        sources=[{"name": "Soak", "kind": "folder", "path": str(tmp / "news")}],
        regions=regions,
    )


def write_item(folder: Path, n: int) -> None:
    """A statewide item (no place named), so every region's next digest has news."""
    moment = datetime.now(UTC).isoformat(timespec="seconds")
    text = (
        f'+++\ntitle = "Sicher im Netz, Folge {n}"\ndate = {moment}\n+++\n'
        f"Folge {n}: Starke Passwörter und Zwei-Faktor-Anmeldung schützen Konten.\n"
    )
    (folder / f"soak-{n:04d}.md").write_text(text, encoding="utf-8")


def status_value(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    return 0


def metric_sum(metrics: str, name: str, label: str = "") -> int:
    pattern = re.compile(rf"^{name}\{{[^}}]*{label}[^}}]*\}} ([0-9.e+]+)$", re.MULTILINE)
    return int(sum(float(v) for v in pattern.findall(metrics)))


def sample(url: str, pid: int, started: float) -> Sample:
    metrics = httpx.get(f"{url}/metrics", timeout=30).text
    return Sample(
        seconds=time.monotonic() - started,
        rss_kib=status_value(pid, "VmRSS"),
        fds=len(os.listdir(f"/proc/{pid}/fd")),
        errors_5xx=metric_sum(metrics, "newsletter_feed_requests_total", 'status="5'),
        digests=metric_sum(metrics, "newsletter_digests_built_total"),
        sent=metric_sum(metrics, "newsletter_deliveries_total", 'status="sent"'),
    )


@contextmanager
def wrk_load(url: str, tmp: Path, seconds: int, rate: float, soak: Soak) -> Iterator[None]:
    """wrk with 2 connections, each waiting ``2 / rate`` s between requests."""
    script = tmp / "soak.lua"
    paths = ", ".join(f'"{p}"' for p in PATHS)
    delay_ms = int(CONNECTIONS * 1000 / rate)
    script.write_text(
        f"local paths = {{{paths}}}\nlocal i = 0\n"
        "request = function()\n  i = i % #paths + 1\n"
        '  return wrk.format("GET", paths[i])\nend\n'
        f"delay = function() return {delay_ms} end\n",
        encoding="ascii",
    )
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "30s"]
    proc = subprocess.Popen(
        [*command, "-s", str(script), url], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        yield
    finally:
        out, _ = (
            proc.communicate(timeout=seconds + 60) if proc.poll() is None else proc.communicate()
        )
        soak.load_summary = out.decode(errors="replace")
        found = re.search(r"(\d+) requests in", soak.load_summary)
        soak.client_requests = int(found.group(1)) if found else 0
        bad = re.search(r"Non-2xx or 3xx responses: (\d+)", soak.load_summary)
        soak.client_5xx = int(bad.group(1)) if bad else 0  # wrk counts 4xx here too


@contextmanager
def python_load(url: str, seconds: int, rate: float, soak: Soak) -> Iterator[None]:
    """The same pace from one thread: one GET every ``1 / rate`` s, round-robin."""
    stop = threading.Event()

    def run() -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            due, n = time.monotonic(), 0
            end = due + seconds
            while not stop.is_set() and due < end:
                answer = client.get(PATHS[n % len(PATHS)])
                soak.client_requests += 1
                soak.client_5xx += answer.status_code >= 500
                n, due = n + 1, due + 1 / rate
                stop.wait(max(0.0, due - time.monotonic()))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=60)
        soak.load_summary = f"Python client: {soak.client_requests} requests, {soak.client_5xx} 5xx"


def third_means(values: list[int]) -> tuple[float, float]:
    third = max(1, len(values) // 3)
    return statistics.mean(values[:third]), statistics.mean(values[-third:])


def verdict(soak: Soak, warmup: float) -> bool:
    """Print the summary; True when RSS and descriptors are flat and no 5xx was seen.

    The trend leaves out the first ``warmup`` seconds (the first digest loads templates
    and opens the SMTP connection), unless fewer than three samples would be left."""
    first, last = soak.samples[0], soak.samples[-1]
    steady = [s for s in soak.samples if s.seconds >= warmup]
    steady = steady if len(steady) >= 3 else soak.samples
    rss_a, rss_b = third_means([s.rss_kib for s in steady])
    fd_a, fd_b = third_means([s.fds for s in steady])
    rss_flat = rss_b <= rss_a * (1 + RSS_GROWTH)
    fd_flat = fd_b <= fd_a + FD_GROWTH
    errors = last.errors_5xx + soak.client_5xx
    print(f"RSS start / end:        {first.rss_kib / 1024:.1f} / {last.rss_kib / 1024:.1f} MiB")
    slope = statistics.linear_regression(
        [s.seconds for s in steady], [s.rss_kib for s in steady]
    ).slope
    print(f"trend over:             {len(steady)} samples from {steady[0].seconds:.0f} s on")
    print(f"RSS slope:              {slope * 3600 / 1024:+.1f} MiB per hour (least squares)")
    print(
        f"RSS first / last third: {rss_a / 1024:.1f} / {rss_b / 1024:.1f} MiB  "
        f"-> {'flat' if rss_flat else 'growing'} (limit +{RSS_GROWTH:.0%})"
    )
    print(
        f"fds start / end:        {first.fds} / {last.fds}; thirds {fd_a:.1f} / {fd_b:.1f}  "
        f"-> {'flat' if fd_flat else 'growing'} (limit +{FD_GROWTH})"
    )
    print(f"digests built / sent:   {last.digests} / {last.sent} mails")
    print(
        f"load:                   {soak.client_requests} requests; 5xx: {last.errors_5xx} "
        f"(feed metrics), {soak.client_5xx} non-2xx/3xx at the client"
    )
    ok = rss_flat and fd_flat and errors == 0
    print(f"verdict:                {'flat, no 5xx' if ok else 'NOT FLAT or 5xx seen'}")
    return ok


def drive(url: str, pid: int, news: Path, seconds: int, every: float, soak: Soak) -> None:
    """A new item each minute, a sample every ``every`` seconds (on a fixed grid), and one
    more at the end."""
    started = time.monotonic()
    next_item, next_sample, n = started, started, 0
    while (now := time.monotonic()) - started < seconds:
        if now >= next_item:
            n, next_item = n + 1, next_item + 60
            write_item(news, n)
        if now >= next_sample:
            next_sample += every
            s = sample(url, pid, started)
            soak.samples.append(s)
            print(
                f"{s.seconds:6.0f} {s.rss_kib / 1024:8.1f} {s.fds:4d} "
                f"{s.errors_5xx:4d} {s.digests:7d} {s.sent:6d}",
                flush=True,
            )
        wake = min(next_item, next_sample, started + seconds)
        time.sleep(max(0.0, wake - time.monotonic()))
    soak.samples.append(sample(url, pid, started))


def run(minutes: float, rate: float, every: float, count: int, warmup: float, wrk: bool) -> bool:
    seconds = int(minutes * 60)
    soak = Soak()
    with tempfile.TemporaryDirectory(prefix="soak-") as name:
        tmp = Path(name)
        (tmp / "news").mkdir()
        port = free_port()
        config = config_for(tmp, port)
        ctx = Context(load_config(config, environ={}))
        ctx.init_db()
        seed(ctx, count, [r["key"] for r in REGIONS])
        ctx.close()
        sink = start_sink(port)
        try:
            with newsletter_serve(config, tmp / "serve.log", scheduler=True) as served:
                pid = served.process.pid
                load = (
                    wrk_load(served.url, tmp, seconds, rate, soak)
                    if wrk and shutil.which("wrk")
                    else python_load(served.url, seconds, rate, soak)
                )
                print(f"soak: {minutes:g} min, {rate:g} requests/s, sample every {every:g} s")
                print(f"{'s':>6} {'RSS MiB':>8} {'fds':>4} {'5xx':>4} {'digests':>7} {'sent':>6}")
                with load:
                    drive(served.url, pid, tmp / "news", seconds, every, soak)
        finally:
            stop_process(sink, seconds=5)
    print(soak.load_summary.strip())
    return verdict(soak, warmup)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20)
    parser.add_argument("--rate", type=float, default=20, help="feed requests per second")
    parser.add_argument("--every", type=float, default=30, help="seconds between samples")
    parser.add_argument("--subscribers", type=int, default=50)
    parser.add_argument(
        "--warmup", type=float, default=90, help="seconds left out of the trend (first digest)"
    )
    parser.add_argument("--no-wrk", action="store_true", help="the Python client, also with wrk")
    args = parser.parse_args()
    ok = run(args.minutes, args.rate, args.every, args.subscribers, args.warmup, not args.no_wrk)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
