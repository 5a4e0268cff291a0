"""The generated ``secret.key``: created once, atomically, private; short keys refused."""

from __future__ import annotations

import multiprocessing
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from newsletter.config import Config
from newsletter.context import Context
from newsletter.errors import ConfigError

PROCESSES, ROUNDS = 8, 20


def _read_keys(config: Config, dirs: list[Path], barrier: Any, results: Any) -> None:
    """One process: in every round wait for all others, then read (or create) the key."""
    for number, directory in enumerate(dirs):
        storage = config.storage.model_copy(update={"data_dir": directory})
        ctx = Context(config.model_copy(update={"storage": storage}))
        barrier.wait()
        results.put((number, ctx.secret_key))
        ctx.close()


def test_parallel_processes_all_read_the_same_complete_key(
    make_config: Callable[..., Config], tmp_path: Path
) -> None:
    config = make_config(web={"secret_key": ""})
    dirs = [tmp_path / f"round{n}" / "var" for n in range(ROUNDS)]
    fork = multiprocessing.get_context("fork")
    barrier, results = fork.Barrier(PROCESSES), fork.Queue()
    workers = [
        fork.Process(target=_read_keys, args=(config, dirs, barrier, results))
        for _ in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    keys: dict[int, set[str]] = {}
    for _ in range(PROCESSES * ROUNDS):
        number, key = results.get(timeout=60)
        keys.setdefault(number, set()).add(key)
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    for number, directory in enumerate(dirs):
        (key,) = keys[number]  # one key per round, the one in the file
        assert len(key) >= 64 and (directory / "secret.key").read_text().strip() == key
        assert [p.name for p in directory.iterdir()] == ["secret.key"]  # no temporary left


def test_key_file_and_data_dir_are_private_from_creation(
    make_config: Callable[..., Config], tmp_path: Path
) -> None:
    ctx = Context(make_config(web={"secret_key": ""}))
    assert ctx.secret_key
    data_dir = tmp_path / "var"
    assert stat.S_IMODE((data_dir / "secret.key").stat().st_mode) == 0o600
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700


@pytest.mark.parametrize("content", ["", "\n", "short-key\n"])
def test_empty_or_short_key_file_is_refused(
    make_config: Callable[..., Config], tmp_path: Path, content: str
) -> None:
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "secret.key").write_text(content)
    with pytest.raises(ConfigError, match=r"web\.secret_key") as info:
        Context(make_config(web={"secret_key": ""})).secret_key  # noqa: B018
    assert info.value.exit_code == 78 and info.value.key == "web.secret_key"


def test_short_configured_key_is_refused(make_config: Callable[..., Config]) -> None:
    with pytest.raises(ValueError, match="zu kurz"):
        make_config(web={"secret_key": "only-twenty-characters"[:20]})
