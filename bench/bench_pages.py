"""Benchmark the public pages against the feeds (same server, same run) and as the archive grows.

1. N items (default 10,000; one in seven statewide, the others spread over the five
   regions, every 26 minutes back in time, like ``bench_admin.py``) in a SQLite file;
   ``newsletter serve --no-scheduler`` in a subprocess on a free loopback port.
2. ``wrk -t1 -c8 -d2s`` with ``Accept-Encoding: gzip`` against the feed ``/feeds/zwickau.rss``
   (the baseline), ``/``, ``/regionen/zwickau``, an older region page (keyset link), an item
   page, ``/`` and ``/regionen/zwickau`` with ``If-None-Match`` (304), the region page by
   another spelling of its address (``?seite=1``: through the framework, from the cache),
   the region page and the feed of a second server with 100,000 items, and a bare ASGI app
   with the region page's bytes (uvicorn's ceiling, as in ``bench_feeds.py``); interleaved
   in rounds, medians. Each as requests/s and as requests per CPU second of its server
   (the same when other processes share the machine), and as a ratio to the feed of its
   server (goal: pages >= 0.5), 304 / full (goal >= 1.3), and the region page at 100,000
   / 10,000 items (goal >= 0.8).
3. Memory: resident set size (VmRSS) of ``serve`` after start, after the rate measurements
   and after 20 s of mixed load (wrk cycling over feeds, the start page, every region's
   first and second page, an older page and 300 item pages) (goal <= 120 MB).
4. What the cache hides, at both sizes: a region page rendered on every request
   (in-process, a page cache that keeps nothing) for the first page, a deep page by keyset
   and the same depth by an old ``?seite=`` link (offset), and the region count made once
   per store version beside the count the page made on every request before.

Only prints, never asserts on timing. Without wrk the load measurements are skipped.
Usage: ``.venv/bin/python bench/bench_pages.py [--seconds 2] [--rounds 5] [--large 100000]``
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsletter.config import load_config  # noqa: E402
from newsletter.context import Context  # noqa: E402
from newsletter.models import Item  # noqa: E402
from newsletter.store import items as item_store  # noqa: E402
from newsletter.store.db import transaction  # noqa: E402
from tests.livesrv import Served, newsletter_serve, write_config  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from bench_feeds import bare_server, make_items, running  # noqa: E402

REGIONS = ["leipzig-nordsachsen", "chemnitz", "ostsachsen", "zwickau", "dresden"]
REGION = "zwickau"
PAGE = f"/regionen/{REGION}"
FEED = f"/feeds/{REGION}.rss"
WRK = shutil.which("wrk")
NOW = datetime.now(UTC).replace(microsecond=0)
GZIP = {"Accept-Encoding": "gzip"}
MIXED_SECONDS = 20


def item_id(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()[:24]


def make_item(n: int) -> Item:
    """``bench_feeds``' item, spread over the regions like ``bench_admin.py``'s."""
    when = NOW - timedelta(minutes=26 * n)
    region = REGIONS[n % 5] if n % 7 else None
    regions = (region,) if region else ()
    return replace(
        make_items(1, n)[0],
        id=item_id(n),
        published_at=when,
        collected_at=when,
        updated_at=when,
        regions=regions,
        classified_regions=regions,
    )


def seed(config_path: Path, count: int) -> None:
    ctx = Context(load_config(config_path, environ={}))
    try:
        ctx.init_db()
        batch = 5_000
        for start in range(0, count, batch):
            made = [make_item(n) for n in range(start, min(start + batch, count))]
            with transaction(ctx.engine) as conn:
                item_store.insert_items(conn, [(i, i.url, i.id) for i in made])
    finally:
        ctx.close()


def rss_mb(pid: int) -> float:
    """Resident set size of a process in MB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def wrk(
    url: str, headers: dict[str, str], seconds: float, script: Path | None = None
) -> tuple[float, int]:
    """Requests/sec and requests from ``wrk -t1 -c8``; non-2xx/3xx responses are reported."""
    assert WRK
    args = [WRK, "-t1", "-c8", f"-d{seconds:g}s"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    if script is not None:
        args += ["-s", str(script)]
    out = subprocess.run([*args, url], capture_output=True, text=True, timeout=seconds + 60).stdout
    if "Non-2xx or 3xx responses" in out:
        print(f"  warning: errors under load on {url}:\n{out}")
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    if rate is None or total is None:
        raise RuntimeError(f"no Requests/sec in wrk output:\n{out}")
    return float(rate.group(1)), int(total.group(1))


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def served_store(tmp: Path, count: int) -> Iterator[Served]:
    config_path = write_config(tmp, name="bench.toml")
    seed(config_path, count)
    with newsletter_serve(config_path, tmp / "serve.log", seconds=60) as served:
        yield served


def older_link(served: Served) -> str:
    """The »Ältere Meldungen« link of the region's first page, followed three times."""
    path = f"/regionen/{REGION}"
    for _ in range(3):
        page = httpx.get(served.url + path).text
        found = re.search(r'href="([^"]*)" rel="next"', page)
        if found is None:
            return path
        link = found.group(1).replace("&amp;", "&")
        path = f"/regionen/{REGION}{link}" if link.startswith("?") else link
    return path


def targets(served: Served) -> dict[str, Target]:
    base, pid = served.url, served.process.pid
    found: dict[str, Target] = {"feed": (base + FEED, GZIP, pid)}
    for name, path in (
        ("/", "/"),
        (PAGE, PAGE),
        ("older region page", older_link(served)),
        ("item page", f"/meldungen/{item_id(3)}"),
    ):
        response = httpx.get(base + path, headers=GZIP)
        response.raise_for_status()
        found[name] = (base + path, GZIP, pid)
        etag = response.headers.get("etag")
        if etag and name in ("/", PAGE):
            found[f"{name} 304"] = (base + path, GZIP | {"If-None-Match": etag}, pid)
    # not the canonical address: through the framework, answered from the page cache
    found["region via the framework"] = (base + PAGE + "?seite=1", GZIP, pid)
    return found


Target = tuple[str, dict[str, str], int]  # URL, request headers, pid of the server


def load(targets: dict[str, Target], seconds: float, rounds: int) -> dict[str, tuple[float, float]]:
    """Per target the median requests/s and the median requests per CPU second of its
    server: the second does not move when other processes take CPU from the machine."""
    rates: dict[str, list[float]] = {name: [] for name in targets}
    per_cpu: dict[str, list[float]] = {name: [] for name in targets}
    for _ in range(rounds):  # interleaved: drift of the machine hits all alike
        for name, (url, headers, pid) in targets.items():
            used = cpu_seconds(pid)
            rate, total = wrk(url, headers, seconds)
            rates[name].append(rate)
            per_cpu[name].append(total / max(cpu_seconds(pid) - used, 0.01))
    return {
        name: (statistics.median(rates[name]), statistics.median(per_cpu[name])) for name in targets
    }


MIXED_LUA = """
paths = {{{paths}}}
n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n % #paths) + 1], {{["Accept-Encoding"] = "gzip"}})
end
"""


def mixed_load(served: Served, tmp: Path, count: int) -> None:
    """Feeds, the start page, every region's first and second pages, an older page and
    300 item pages, round and round."""
    paths = ["/", FEED, "/feeds/sachsen.atom", "/feeds/dresden.json"]
    paths += [f"/regionen/{r}" for r in REGIONS] + [f"/regionen/{r}?seite=2" for r in REGIONS]
    paths += [older_link(served)]
    paths += [f"/meldungen/{item_id(n)}" for n in range(0, min(count, 3_000), 10)]
    script = tmp / "mixed.lua"
    script.write_text(MIXED_LUA.format(paths=", ".join(f'"{p}"' for p in paths)))
    rate, _ = wrk(served.url + "/", {}, MIXED_SECONDS, script)
    print(f"mixed load ({len(paths)} paths, {MIXED_SECONDS} s): {rate:.0f} req/s")


def render_cost(config_path: Path, repeats: int = 20) -> dict[str, float]:
    """Milliseconds per region page rendered (not cached: a page cache that keeps nothing),
    through the framework in-process; and the per-version count of the regions."""
    from fastapi.testclient import TestClient

    from newsletter.web import create_app
    from newsletter.web.pages import PageCache
    from newsletter.web.state import state_of

    ctx = Context(load_config(config_path, environ={}))
    app = create_app(ctx)
    state_of(app).page_cache = PageCache(ctx.config, max_pages=0)
    client = TestClient(app)
    costs = {}
    deep = client.get(f"/regionen/{REGION}?seite=150")  # an old link: by offset
    older = re.search(r'href="([^"]*)" rel="next"', deep.text)
    assert older is not None
    for name, path in (
        ("first page", f"/regionen/{REGION}"),
        ("page 151 by keyset", older.group(1).replace("&amp;", "&")),
        ("page 150 by ?seite=", f"/regionen/{REGION}?seite=150"),
    ):
        costs[name] = _median_ms(lambda p=path: client.get(p).raise_for_status(), repeats)
    with transaction(ctx.engine) as conn:
        costs["count (once per version)"] = _median_ms(
            lambda: item_store.region_totals(conn, REGIONS), repeats
        )
        costs["count as before (per request)"] = _median_ms(
            lambda: item_store.count(conn, REGION), 3
        )
    ctx.close()
    return costs


def _median_ms(action: Callable[[], object], repeats: int) -> float:
    action()  # warm up
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=2, help="per load measurement")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median)")
    args = parser.parse_args()
    if not WRK:
        print("wrk not installed: load measurements skipped")
        return 0
    print(f"load: wrk -t1 -c8, {args.rounds} rounds of {args.seconds:g} s per target, interleaved")
    with (
        tempfile.TemporaryDirectory() as small_dir,
        tempfile.TemporaryDirectory() as large_dir,
        served_store(Path(small_dir), args.items) as served,
        served_store(Path(large_dir), args.large) as large,
    ):
        start_rss = rss_mb(served.process.pid)
        found = targets(served)
        found["large: feed"] = (large.url + FEED, GZIP, large.process.pid)
        found["large: region"] = (large.url + PAGE, GZIP, large.process.pid)
        bare_command, bare_url, bare_env = bare_server(Path(small_dir), found[PAGE][0])
        with running(bare_command, bare_url, env=bare_env) as bare:
            etag = httpx.get(bare_url, headers=GZIP).headers["etag"]
            found["bare ASGI"] = (bare_url, GZIP, bare.pid)
            found["bare ASGI 304"] = (bare_url, GZIP | {"If-None-Match": etag}, bare.pid)
            rates = load(found, args.seconds, args.rounds)
        before_mixed = rss_mb(served.process.pid)
        mixed_load(served, Path(small_dir), args.items)
        after = rss_mb(served.process.pid)
        large_rss = rss_mb(large.process.pid)
        costs_small = render_cost(Path(small_dir) / "bench.toml")
        costs_large = render_cost(Path(large_dir) / "bench.toml")
    report(args, rates, (start_rss, before_mixed, after, large_rss), costs_small, costs_large)
    return 0


def report(
    args: argparse.Namespace,
    rates: dict[str, tuple[float, float]],
    rss: tuple[float, float, float, float],
    costs_small: dict[str, float],
    costs_large: dict[str, float],
) -> None:
    """Ratios on both measures: requests/s (wall clock) and requests per server CPU second
    (the same on a busy machine; the one to trust when other work shares the cores)."""
    print(f"{args.items:,} items (and the same region page and feed at {args.large:,} items)")
    print(f"  {'':28} {'req/s':>8} {'× feed':>7}   {'req/CPU s':>9} {'× feed':>7}")
    for page, (rate, per_cpu) in rates.items():
        wall, cpu = rates["large: feed" if page.startswith("large") else "feed"]
        print(f"  {page:28} {rate:8.0f} {rate / wall:7.2f}   {per_cpu:9.0f} {per_cpu / cpu:7.2f}")
    print("  goal: / and /regionen/<r> >= 0.5 × feed")

    def ratio(top: str, bottom: str) -> str:
        return f"{rates[top][0] / rates[bottom][0]:5.2f} {rates[top][1] / rates[bottom][1]:9.2f}"

    print(f"  {'ratios (req/s, per CPU s):':44}")
    for page in ("/", PAGE, "bare ASGI"):
        print(f"  304 / full on {page:28} {ratio(f'{page} 304', page)}  (goal >= 1.3)")
    print(
        f"  {PAGE} {args.large:,} / {args.items:,} items  {ratio('large: region', PAGE)}  (goal >= 0.8)"
    )
    start, before, after, large = rss
    print(
        f"serve RSS ({args.items:,} items): {start:.0f} MB at start, {before:.0f} MB after the "
        f"rate measurements, {after:.0f} MB after {MIXED_SECONDS} s mixed load (goal <= 120 MB); "
        f"with {args.large:,} items: {large:.0f} MB"
    )
    print(f"uncached (rendered every time, in-process):  {args.items:>9,}  {args.large:>9,}  ratio")
    for what, small in costs_small.items():
        big = costs_large[what]
        print(f"  {what:40} {small:7.1f} ms {big:7.1f} ms  {big / small:5.2f}")


if __name__ == "__main__":
    sys.exit(main())
