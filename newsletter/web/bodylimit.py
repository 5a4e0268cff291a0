"""ASGI middleware: request bodies are limited (1 MB; CSV uploads 10 MB), answered 413.

A declared ``Content-Length`` over the limit is refused before the app runs. A body sent
without one (chunked) is counted as it streams; the byte past the limit raises a 413
:class:`~starlette.exceptions.HTTPException` inside the app's read, which the one error
edge (:mod:`newsletter.web.app`) turns into a German page or JSON body.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MB = 1024 * 1024
TOO_LARGE = 413
MESSAGE = "Die Anfrage ist zu groß (höchstens {size} MB)."

Refuse = Callable[[Request, int, str], Response]


class BodyLimit:
    """At most ``default`` bytes per request body; ``paths`` maps exact paths to their own."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        refuse: Refuse,
        default: int = MB,
        paths: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.refuse = refuse
        self.default = default
        self.paths = dict(paths or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.paths.get(scope["path"], self.default)
        message = MESSAGE.format(size=limit // MB)
        if _declared(scope) > limit:
            response = self.refuse(Request(scope), TOO_LARGE, message)
            response.headers["Connection"] = "close"
            await response(scope, receive, send)
            return
        await self.app(scope, _counting(receive, limit, message), send)


def _declared(scope: Scope) -> int:
    value = Headers(scope=scope).get("content-length", "")
    return int(value) if value.isdigit() else 0


def _counting(receive: Receive, limit: int, message: str) -> Callable[[], Awaitable[Message]]:
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        event = await receive()
        if event["type"] == "http.request":
            seen += len(event.get("body", b""))
            if seen > limit:
                raise HTTPException(TOO_LARGE, message)
        return event

    return counted
