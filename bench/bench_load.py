"""Load: 50,000 confirmed subscribers on PostgreSQL, two ``newsletter worker`` processes
and ``newsletter serve``, against a plain smtplib client pool to the same sink.

Set-up (real processes, loopback only): a fresh schema on the PostgreSQL server named by
``--database-url`` (default ``$NEWSLETTER_TEST_DATABASE_URL``; dropped at the end), the
sample items and N confirmed subscribers, one region each across the five regions; an
SMTP sink in its own process that records every recipient (``countsink.py``); two
``newsletter worker`` processes and ``newsletter serve --no-scheduler`` (so exactly the
two workers send).

Five rounds, one per region, each a raw run and then the service's: raw sends the
region's share of N messages of the region's digest bytes (so the sizes match) with as
many plain ``smtplib`` clients as there are workers, each in its own process on one
reused connection; then the region's digest is enqueued and the service round lasts until
the sink has its mails and the queue is empty. Taking turns round by round keeps a
slowdown of the shared machine (which comes and goes for tens of seconds) from landing on
one side only: with one raw run before and one after a single service run, the same code
measured 0.74 to 0.99.

Prints service ÷ raw in all and per round (goal >= 0.9), the CPU per mail of the
workers, their PostgreSQL backends, the raw clients and the sink (where the difference
goes), whether every subscriber got exactly one mail (counted at the sink; exit code 1 if
not), the peak RSS (VmHWM) of every process, and the median time of admin list pages and
a feed while idle, while the raw clients send (from the sink's first to its last mail of
the round: their process start is not in it) and while the workers do (from the end of
the enqueue to the round's last mail). The pages are polled in both phases, so both
sides of the send ratio carry the same load; a page's service ÷ raw is what the
service's own work adds to its time (flat is about 1), beyond what the mail load does on
the machine either way (on 2 cores the sink takes one of them). No timed assertions; the
numbers are noisy where other work shares the machine.

Usage: ``.venv/bin/python bench/bench_load.py [--subscribers 50000] [--workers 2]``
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sendkit import (
    address,
    cpu_seconds,
    digest_bytes,
    machine_busy,
    peak_rss_kib,
    raw_pool,
    seed,
    start_sink,
)

from newsletter import admins
from newsletter.config import load_config
from newsletter.context import Context
from newsletter.mail.sending import enqueue_region
from newsletter.store import outbox as queue
from newsletter.store import stats as stats_store
from newsletter.store.db import transaction
from tests.livesrv import (
    REGIONS,
    free_port,
    newsletter_serve,
    start_cli,
    stop_process,
    write_config,
)

PG_ENV = "NEWSLETTER_TEST_DATABASE_URL"
NOW = datetime(2026, 11, 25, tzinfo=UTC)
ADMIN, PASSWORD = "bench", "ein-langes-bench-passwort"
PAGES = [
    "/admin",
    "/admin/newsletter",
    "/admin/meldungen",
    "/admin/abonnenten?region=zwickau&suche=p00042",
    "/feeds/sachsen.rss",
]
STALL_SECONDS = 120.0


@contextmanager
def pg_schema(url: str) -> Iterator[str]:
    """A fresh schema on the server (as tests/conftest.py's postgres_url), dropped after."""
    schema = f"load_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def mail_section(port: int) -> dict[str, object]:
    return {
        "transport": "smtp",
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_tls": "none",
        "rate_per_second": 100_000,
        "rate_per_hour": 100_000_000,
        "batch_size": 500,
    }


class SinkLog:
    """Reads the sink's record file as it grows: mails per address."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.counts: collections.Counter[str] = collections.Counter()
        self.sizes: dict[str, list[int]] = collections.defaultdict(list)
        self.times: dict[str, list[float]] = collections.defaultdict(list)

    def read(self) -> None:
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            chunk = handle.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self.offset += len(complete)
        for line in complete.decode("ascii").splitlines():
            rcpt, size, when = line.split()
            self.counts[rcpt] += 1
            self.sizes[rcpt[0]].append(int(size))
            self.times[rcpt[0]].append(float(when))

    def service_mails(self) -> int:
        return len(self.sizes["p"])


def login(base_url: str) -> httpx.Client:
    client = httpx.Client(base_url=base_url, timeout=120)
    page = client.get("/admin/anmelden").text
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
    if found is None:
        raise SystemExit("no CSRF field on the login page")
    form = {"csrf_token": found.group(1), "name": ADMIN, "password": PASSWORD}
    answer = client.post("/admin/anmelden", data=form)
    if answer.status_code != 303:
        raise SystemExit(f"admin login failed: {answer.status_code}")
    return client


def timed_get(client: httpx.Client, path: str) -> float:
    started = time.perf_counter()
    answer = client.get(path)
    elapsed = time.perf_counter() - started
    if answer.status_code != 200:
        raise SystemExit(f"GET {path}: {answer.status_code}")
    return elapsed


@dataclass(frozen=True)
class PageTime:
    path: str
    began: float  # wall clock (time.time(), as the sink's record)
    ended: float
    seconds: float


Window = tuple[float, float]  # (from, to) on the wall clock


class Poller(threading.Thread):
    """GETs the pages round-robin, ``pause`` seconds between rounds, until stopped (paced,
    so the probe itself does not become the load), the whole time: both sides of the send
    ratio carry the same page load. Each GET is kept with its wall-clock times, so it can
    be placed in a phase afterwards (:func:`pages_within`)."""

    def __init__(self, client: httpx.Client, pause: float) -> None:
        super().__init__(daemon=True)
        self.client, self.pause = client, pause
        self.stop = threading.Event()
        self.times: list[PageTime] = []

    def run(self) -> None:
        while not self.stop.is_set():
            for path in PAGES:
                began = time.time()
                elapsed = timed_get(self.client, path)
                self.times.append(PageTime(path, began, time.time(), elapsed))
            self.stop.wait(self.pause)


def pages_within(times: list[PageTime], windows: list[Window]) -> dict[str, list[float]]:
    """The GETs that began and ended inside one of ``windows``, per page."""
    inside = collections.defaultdict(list)
    for t in times:
        if any(start <= t.began and t.ended <= end for start, end in windows):
            inside[t.path].append(t.seconds)
    return inside


def idle_times(client: httpx.Client, runs: int) -> dict[str, list[float]]:
    return {path: [timed_get(client, path) for _ in range(runs)] for path in PAGES}


def wait_sent(ctx: Context, sink: SinkLog, count: int) -> bool:
    """Until the sink has ``count`` service mails and nothing is open in the queue (True),
    or nothing moved for STALL_SECONDS (False)."""
    seen, moved = -1, time.monotonic()
    while True:
        sink.read()
        done = sink.service_mails()
        if done >= count:
            with transaction(ctx.engine) as conn:
                if queue.pending_count(conn) == 0:
                    return True
        if done != seen:
            seen, moved = done, time.monotonic()
        elif time.monotonic() - moved > STALL_SECONDS:
            return False
        time.sleep(0.1)


def exactly_once(sink: SinkLog, count: int) -> tuple[bool, str]:
    expected = {address(n) for n in range(count)}
    got = {a for a in sink.counts if a.startswith("p")}
    missing = len(expected - got)
    twice = sum(1 for a in got if sink.counts[a] > 1)
    unexpected = len(got - expected)
    ok = not (missing or twice or unexpected)
    detail = (
        f"{len(got)} addresses, {missing} missing, {twice} more than once, {unexpected} unknown"
    )
    return ok, detail


@contextmanager
def workers(config: Path, tmp: Path, n: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs = [
        start_cli(config, "worker", "--poll", "0.2", log=tmp / f"worker{i + 1}.log")
        for i in range(n)
    ]
    try:
        yield procs
    finally:
        for proc in procs:
            stop_process(proc)


def prepare(ctx: Context, count: int, regions: list[str]) -> list[tuple[str, bytes]]:
    """Seed the store and an admin; the raw baseline's mails (the digests' own bytes)."""
    ctx.init_db()
    started = time.perf_counter()
    seed(ctx, count, regions)
    admins.create(ctx, ADMIN, "", PASSWORD, actor="bench")
    print(f"seeded {count} subscribers on PostgreSQL in {time.perf_counter() - started:.1f} s")
    messages = [digest_bytes(ctx, region, NOW) for region in regions]
    return [(address(n, "r"), messages[n % len(messages)]) for n in range(count)]


@dataclass
class ServiceRun:
    wall: float
    finished: bool
    worker_cpu: float
    sink_cpu: float
    pg_cpu: float  # the workers' PostgreSQL backends (a backend gone before the end: lost)
    first_mail: float  # seconds from the enqueue to the first mail at the sink
    windows: list[Window]  # from the enqueue's end to the last mail at the sink, per round
    busy: tuple[float, float]  # (busy, total) CPU jiffies of the machine during the run
    enqueue: float  # seconds the enqueue took (digest build and INSERT), not in ``wall``

    def __add__(self, other: ServiceRun) -> ServiceRun:
        return ServiceRun(
            self.wall + other.wall,
            self.finished and other.finished,
            self.worker_cpu + other.worker_cpu,
            self.sink_cpu + other.sink_cpu,
            self.pg_cpu + other.pg_cpu,
            max(self.first_mail, other.first_mail),
            self.windows + other.windows,
            (self.busy[0] + other.busy[0], self.busy[1] + other.busy[1]),
            self.enqueue + other.enqueue,
        )


def backends(ctx: Context, pids: list[int]) -> set[int]:
    """The PostgreSQL server processes serving these client processes (by the
    ``application_name`` the store sets)."""
    names = [f"newsletter[{pid}]" for pid in pids]
    query = text("SELECT pid FROM pg_stat_activity WHERE application_name = ANY(:names)")
    with ctx.engine.connect() as conn:
        return {int(pid) for pid in conn.execute(query, {"names": names}).scalars()}


def service_round(
    ctx: Context,
    sink: SinkLog,
    pids: list[int],
    sink_pid: int,
    region: str,
    done_after: int,
) -> ServiceRun:
    """Enqueue the region's digest; the workers send; until the sink has ``done_after``
    service mails in all and the queue is empty."""
    cpu, sink_cpu = sum(cpu_seconds(p) for p in pids), cpu_seconds(sink_pid)
    pg_before = {pid: cpu_seconds(pid) for pid in backends(ctx, pids)}
    started, busy = time.time(), machine_busy()
    enqueue_region(ctx, region, now=NOW, triggered_by="bench")
    enqueued_at = time.time()
    finished = wait_sent(ctx, sink, done_after)
    # from the end of the enqueue to the sink's "250" for the round's last mail: the send,
    # with the workers' poll and claim but without the digest's build and INSERT (timed
    # apart) or this driver's own polling of the sink's record
    last = max(t for t in sink.times["p"] if t >= enqueued_at)
    wall = last - enqueued_at
    cpu = sum(cpu_seconds(p) for p in pids) - cpu
    sink_cpu = cpu_seconds(sink_pid) - sink_cpu
    pg_after = backends(ctx, pids) | set(pg_before)
    pg_cpu = sum(cpu_seconds(pid) - pg_before.get(pid, 0.0) for pid in pg_after)
    first = min((t for t in sink.times["p"] if t >= enqueued_at), default=enqueued_at)
    return ServiceRun(
        wall, finished, cpu, sink_cpu, pg_cpu, first - enqueued_at, [(enqueued_at, last)],
        _diff(busy, machine_busy()), enqueued_at - started,
    )  # fmt: skip


def _diff(before: tuple[float, float], after: tuple[float, float]) -> tuple[float, float]:
    return after[0] - before[0], after[1] - before[1]


def run(url: str, count: int, n_workers: int, idle_runs: int, page_pause: float) -> bool:
    with pg_schema(url) as schema_url, tempfile.TemporaryDirectory(prefix="bench-load-") as name:
        tmp = Path(name)
        port, record = free_port(), tmp / "sink.txt"
        record.touch()
        config = write_config(tmp, schema_url, mail=mail_section(port))
        ctx = Context(load_config(config, environ={}))
        mails = prepare(ctx, count, [r["key"] for r in REGIONS])
        envelope = ctx.config.mail.envelope_from or ctx.config.mail.from_address
        sink_proc, sink = start_sink(port, record), SinkLog(record)
        try:
            with (
                workers(config, tmp, n_workers) as procs,
                newsletter_serve(config, tmp / "serve.log") as served,
            ):
                client = login(served.url)
                idle = idle_times(client, idle_runs)
                poller = Poller(client, page_pause)
                poller.start()
                pids = [p.pid for p in procs]
                regions = [r["key"] for r in REGIONS]
                raw_runs, rounds, raw_sink_cpu, raw_busy = [], [], 0.0, (0.0, 0.0)
                raw_windows: list[Window] = []
                for i, region in enumerate(regions):  # raw and service take turns
                    sink_at, busy = cpu_seconds(sink_proc.pid), machine_busy()
                    sent_before = len(sink.times["r"])
                    raw_runs.append(raw_pool(port, envelope, mails[i :: len(regions)], n_workers))
                    raw_windows.append(sink_window(sink, "r", sent_before))
                    raw_sink_cpu += cpu_seconds(sink_proc.pid) - sink_at
                    used = _diff(busy, machine_busy())
                    raw_busy = (raw_busy[0] + used[0], raw_busy[1] + used[1])
                    done_after = sum(1 for n in range(count) if n % len(regions) <= i)
                    rounds.append(service_round(ctx, sink, pids, sink_proc.pid, region, done_after))
                poller.stop.set()
                poller.join()
                rss = {"serve": peak_rss_kib(served.process.pid)}
                rss |= {f"worker {i + 1}": peak_rss_kib(pid) for i, pid in enumerate(pids)}
                rss["sink"] = peak_rss_kib(sink_proc.pid)
                rss["raw clients (max)"] = max(k for r in raw_runs for k in r.rss_kib)
            with transaction(ctx.engine) as conn:
                outcome = stats_store.delivery_counts(conn)
        finally:
            stop_process(sink_proc, seconds=5)
            ctx.close()
        sink.read()  # the rest, before the directory goes
    rss["bench driver"] = peak_rss_kib()
    service = sum(rounds[1:], rounds[0])
    result = Result(
        count,
        n_workers,
        sum(r.seconds for r in raw_runs),
        outcome,
        rss,
        sum(r.cpu_seconds for r in raw_runs),
        raw_sink_cpu,
        raw_busy[0] / raw_busy[1] if raw_busy[1] else 0.0,
        [raw.seconds / round.wall for raw, round in zip(raw_runs, rounds, strict=True)],
    )
    pages = {
        "idle": idle,
        "raw": pages_within(poller.times, raw_windows),
        "service": pages_within(poller.times, service.windows),
    }
    return report(result, service, sink, pages)


def sink_window(sink: SinkLog, prefix: str, after: int) -> Window:
    """From the first to the last mail of ``prefix`` the sink recorded after the first
    ``after`` (the raw clients' mails of one round: they are all in when the pool ends)."""
    sink.read()
    times = sink.times[prefix][after:]
    return (min(times), max(times)) if times else (0.0, 0.0)


@dataclass
class Result:
    count: int
    workers: int
    raw_seconds: float
    outcome: dict[tuple[str, str], int]
    rss: dict[str, int]
    raw_cpu: float  # the raw clients' CPU seconds, all together
    raw_sink_cpu: float  # the sink's CPU seconds while the raw clients sent
    raw_used: float  # share of all CPUs in use during the raw runs
    round_ratios: list[float]  # service ÷ raw of each region's round


def report(
    r: Result, run: ServiceRun, sink: SinkLog, pages: dict[str, dict[str, list[float]]]
) -> bool:
    """Print the results (``pages``: GET times per phase, "idle", "raw" and "service",
    and page); True when every subscriber got exactly one mail."""
    ok, detail = exactly_once(sink, r.count)
    per_status = collections.Counter[str]()
    for (_region, status), n in r.outcome.items():
        per_status[status] += n
    stalled = "" if run.finished else f"  (STALLED: nothing moved for {STALL_SECONDS:.0f} s)"
    sizes = {k: statistics.mean(v) for k, v in sink.sizes.items() if v}
    print(f"subscribers:      {r.count} across 5 regions, {r.workers} workers + serve")
    print(
        f"raw:              {r.count / r.raw_seconds:8.0f} messages/s  "
        f"({r.workers} smtplib clients; a round before each region's send)"
    )
    print(
        f"service:          {r.count / run.wall:8.0f} messages/s  (wall {run.wall:.1f} s){stalled}"
    )
    print(f"service / raw:    {r.raw_seconds / run.wall:8.2f}  (goal >= 0.9)")
    print(
        "per round:        "
        + " ".join(f"{x:.2f}" for x in r.round_ratios)
        + f"  (median {statistics.median(r.round_ratios):.2f})"
    )
    print(
        f"CPU per mail:     workers {run.worker_cpu * 1000 / r.count:.2f} ms, "
        f"their PostgreSQL backends {run.pg_cpu * 1000 / r.count:.2f} ms, "
        f"raw clients {r.raw_cpu * 1000 / r.count:.2f} ms; "
        f"sink {run.sink_cpu * 1000 / r.count:.2f} ms during the service rounds, "
        f"{r.raw_sink_cpu * 1000 / r.count:.2f} ms during the raw runs"
    )
    print(
        f"machine busy:     {run.busy[0] / run.busy[1]:.0%} of all CPUs during the service "
        f"rounds, {r.raw_used:.0%} during the raw rounds"
    )
    print(
        f"at the sink:      first mail at most {run.first_mail:.1f} s after an enqueue; the "
        f"enqueues took {run.enqueue:.1f} s in all (not in the service time)"
    )
    print(f"mean size:        service {sizes.get('p', 0):.0f} B, raw {sizes.get('r', 0):.0f} B")
    print(f"deliveries:       {dict(sorted(per_status.items()))}")
    print(f"exactly one mail per subscriber: {'yes' if ok else 'NO'} ({detail})")
    print("peak RSS (VmHWM): " + ", ".join(f"{k} {v / 1024:.0f} MiB" for k, v in r.rss.items()))
    print(
        "pages, median ms: idle, while the raw clients send, while the workers send; "
        "workers ÷ raw (flat is about 1)"
    )
    for path in PAGES:
        idle, raw, service = (_median_ms(pages[phase].get(path, [])) for phase in PHASES)
        counts = "/".join(str(len(pages[phase].get(path, []))) for phase in PHASES[1:])
        print(
            f"  {path:46} {idle:7.1f} {raw:7.1f} {service:7.1f}  "
            f"({service / raw:5.2f}x; {counts} GETs)"
        )
    return ok and run.finished


PHASES = ("idle", "raw", "service")


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000 if samples else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--idle-runs", type=int, default=5, help="GETs per page while idle")
    parser.add_argument(
        "--page-pause", type=float, default=1.0, help="seconds between rounds of page GETs"
    )
    parser.add_argument("--database-url", default=os.environ.get(PG_ENV))
    args = parser.parse_args()
    if not args.database_url:
        print(f"skipped: no PostgreSQL ({PG_ENV} or --database-url)")
        return 0
    ok = run(args.database_url, args.subscribers, args.workers, args.idle_runs, args.page_pause)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
