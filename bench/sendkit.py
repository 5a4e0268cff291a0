"""Pieces the send benchmarks share (``bench_send.py``, ``bench_load.py``): an SMTP sink in
its own process, seeding confirmed subscribers, the digest's bytes as the service would
send them, a plain smtplib client pool as the raw baseline, and peak RSS of a process.

Not a benchmark itself (``bench/run.py`` runs only ``bench_*.py``).
"""

from __future__ import annotations

import multiprocessing
import os
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from newsletter.context import Context  # noqa: E402
from newsletter.mail import sending  # noqa: E402
from newsletter.mail.compose import personal_message, prepare_digest  # noqa: E402
from tests.delivery_helpers import seed_confirmed  # noqa: E402
from tests.livesrv import stop_process  # noqa: E402

HERE = Path(__file__).resolve().parent


def start_sink(port: int, record: Path | None = None) -> subprocess.Popen[bytes]:
    """An aiosmtpd sink on loopback in its own process (not sharing the driver's GIL).

    Without ``record``: aiosmtpd's discarding ``Sink``. With it: ``countsink.py``, which
    appends ``address size time`` per recipient to that file."""
    if record is None:
        command = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}"]
        command += ["-c", "aiosmtpd.handlers.Sink"]
    else:
        command = [sys.executable, str(HERE / "countsink.py"), str(port), str(record)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"aiosmtpd sink exited with code {proc.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.05)
    stop_process(proc)
    raise SystemExit("aiosmtpd sink did not start")


def address(n: int, prefix: str = "p") -> str:
    """Subscriber ``n``'s address; the raw baseline uses another ``prefix`` of equal length."""
    return f"{prefix}{n:05d}@example.org"


def seed(ctx: Context, count: int, regions: Sequence[str] | Callable[[int], Sequence[str]]) -> None:
    """The sample items and ``count`` confirmed subscribers, in one transaction. Subscriber
    ``n`` is in ``regions[n % len(regions)]`` (one region each, so one mail each), or in
    every region ``regions(n)`` names (several on one slot: a combined mail)."""

    def of(n: int) -> Sequence[str]:
        return regions(n) if callable(regions) else (regions[n % len(regions)],)

    seed_confirmed(ctx, count, of, address)


def digest_bytes(ctx: Context, region: str, now: datetime) -> bytes:
    """One personal message of the region's next digest, as the service builds it
    (nothing stored)."""
    digest = sending.plan(ctx, region, now, force=True)
    if digest is None:
        raise SystemExit(f"no digest to send for {region}: the sample items were not stored")
    return personal_message(ctx, prepare_digest(ctx, digest), address(0), 1, now).data


def peak_rss_kib(pid: int | str = "self") -> int:
    """VmHWM (peak resident set) of a running process, in KiB; 0 when it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return 0
    line = next((x for x in status.splitlines() if x.startswith("VmHWM:")), "VmHWM: 0 kB")
    return int(line.split()[1])


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs so far, from /proc/stat: the share of the
    machine in use between two readings is the busy difference over the total one."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return float(sum(fields) - idle), float(sum(fields))


def cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU time a running process has used so far; 0 when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _send_plain(job: tuple[int, str, list[tuple[str, bytes]]]) -> tuple[float, int, float]:
    """One smtplib connection sends each (recipient, bytes); (seconds, peak RSS KiB,
    CPU seconds of the sending)."""
    port, envelope, mails = job
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        cpu, started = cpu_seconds(), time.perf_counter()
        for recipient, data in mails:
            smtp.sendmail(envelope, [recipient], data)
        elapsed = time.perf_counter() - started
    return elapsed, peak_rss_kib(), cpu_seconds() - cpu


@dataclass
class RawRun:
    seconds: float  # the slowest client's, from its first mail
    rss_kib: list[int]  # each client's peak
    cpu_seconds: float  # all clients together, while sending


def raw_pool(port: int, envelope: str, mails: Sequence[tuple[str, bytes]], clients: int) -> RawRun:
    """Send ``mails`` with ``clients`` plain smtplib clients, each in its own process and
    on one reused connection (the workers' strategy)."""
    jobs = [(port, envelope, list(mails[i::clients])) for i in range(clients)]
    with multiprocessing.get_context("spawn").Pool(clients) as pool:
        results = pool.map(_send_plain, jobs, chunksize=1)
    return RawRun(max(r[0] for r in results), [r[1] for r in results], sum(r[2] for r in results))
