"""Run an ASGI app on a real uvicorn server on a free loopback port, in a thread."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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
