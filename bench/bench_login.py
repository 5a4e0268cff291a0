"""Benchmark: do wrong admin logins (argon2) slow down the feeds and ``/healthz``?

1. A SQLite store with one admin and 50 items in ``leipzig-nordsachsen``;
   ``newsletter serve --no-scheduler`` runs in a subprocess on a free loopback port with
   the default login limit (``web.login_rate_per_minute`` = 10 per IP).
2. Quiet: one client polls ``/feeds/leipzig-nordsachsen.rss`` and one ``/healthz``, one
   request after the other, for ``--quiet`` seconds.
3. Burst: the same two pollers while ``--clients`` attackers, each from its own loopback
   address (127.0.0.2, …), send ``--attempts`` wrong passwords each, in parallel.
4. Prints p50/p95/max of both pollers, quiet and under the burst, the login answers and
   how long the burst took. Only prints, never asserts on timing.

Usage: ``.venv/bin/python bench/bench_login.py [--clients 8] [--attempts 10] [--quiet 3]``
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_feeds import FEED_PATH, seed  # noqa: E402

from newsletter import admins  # noqa: E402
from newsletter.config import load_config  # noqa: E402
from newsletter.context import Context  # noqa: E402
from tests.livesrv import newsletter_serve, write_config  # noqa: E402
from tests.loginburst import Attackers, poll_during  # noqa: E402

NAME = "anna"


def prepare(tmp: Path) -> Path:
    config_path = write_config(tmp)
    config = load_config(config_path, environ={})
    seed(config, 50)
    ctx = Context(config)
    try:
        admins.create(ctx, NAME, "", "ein-langes-geheimes-passwort", actor="bench")
    finally:
        ctx.close()
    return config_path


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=8, help="attackers, one address each")
    parser.add_argument("--attempts", type=int, default=10, help="wrong logins per attacker")
    parser.add_argument("--quiet", type=float, default=3, help="seconds of polling without")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        with newsletter_serve(prepare(tmp), tmp / "serve.log") as served:
            base = served.url
            urls = [base + FEED_PATH, base + "/healthz"]
            quiet, _ = poll_during(urls, lambda: time.sleep(args.quiet))
            attackers = Attackers(base, args.clients)
            started = time.perf_counter()
            loud, codes = poll_during(urls, lambda: attackers.fire(NAME, args.attempts))
            took = time.perf_counter() - started
            attackers.close()
    answers = collections.Counter(codes)  # type: ignore[arg-type]
    print(
        f"burst: {args.clients} clients x {args.attempts} wrong logins in {took:.1f} s, "
        f"answers {dict(sorted(answers.items()))}"
    )
    for label, (feed, health) in (("quiet", quiet), ("burst", loud)):
        print(f"feed    {label}: {feed.line()}")
        print(f"healthz {label}: {health.line()}")
    print(f"feed p50 under burst / quiet: {loud[0].p50 / quiet[0].p50:.1f}  (goal: p50 < 50 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
