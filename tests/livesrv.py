"""Run an ASGI app on a real uvicorn server on a free loopback port, in a thread."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn


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


def stop_process(process: subprocess.Popen[bytes], seconds: float = 10) -> None:
    """SIGTERM, wait up to ``seconds``, then SIGKILL; nothing if it already ended."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_serve(config: Path, port: int, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    """A real ``newsletter --config CONFIG serve --port PORT`` process, output into ``log``."""
    cli = Path(sys.executable).parent / "newsletter"
    command = [str(cli), "--config", str(config), "serve", "--port", str(port), *extra]
    with log.open("wb") as out:  # the child keeps its own descriptor
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)


def write_serve_config(path: Path, url: str, sections: str) -> Path:
    """A config file for ``serve`` processes on the database ``url``, plus ``sections``."""
    path.write_text(
        f'[storage]\ndatabase_url = "{url}"\ndata_dir = "{path.parent / "var"}"\n'
        f'[web]\nsecret_key = "test-secret-key-not-for-production"\n{sections}',
        encoding="utf-8",
    )
    return path


def wait_for(check: Callable[[], bool], seconds: float, every: float = 0.1) -> bool:
    """Poll ``check`` until it is true (True) or ``seconds`` have passed (False)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(every)
    return False


def serve_config(tmp: Path, database_url: str | None = None, web: str = "") -> Path:
    """A config file for ``newsletter serve``: storage in ``tmp``, the regions of the repo's
    config.toml, a fixed secret key and any further ``[web]`` lines."""
    source = (Path(__file__).resolve().parent.parent / "config.toml").read_text(encoding="utf-8")
    regions = re.findall(r"^\[\[regions\]\]\n(?:[^\[\n].*\n)*", source, flags=re.MULTILINE)
    url = database_url or f"sqlite:///{tmp / 'serve.db'}"
    text = (
        "[storage]\n"
        f'database_url = "{url}"\n'
        f'data_dir = "{tmp / "var"}"\n'
        "[web]\n"
        'secret_key = "serve-secret-key-0123456789"\n'
        f"{web}\n\n" + "\n".join(block.strip() + "\n" for block in regions)
    )
    path = tmp / "serve.toml"
    path.write_text(text, encoding="utf-8")
    return path


@contextmanager
def newsletter_serve(config: Path, log: Path, seconds: float = 30) -> Iterator[str]:
    """``newsletter serve --no-scheduler`` in a subprocess on a free loopback port; yields
    the base URL once ``/healthz`` answers; stdout and stderr go to ``log``."""
    port = free_port()
    cli = Path(sys.executable).parent / "newsletter"
    command = [str(cli), "--config", str(config), "serve", "--no-scheduler"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    with (
        log.open("wb") as out,
        serving(command, port, env=env, output=out, seconds=seconds) as base,
    ):
        yield base


@contextmanager
def serving(
    command: list[str],
    port: int,
    *,
    cwd: Any = None,
    env: dict[str, str] | None = None,
    output: Any = None,
    seconds: float = 30,
) -> Iterator[str]:
    """Run ``command`` (a ``newsletter serve``) until its /healthz answers; yield its URL.

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
        yield url
    finally:
        stop_process(process)
        if process.stdout:
            process.stdout.close()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code < 500
    except httpx.TransportError:
        return False
