"""The CLI's one error path: German line on stderr, exit code, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from newsletter.cli import app
from newsletter.cli.base import fail, run_cli


def test_fail_exit_code_reaches_the_caller() -> None:
    probe = typer.Typer()

    @probe.command()
    def broken() -> None:
        raise fail("kaputt", 3)

    assert run_cli(probe, []) == 3


def test_config_error_is_one_german_line_with_exit_78(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "config.toml"
    bad.write_text("[mail]\nsmtp_prot = 25\n", encoding="utf-8")
    assert run_cli(app, ["--config", str(bad), "init-db"]) == 78
    err = capsys.readouterr().err
    assert "Zeile 2" in err and "smtp_prot" in err and "Traceback" not in err


def test_each_invocation_reads_its_own_config(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(
        f'[storage]\ndatabase_url = "sqlite:///{tmp_path / "a.db"}"\n', encoding="utf-8"
    )
    bad = tmp_path / "bad.toml"
    bad.write_text("[mail]\nsmtp_prot = 25\n", encoding="utf-8")
    assert run_cli(app, ["--config", str(good), "init-db"]) == 0
    assert run_cli(app, ["--config", str(bad), "init-db"]) == 78
