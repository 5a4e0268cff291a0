"""Rendering web pages: the shared template context every page gets."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from newsletter.context import Context
from newsletter.templating import environment


def context_of(request: Request) -> Context:
    ctx: Context = request.app.state.context
    return ctx


def render(
    request: Request, template: str, values: dict[str, Any] | None = None, *, status: int = 200
) -> HTMLResponse:
    """Render ``templates/web/<template>`` with site, regions and feed links."""
    ctx = context_of(request)
    page = (
        environment("web")
        .get_template(template)
        .render(
            site=ctx.config.site,
            regions=ctx.config.region_list(),
            request=request,
            **(values or {}),
        )
    )
    return HTMLResponse(page, status_code=status, headers=_security_headers())


def _security_headers() -> dict[str, str]:
    return {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "SAMEORIGIN",
        "Content-Security-Policy": (
            "default-src 'self'; img-src 'self' https: data:; style-src 'self' 'unsafe-inline'; "
            "frame-ancestors 'self'; form-action 'self'"
        ),
    }
