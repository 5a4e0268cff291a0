"""The smallest ASGI app that answers like a cached feed: uvicorn's own ceiling.

``bench_feeds.py`` runs it under uvicorn with the same settings as ``newsletter serve``
(no access log, no Server header) and loads it exactly like the app: a constant 200 with
the feed's gzip bytes and headers, and a constant 304. What the app reaches is then put
next to what uvicorn itself can do on this machine.

The body and headers come from the files named by ``BARE_BODY`` and ``BARE_HEADERS`` (one
``name: value`` per line, from a real response of the app).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

BODY = Path(os.environ["BARE_BODY"]).read_bytes()
_LINES = Path(os.environ["BARE_HEADERS"]).read_text(encoding="latin-1").splitlines()
HEADERS = [tuple(part.strip().encode("latin-1") for part in line.split(":", 1)) for line in _LINES]
NOT_MODIFIED = [(name, value) for name, value in HEADERS if not name.startswith(b"content-")]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    if any(name == b"if-none-match" for name, _ in scope["headers"]):
        await send({"type": "http.response.start", "status": 304, "headers": NOT_MODIFIED})
        await send({"type": "http.response.body", "body": b""})
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
