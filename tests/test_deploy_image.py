"""The container image's contents, without a container runtime: the file layout of
deploy/Dockerfile (the built wheel in a venv at the image's /opt/newsletter, the repo's
config.toml at /etc/newsletter, the data volume at /var/lib/newsletter) is built in a
temporary directory with the Dockerfile's own ENV values, and ``newsletter init-db`` and
``newsletter serve`` run in a mount namespace whose whole file system is read-only except
the data directory (compose: ``read_only: true`` plus the volume). The Dockerfile's
HEALTHCHECK command must then report the service ready.

The wheel is built and installed the way ``tests/test_wheel.py`` does it, but from only the
files that the Dockerfile's build stage copies, so a file missing from its COPY lines
fails here.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.livesrv import free_port, serving
from tests.test_wheel import build_and_install

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
IMAGE_VENV, IMAGE_ETC, IMAGE_DATA = "/opt/newsletter", "/etc/newsletter", "/var/lib/newsletter"
pytestmark = pytest.mark.slow


def instructions(text: str) -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined, comments out."""
    joined = re.sub(r"\\\n", " ", "\n".join(
        line for line in text.splitlines() if not line.lstrip().startswith("#")
    ))  # fmt: skip
    found = []
    for line in joined.splitlines():
        word, _, rest = line.strip().partition(" ")
        if word:
            found.append((word.upper(), rest.strip()))
    return found


def final_stage(text: str) -> list[tuple[str, str]]:
    steps = instructions(text)
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def image_env(text: str) -> dict[str, str]:
    """The ENV values of the final stage (``KEY=VALUE`` pairs, ``$PATH`` left as written)."""
    env: dict[str, str] = {}
    for word, rest in final_stage(text):
        if word == "ENV":
            env |= dict(pair.split("=", 1) for pair in shlex.split(rest))
    return env


def healthcheck(text: str) -> list[str]:
    (rest,) = [rest for word, rest in final_stage(text) if word == "HEALTHCHECK"]
    command: list[str] = json.loads(rest.partition("CMD")[2])
    return command


def build_context(text: str, target: Path) -> Path:
    """``target`` holding what the build stage's COPY lines take from the repository."""
    steps = instructions(text)
    starts = [i for i, (word, _) in enumerate(steps) if word == "FROM"]
    for word, rest in steps[starts[0] : starts[1]]:
        if word == "COPY":
            *sources, _destination = shlex.split(rest)  # same relative place
            for name in sources:
                here, there = ROOT / name, target / name
                if here.is_dir():
                    shutil.copytree(here, there, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    there.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(here, there)
    return target


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The image's /opt/newsletter: the wheel of the build context, in a fresh venv."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    source = build_context(text, tmp_path_factory.mktemp("context"))
    assert {p.name for p in source.iterdir()} >= {"pyproject.toml", "newsletter", "templates"}
    return build_and_install(source, tmp_path_factory.mktemp("image"))


def test_the_dockerfile_is_multi_stage_non_root_with_a_volume_and_a_healthcheck() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    steps = instructions(text)
    assert sum(word == "FROM" for word, _ in steps) == 2
    final = dict(final_stage(text))  # the last value of each instruction
    assert final["USER"] not in ("root", "0")
    assert IMAGE_DATA in final["VOLUME"]
    assert "/readyz" in " ".join(healthcheck(text))
    assert "--from=build /opt/newsletter /opt/newsletter" in text
    assert all(
        "curl" not in rest and "wget" not in rest for word, rest in steps if word == "RUN"
    )  # nothing downloaded from outside PyPI and Debian
    env = image_env(text)
    assert env["NEWSLETTER_STORAGE__DATA_DIR"] == IMAGE_DATA
    assert env["NEWSLETTER_CONFIG"] == f"{IMAGE_ETC}/config.toml"


def test_compose_runs_every_newsletter_process_read_only_with_the_data_volume() -> None:
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert {"db", "relay", "init", "web", "worker"} <= services.keys()
    for name in ("init", "web", "worker"):
        service = services[name]
        assert service["read_only"] is True, name
        assert "data:/var/lib/newsletter" in service["volumes"], name
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        assert "SECRET" not in json.dumps(service["environment"]), name  # secrets: .env
    assert services["web"]["command"] == ["newsletter", "serve"]
    assert services["worker"]["command"] == ["newsletter", "worker"]


def _layout(tmp: Path, venv: Path) -> dict[str, Path]:
    """The image's directories inside ``tmp``: /etc/newsletter with the repo's config.toml
    and an empty news folder, and an empty data directory; the venv stands for /opt."""
    etc, data = tmp / "etc" / "newsletter", tmp / "var" / "lib" / "newsletter"
    (etc / "news").mkdir(parents=True)
    data.mkdir(parents=True)
    shutil.copy(ROOT / "config.toml", etc / "config.toml")
    return {IMAGE_VENV: venv, IMAGE_ETC: etc, IMAGE_DATA: data}


def _mapped(value: str, places: dict[str, Path]) -> str:
    for image_path, here in places.items():
        value = value.replace(image_path, str(here))
    return value.replace("$PATH", os.environ["PATH"])


READ_ONLY_ROOT = """
set -e
mount --make-rprivate /
mount --bind "$DATA" "$DATA"
mount -o remount,bind,ro /
if touch "$ETC/probe" 2>/dev/null; then echo "the root file system is writable" >&2; exit 99; fi
newsletter init-db
exec newsletter serve --host 127.0.0.1
"""


def _can_mount() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False)
    return probe.returncode == 0


@pytest.mark.skipif(not _can_mount(), reason="needs unshare -m (root) for a read-only root")
def test_the_image_layout_serves_ready_on_a_read_only_root(installed: Path, tmp_path: Path) -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    places = _layout(tmp_path, installed.parent)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    env |= {key: _mapped(value, places) for key, value in image_env(text).items()}
    env |= {
        "NEWSLETTER_WEB__PORT": str(port),  # the image's 8000, on a free loopback port
        "PYTHONPATH": "",
        "DATA": str(places[IMAGE_DATA]),
        "ETC": str(places[IMAGE_ETC]),
    }
    assert env["PATH"].startswith(str(installed))
    command = ["unshare", "-m", "sh", "-c", READ_ONLY_ROOT]
    check = [_mapped(part, places).replace(":8000/", f":{port}/") for part in healthcheck(text)]
    with serving(command, port, cwd=places[IMAGE_DATA], env=env, seconds=60):
        health = subprocess.run(check, env=env, capture_output=True, text=True, check=False)
        assert health.returncode == 0, health.stderr
        with_wrong_port = [part.replace(f":{port}/", f":{free_port()}/") for part in check]
        assert subprocess.run(with_wrong_port, env=env, capture_output=True).returncode != 0
    assert (places[IMAGE_DATA] / "newsletter.db").stat().st_size > 0
    assert not (places[IMAGE_ETC] / "probe").exists()
    assert sorted(p.name for p in places[IMAGE_ETC].iterdir()) == ["config.toml", "news"]
