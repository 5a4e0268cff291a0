"""Run the web app with uvicorn; scheduler and send worker start and stop with it."""

from __future__ import annotations

import errno
import logging
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from newsletter.context import Context
from newsletter.errors import ConfigError
from newsletter.logs import redact_tokens
from newsletter.memory import limit_malloc_arenas
from newsletter.web import create_app
from newsletter.web.feeds import FeedsFirst
from newsletter.web.pages import PagesFirst
from newsletter.web.state import state_of

log = logging.getLogger(__name__)


def build_app(ctx: Context, *, background: bool) -> FeedsFirst:
    """The web app behind the fast paths of cached feeds (the hottest, first) and pages;
    with ``background`` also the scheduler (and worker) in its lifespan."""
    app = create_app(ctx)
    if background:
        app.router.lifespan_context = _lifespan(ctx)
    state = state_of(app)
    return FeedsFirst(PagesFirst(app, state.page_cache), state)


def _lifespan(ctx: Context):  # type: ignore[no-untyped-def]
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        from newsletter.scheduler import start_background

        stop = await start_background(ctx)
        try:
            yield
        finally:
            await stop()

    return lifespan


def run_server(
    ctx: Context,
    *,
    host: str,
    port: int,
    background: bool = True,
    on_bound: Callable[[], None] | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM (uvicorn handles both and runs the lifespan shutdown).

    The socket is bound first: when the port is taken the command fails with one German
    line before the scheduler and the send worker (the lifespan) ever start; ``on_bound``
    is told once the port is ours (the CLI prints the next steps then)."""
    sock = bind(host, port)
    if on_bound is not None:
        on_bound()
    limit_malloc_arenas()  # before uvicorn, the scheduler and the worker start threads
    app = build_app(ctx, background=background)
    redact_tokens(logging.getLogger("uvicorn.access"))  # link tokens never in the access log
    log.info("serving on http://%s:%d (public base URL %s)", host, port, ctx.config.site.base_url)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        access_log=ctx.config.web.access_log,
        log_config=None,
        server_header=False,  # no software banner; one header less on every response
        proxy_headers=bool(ctx.config.web.trusted_proxies),
        forwarded_allow_ips=",".join(ctx.config.web.trusted_proxies) or None,
    )
    with sock:
        uvicorn.Server(config).run(sockets=[sock])


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``, or a :class:`ConfigError` naming web.port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = "ist schon belegt" if exc.errno == errno.EADDRINUSE else f"geht nicht ({exc})"
        raise ConfigError(
            f"»web.port«: {host}:{port} {reason}; läuft der Dienst schon, oder einen anderen "
            "Port wählen (--port oder web.port).",
            key="web.port",
        ) from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock
