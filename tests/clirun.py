"""Run the real ``newsletter`` command on a config file written into a test's tmp dir."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CLI = str(Path(sys.executable).parent / "newsletter")
CONFIG = """
[site]
timezone = "{timezone}"
[storage]
database_url = "{database_url}"
data_dir = "{tmp}/var"
[mail]
maildir = "{tmp}/mail"
from_address = "{from_address}"
[web]
secret_key = "{secret_key}"
[[regions]]
key = "zwickau"
name = "Zwickau"
districts = ["14524", "14523"]
"""


def write_config(tmp: Path, **values: str) -> Path:
    """``tmp/config.toml``: SQLite in ``tmp/var``, Maildir, one region; ``values`` override."""
    settings = {
        "timezone": "Europe/Berlin",
        "database_url": f"sqlite:///{tmp}/var/newsletter.db",
        "from_address": "newsletter@example.org",
        "secret_key": "test-secret-key-not-for-production",
        "tmp": str(tmp),
    } | values
    path = tmp / "config.toml"
    path.write_text(CONFIG.format(**settings), encoding="utf-8")
    return path


def run_cli(config: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the installed ``newsletter`` command with this config (and extra environment)."""
    return subprocess.run(
        [CLI, "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=os.environ | env,
    )
