"""ASGI middleware: warn once when the public address is https but requests arrive as http.

Without ``web.trusted_proxies``, uvicorn ignores ``X-Forwarded-Proto``, so behind an HTTPS
proxy every request looks like plain http and the session and CSRF cookies go out without
``Secure``. The operator sees one warning in the log on the first such request.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger("newsletter.web")
HINT = (
    "site.base_url is https but requests arrive as http: cookies are sent without Secure. "
    "Behind an HTTPS proxy, list it in web.trusted_proxies so X-Forwarded-Proto is honoured."
)


def plain_http_behind_https(base_url: str, scheme: str) -> bool:
    return base_url.startswith("https://") and scheme == "http"


class PlainHttpWarning:
    """Logs :data:`HINT` once per process, on the first http request of an https site."""

    def __init__(self, app: ASGIApp, *, base_url: str) -> None:
        self.app = app
        self.base_url = base_url
        self.warned = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scheme = scope.get("scheme", "http") if scope["type"] == "http" else ""
        if not self.warned and plain_http_behind_https(self.base_url, scheme):
            self.warned = True
            log.warning(HINT)
        await self.app(scope, receive, send)
