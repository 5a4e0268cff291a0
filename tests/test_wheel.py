"""The built wheel runs anywhere: installed into a fresh virtual environment outside the
repository, it initialises a database, collects, serves and renders a digest.

The wheel is built as a user would (``python -m build``; ``--no-isolation`` so that the
test needs no network). The fresh environment gets the dependencies from the test
environment through a path entry, never this checkout: the test asserts that the
package it runs is the installed wheel's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import urllib.request
import venv
from pathlib import Path

import pytest

from tests.livesrv import free_port, serving

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow

ITEM = """\
+++
title = "Fahrradcodierung in Werdau"
date = 2026-11-20T10:00:00+01:00
+++
Die Polizei codiert am Samstag Fahrräder auf dem Markt in Werdau.
"""


def build_and_install(source: Path, work: Path) -> Path:
    """Build the wheel of the project in ``source`` into ``work`` and install it alone into
    a fresh venv there (dependencies from the test environment); the venv's ``bin``."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(work),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = work.glob("newsletter-*.whl")
    env_dir = work / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    site = subprocess.run(
        [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # The dependencies, from the test environment; its .pth files (the editable
    # install of this checkout among them) are not processed from a path entry.
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [py, "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
    )
    return env_dir / "bin"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with only the built wheel installed into it; its ``bin`` folder."""
    return build_and_install(ROOT, tmp_path_factory.mktemp("wheel"))


PORT = free_port()


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A service folder outside the repository: config.toml and one hand-written item."""
    port = PORT
    (tmp_path / "news").mkdir()
    (tmp_path / "news" / "2026-11-20-werdau.md").write_text(ITEM, encoding="utf-8")
    config = (ROOT / "config.toml").read_text(encoding="utf-8")
    config = config.replace(
        'base_url = "http://127.0.0.1:8000"', f'base_url = "http://127.0.0.1:{port}"'
    )
    config = config.replace("port = 8000", f"port = {port}")
    (tmp_path / "config.toml").write_text(config, encoding="utf-8")
    return tmp_path


def _run(bin_dir: Path, site: Path, *args: str) -> str:
    env = os.environ | {"NEWSLETTER_CONFIG": str(site / "config.toml"), "PYTHONPATH": ""}
    done = subprocess.run(
        [str(bin_dir / "newsletter"), *args], cwd=site, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_installed_package_is_the_wheel_not_this_checkout(
    installed: Path, tmp_path: Path
) -> None:
    where = subprocess.run(
        [
            str(installed / "python"),
            "-c",
            "import newsletter, newsletter.resources as r;"
            " print(newsletter.__file__); print(r.resource_dir('templates'))",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert all(str(installed.parent) in line for line in where), where
    assert not any(str(ROOT) in line for line in where), where


def test_init_collect_serve_and_preview_from_the_wheel(installed: Path, site: Path) -> None:
    _run(installed, site, "init-db")
    _run(installed, site, "collect")
    assert "Werdau" in _run(installed, site, "items", "list")
    html = site / "preview.html"
    _run(installed, site, "digest", "preview", "--region", "zwickau", "--html", str(html))
    assert "Fahrradcodierung in Werdau" in html.read_text(encoding="utf-8")

    port = PORT
    env = os.environ | {"NEWSLETTER_CONFIG": str(site / "config.toml"), "PYTHONPATH": ""}
    command = [str(installed / "newsletter"), "serve", "--port", str(port), "--no-scheduler"]
    with serving(command, port, cwd=site, env=env):
        pages = {
            path: urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10).read()
            for path in ("/", "/feeds/zwickau.rss", "/abonnieren")
        }
    assert b"Fahrradcodierung in Werdau" in pages["/"]
    assert b"<rss" in pages["/feeds/zwickau.rss"] and b"Werdau" in pages["/feeds/zwickau.rss"]
    assert b"Regionen" in pages["/abonnieren"]
