"""Runtime state lives in one place: the process's on the Context, the web app's on its
WebState; no module keeps mutable state. Each piece threads share is guarded by a lock."""

from __future__ import annotations

import ast
import asyncio
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsletter.context import Background, Context
from newsletter.metrics import FeedRequests
from newsletter.web.import_jobs import ImportJob, ImportJobs
from newsletter.web.state import state_of
from tests._admin import app_client

PACKAGE = Path(__file__).resolve().parent.parent / "newsletter"
T0 = datetime(2026, 11, 20, 8, tzinfo=UTC)
# Per-engine state, weakly keyed by the engine it describes (store/, not runtime state).
ALLOWED = {("store/sqlitefile.py", "_OPENED")}
MUTABLE_CALLS = {"dict", "list", "set", "Counter", "defaultdict", "deque", "OrderedDict"}
MUTABLE_CALLS |= {"Lock", "RLock", "Event", "WeakKeyDictionary", "WeakValueDictionary"}


def _in_threads(count: int, work: Callable[[], object]) -> None:
    start = threading.Barrier(count)

    def run() -> None:
        start.wait()
        work()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _module_state(path: Path) -> list[str]:
    """Lower-case module-level names bound to a mutable container or a lock, and globals."""
    found = []
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        name = getattr(targets[0], "id", "") if targets else ""
        mutable = isinstance(value, ast.Dict | ast.List | ast.Set) or (
            isinstance(value, ast.Call)
            and getattr(value.func, "attr", getattr(value.func, "id", "")) in MUTABLE_CALLS
        )
        if mutable and not name.isupper() and name != "__all__":  # constants
            found.append(name)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return found + [
        f"global {', '.join(n.names)}" for n in ast.walk(tree) if isinstance(n, ast.Global)
    ]


def test_no_module_keeps_mutable_state() -> None:
    offending = [
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for name in _module_state(path)
        if (str(path.relative_to(PACKAGE)), name) not in ALLOWED
    ]
    assert offending == []


def test_the_guard_finds_module_state(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import threading\n_jobs: dict[str, int] = {}\n_lock = threading.Lock()\n")
    assert _module_state(sample) == ["_jobs", "_lock"]


class _Scheduler:
    running = True


def test_a_second_background_on_one_context_is_refused() -> None:
    background = Background()
    assert background.state() == ("disabled", None)
    background.start(_Scheduler(), expected=True, at=T0)
    with pytest.raises(RuntimeError):
        background.start(_Scheduler(), expected=True, at=T0)
    assert background.state() == ("running", T0)
    background.stop()
    assert background.state() == ("disabled", None)
    background.start(_Scheduler(), expected=False, at=T0)  # free again; disabled by config
    assert background.state() == ("disabled", T0)


def test_of_concurrent_background_starts_exactly_one_wins() -> None:
    background, won = Background(), []

    def start() -> None:
        try:
            background.start(_Scheduler(), expected=True, at=T0)
            won.append(True)
        except RuntimeError:
            won.append(False)

    _in_threads(8, start)
    assert sorted(won) == [False] * 7 + [True]


async def test_the_scheduler_state_is_per_context(ctx: Context) -> None:
    from newsletter.scheduler import scheduler_state, start_background

    other = Context(ctx.config)
    stop = await start_background(ctx)
    try:
        assert scheduler_state(ctx) == "running" and scheduler_state(other) == "disabled"
        with pytest.raises(RuntimeError):
            await start_background(ctx)
        seen = await asyncio.to_thread(scheduler_state, ctx)  # as /readyz reads it
        assert seen == "running"
    finally:
        await stop()
        other.close()
    assert scheduler_state(ctx) == "disabled"


def test_feed_requests_counted_from_many_threads_add_up() -> None:
    counts = FeedRequests()

    def count() -> None:
        for _ in range(2000):
            counts.count("rss", 200)

    _in_threads(8, count)
    assert counts.snapshot() == {("rss", 200): 16000}


def _job(admin: str = "anna") -> ImportJob:
    return ImportJob(admin=admin, filename="a.csv", data=b"", reason=None, dry_run=True)


def test_import_jobs_are_the_admins_own_and_forgotten_an_hour_after_they_ended() -> None:
    now = [0.0]
    jobs = ImportJobs(keep=3600, clock=lambda: now[0])
    old, running = _job(), _job()
    jobs.add(old)
    jobs.add(running)
    assert jobs.get(old.id, "anna") is old and jobs.get(old.id, "ben") is None
    old.ended_at = 10.0
    now[0] = 3611.0
    jobs.add(_job())
    assert jobs.get(old.id, "anna") is None  # ended more than an hour ago
    assert jobs.get(running.id, "anna") is running  # still running: kept


def test_import_jobs_added_from_many_threads_are_all_kept() -> None:
    jobs, added = ImportJobs(), []

    def add() -> None:
        for _ in range(200):
            job = _job()
            jobs.add(job)
            added.append(job)

    _in_threads(8, add)
    assert all(jobs.get(job.id, "anna") is job for job in added)


def test_two_apps_on_one_context_share_the_process_state_not_the_web_state(
    ctx: Context,
) -> None:
    first, second = app_client(ctx), app_client(ctx)
    assert first.get("/feeds/zwickau.rss").status_code == 200
    one, two = state_of(first.app), state_of(second.app)
    assert one.context is two.context is ctx
    assert one.feed_requests.snapshot() == {("rss", 200): 1}
    assert two.feed_requests.snapshot() == {}
    assert one.feed_cache is not two.feed_cache and one.imports is not two.imports
