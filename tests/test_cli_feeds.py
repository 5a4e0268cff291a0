"""``newsletter feeds export``: all files written atomically, unchanged files skipped."""

from __future__ import annotations

from pathlib import Path

import feedparser
import pytest

from newsletter.cli import app
from newsletter.cli.base import run_cli
from newsletter.context import Context
from tests.feedfixtures import sample_items, store_items


def write_config(ctx: Context, tmp_path: Path) -> Path:
    path = tmp_path / "cli.toml"
    path.write_text(
        f'[storage]\ndatabase_url = "{ctx.config.database_url()}"\n'
        '[[regions]]\nkey = "zwickau"\nname = "Zwickau"\ndistricts = ["14524", "14523"]\n',
        encoding="utf-8",
    )
    return path


def test_export_writes_every_feed_and_skips_unchanged(
    ctx: Context, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store_items(ctx, sample_items())
    config, out = write_config(ctx, tmp_path), tmp_path / "static"
    assert run_cli(app, ["--config", str(config), "feeds", "export", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    feeds = [f"{k}.{e}" for k in ("sachsen", "zwickau") for e in ("rss", "atom", "json")]
    expected = [*feeds, "feeds.opml"]
    assert names == sorted(expected + [name + ".gz" for name in expected])
    assert feedparser.parse((out / "zwickau.atom").read_bytes()).bozo == 0
    assert "14 von 14" in capsys.readouterr().out
    before = (out / "zwickau.rss").stat().st_mtime_ns
    assert run_cli(app, ["--config", str(config), "feeds", "export", str(out)]) == 0
    assert "0 von 14" in capsys.readouterr().out
    assert (out / "zwickau.rss").stat().st_mtime_ns == before
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_export_without_directory_is_a_usage_error(ctx: Context, tmp_path: Path) -> None:
    assert run_cli(app, ["--config", str(write_config(ctx, tmp_path)), "feeds", "export"]) == 2
