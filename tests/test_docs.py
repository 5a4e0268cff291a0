"""Every configuration option and every CLI command is documented in the README."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from newsletter.config import Config, RegionConfig, SourceConfig

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _documented_keys() -> list[str]:
    keys: list[str] = []
    for section, field in Config.model_fields.items():
        model = field.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            keys += [f"{section}.{name}" for name in model.model_fields]
    keys += [f"regions[].{name}" for name in RegionConfig.model_fields]
    keys += [f"sources[].{name}" for name in SourceConfig.model_fields]
    return keys


@pytest.mark.parametrize("key", _documented_keys())
def test_config_key_is_documented(key: str) -> None:
    assert f"`{key}`" in README, f"{key} is missing from the README configuration table"


def test_readme_opens_with_the_two_commands() -> None:
    head = README.splitlines()[:6]
    assert any(line.startswith("make run") for line in head)
    assert any(line.startswith("make test") for line in head)


def _commands() -> list[str]:
    import typer.main

    from newsletter.cli import app

    group = typer.main.get_command(app)
    names: list[str] = []
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        subs = getattr(command, "commands", None)
        names += [f"{name} {sub}" for sub in subs] if subs else [name]
    return names


@pytest.mark.parametrize("command", _commands())
def test_cli_command_is_documented(command: str) -> None:
    assert f"newsletter {command}" in README, f"`newsletter {command}` is not in the README"
