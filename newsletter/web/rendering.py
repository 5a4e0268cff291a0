"""Rendering web pages: the shared template context every page gets."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from newsletter.context import Context
from newsletter.templating import environment
from newsletter.web.security import CSRF_FIELD, csrf_cookie_value, csrf_token, set_csrf_cookie
from newsletter.web.state import state_of


def context_of(request: Request) -> Context:
    return state_of(request.app).context


def render(
    request: Request, template: str, values: dict[str, Any] | None = None, *, status: int = 200
) -> HTMLResponse:
    """Render ``templates/web/<template>`` with site, regions and a CSRF token.

    Forms include ``<input type="hidden" name="{{ csrf_field }}" value="{{ csrf_token }}">``.
    """
    ctx = context_of(request)
    cookie, is_new = csrf_cookie_value(request)
    template_obj = environment("web").get_template(template)
    page = template_obj.render(
        site=ctx.config.site,
        regions=ctx.config.region_list(),
        request=request,
        csrf_field=CSRF_FIELD,
        csrf_token=csrf_token(ctx.secret_key, cookie),
        **(values or {}),
    )
    response = HTMLResponse(page, status_code=status, headers=_security_headers())
    if is_new:
        set_csrf_cookie(request, response, cookie)
    return response


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
