"""docs/betrieb.md, the operator guide: every configuration key is in it, every file of
deploy/ it names exists, and the commands it builds on are real commands."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.test_docs import _commands, _documented_keys

ROOT = Path(__file__).resolve().parent.parent
GUIDE = (ROOT / "docs" / "betrieb.md").read_text(encoding="utf-8")
OPERATORS_OWN = {"deploy/.env", "deploy/config.toml"}  # the guide says to create them
SECTIONS = [
    "Installation",
    "Konfiguration",
    "DNS für den Mailversand",
    "Geheimnisse",
    "Sicherung und Wiederherstellung",
    "Aktualisierung",
    "Überwachung",
    "Wenn ein Newsletter schiefging",
]


@pytest.mark.parametrize("key", _documented_keys())
def test_every_config_key_is_in_the_operator_guide(key: str) -> None:
    assert f"`{key}`" in GUIDE, f"{key} is missing from docs/betrieb.md"


def test_the_guide_has_the_sections_an_operator_needs() -> None:
    headings = re.findall(r"^## (.+)$", GUIDE, flags=re.MULTILINE)
    assert [h for h in SECTIONS if h not in headings] == []
    for topic in ("SPF", "DKIM", "DMARC", "Downgrade", "docker compose", "systemctl"):
        assert topic in GUIDE, topic


def test_every_deploy_file_the_guide_names_exists() -> None:
    named = set(re.findall(r"deploy/[\w./@-]+[\w]", GUIDE)) - OPERATORS_OWN
    assert len(named) >= 8
    missing = sorted(path for path in named if not (ROOT / path).exists())
    assert missing == []


def test_the_commands_of_the_guide_exist() -> None:
    real = set(_commands())
    used = {"backup", "restore", "init-db", "migrate", "serve", "worker", "dkim generate",
            "feeds export", "digests", "deliveries", "send", "schedule", "admin add"}  # fmt: skip
    assert used <= real, used - real
    for command in used:
        assert f"newsletter {command}" in GUIDE, command
