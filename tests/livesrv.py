"""Real servers and commands for tests, on loopback: an ASGI app on uvicorn in a thread
(:func:`serve_app`), and the real ``newsletter`` command on a config file written by
:func:`write_config` — run to its end (:func:`run_cli`), in the background
(:func:`start_cli`) or as a server (:func:`newsletter_serve`, :func:`serving`)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn


class Clock:
    """A monotonic clock the test moves by hand (for the caches of a served app)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """Yield the base URL (``http://127.0.0.1:PORT``) while the server runs."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# a cached response asked for plainly, gzipped, with HEAD, and with each validator
# ("ETAG": the ETag of a first GET)
CONDITIONAL_REQUESTS = [
    ("GET", {}),
    ("GET", {"Accept-Encoding": "gzip"}),
    ("HEAD", {"Accept-Encoding": "gzip"}),
    ("GET", {"If-None-Match": "ETAG"}),
    ("GET", {"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}),
]


def answers_of(
    apps: tuple[Any, ...], method: str, path: str, headers: dict[str, str]
) -> list[httpx.Response]:
    """The answer of each ASGI app to one request (after a first GET of ``path``), in
    order: the same app with and without a fast path in front must answer alike."""
    import asyncio

    async def each() -> list[httpx.Response]:
        answers = []
        for target in apps:
            transport = httpx.ASGITransport(app=target)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                etag = (await client.get(path)).headers["etag"]
                sent = {k: etag if v == "ETAG" else v for k, v in headers.items()}
                answers.append(await client.request(method, path, headers=sent))
        return answers

    return asyncio.run(each())


CHROMIUM = "/usr/bin/chromium"
# Debian's Chromium as root, with nothing reaching for the network (see the env notes).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium through Playwright (a ``Browser``); fails when it is missing."""
    import pytest
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is missing: apt-get install chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def stop_process(process: subprocess.Popen[bytes], seconds: float = 10) -> int:
    """SIGTERM, wait up to ``seconds``, then SIGKILL; its exit status (also if it had ended)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


# --- the real `newsletter` command on a config file ------------------------------------

CLI = str(Path(sys.executable).parent / "newsletter")
SECRET_KEY = "test-secret-key-not-for-production"
_REPO_CONFIG = Path(__file__).resolve().parent.parent / "config.toml"
REGIONS: list[dict[str, Any]] = tomllib.loads(_REPO_CONFIG.read_text(encoding="utf-8"))["regions"]


def write_config(
    tmp: Path, database_url: str | None = None, *, name: str = "config.toml", **sections: Any
) -> Path:
    """``tmp/name`` for the real command: SQLite in ``tmp/var`` (or ``database_url``), a
    Maildir in ``tmp/mail``, a fixed secret key and the regions of the repo's config.toml;
    each keyword is a section merged over that (``regions=[...]`` replaces the regions)."""
    data: dict[str, Any] = {
        "storage": {
            "database_url": database_url or f"sqlite:///{tmp / 'var' / 'newsletter.db'}",
            "data_dir": str(tmp / "var"),
        },
        "mail": {"maildir": str(tmp / "mail")},
        "web": {"secret_key": SECRET_KEY},
        "regions": REGIONS,
    }
    for section, values in sections.items():
        merge = isinstance(values, dict) and section in data
        data[section] = data[section] | values if merge else values
    path = tmp / name
    path.write_text(_toml(data), encoding="utf-8")
    return path


def _toml(data: dict[str, Any]) -> str:
    """Tables and arrays of tables; a JSON string, number, boolean or list is TOML too."""
    lines: list[str] = []
    for section, values in data.items():
        tables = values if isinstance(values, list) else [values]
        header = f"[[{section}]]" if isinstance(values, list) else f"[{section}]"
        for table in tables:
            lines.append(header)
            lines += [f"{key} = {json.dumps(value)}" for key, value in table.items()]
    return "\n".join(lines) + "\n"


def line_of(path: Path, key: str) -> int:
    """The line number of ``key = …`` in the config file at ``path``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, 1) if line.startswith(f"{key} = "))


def run_cli(
    config: Path, *args: str, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run ``newsletter --config CONFIG ARGS`` to its end (extra environment in ``env``)."""
    return subprocess.run(
        [CLI, "--config", str(config), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=os.environ | env,
    )


def start_cli(
    config: Path, *args: str, log: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """``newsletter --config CONFIG ARGS`` in the background; output into ``log`` (else
    dropped); ``env`` is added to the environment without the tester's NEWSLETTER_*."""
    command = [CLI, "--config", str(config), *args]
    with log.open("wb") if log else open(os.devnull, "wb") as out:  # the child keeps its own
        return subprocess.Popen(command, env=_env(env), stdout=out, stderr=subprocess.STDOUT)


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    return clean | (extra or {})


def wait_for(check: Callable[[], bool], seconds: float, every: float = 0.1) -> bool:
    """Poll ``check`` until it is true (True) or ``seconds`` have passed (False)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(every)
    return False


@dataclass
class Served:
    url: str
    process: subprocess.Popen[bytes]


@contextmanager
def newsletter_serve(
    config: Path,
    log: Path,
    *extra: str,
    scheduler: bool = False,
    env: dict[str, str] | None = None,
    seconds: float = 30,
) -> Iterator[Served]:
    """``newsletter serve`` (``--no-scheduler`` unless ``scheduler``) in a subprocess on a
    free loopback port; yields its URL and process once ``/healthz`` answers, stops it
    (SIGTERM) at the end; output goes to ``log``."""
    port = free_port()
    command = [CLI, "--config", str(config), "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += [*extra] if scheduler else ["--no-scheduler", *extra]
    with (
        log.open("wb") as out,
        serving(command, port, env=_env(env), output=out, seconds=seconds) as served,
    ):
        yield served


@contextmanager
def serving(
    command: list[str],
    port: int,
    *,
    cwd: Any = None,
    env: dict[str, str] | None = None,
    output: Any = None,
    seconds: float = 30,
) -> Iterator[Served]:
    """Run ``command`` (a ``newsletter serve``) until its /healthz answers; yield its URL
    and process; stop it at the end.

    Its output goes to ``output`` (a file), else to a pipe that is read only when it fails
    to start, so the error names the cause."""
    out = output if output is not None else subprocess.PIPE
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + seconds
    try:
        while not _answers(f"{url}/healthz"):
            if process.poll() is not None or time.monotonic() > deadline:
                stop_process(process)
                said = process.stdout.read().decode(errors="replace") if process.stdout else ""
                raise RuntimeError(f"serve did not start: {said[-2000:] or output}")
            time.sleep(0.1)
        yield Served(url, process)
    finally:
        stop_process(process)
        if process.stdout:
            process.stdout.close()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code < 500
    except httpx.TransportError:
        return False
