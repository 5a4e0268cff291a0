"""Run the web app with uvicorn; scheduler and send worker start and stop with it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from newsletter.context import Context
from newsletter.web import create_app
from newsletter.web.feeds import FeedsFirst

log = logging.getLogger(__name__)


def build_app(ctx: Context, *, background: bool) -> FeedsFirst:
    """The web app behind the feed fast path; with ``background`` also the scheduler (and
    worker) in its lifespan."""
    app = create_app(ctx)
    if background:
        app.router.lifespan_context = _lifespan(ctx)
    return FeedsFirst(app)


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


def run_server(ctx: Context, *, host: str, port: int, background: bool = True) -> None:
    """Serve until SIGINT/SIGTERM (uvicorn handles both and runs the lifespan shutdown)."""
    app = build_app(ctx, background=background)
    log.info("serving on http://%s:%d (public base URL %s)", host, port, ctx.config.site.base_url)
    uvicorn.run(
        app,
        host=host,
        port=port,
        access_log=ctx.config.web.access_log,
        log_config=None,
        server_header=False,  # no software banner; one header less on every response
        proxy_headers=bool(ctx.config.web.trusted_proxies),
        forwarded_allow_ips=",".join(ctx.config.web.trusted_proxies) or None,
    )
