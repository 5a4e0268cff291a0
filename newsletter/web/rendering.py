"""Rendering web pages: the shared template context every page gets."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import URL, QueryParams

from newsletter.config import Config
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


def render_shared(
    config: Config, template: str, values: dict[str, Any] | None = None, *, address: str = "/"
) -> str:
    """A page the same for every visitor, to be cached and served to all: rendered without
    the visitor's request (``request`` is a :class:`SharedRequest` of the page's
    ``address``: its URL and query, nothing per visitor) and without a CSRF token
    (:data:`NO_VISITOR` stands in for it, and a template that writes it into the page
    fails, so no visitor's token is ever cached)."""
    return (
        environment("web")
        .get_template(template)
        .render(
            site=config.site,
            regions=config.region_list(),
            request=SharedRequest(address),
            csrf_field=CSRF_FIELD,
            csrf_token=NO_VISITOR,
            **(values or {}),
        )
    )


class SharedRequest:
    """What a shared page's template may read of »the request«: its address."""

    def __init__(self, address: str) -> None:
        self.url = URL(address)
        self.query_params = QueryParams(self.url.query)


class _NoVisitor:
    """The CSRF token of a page cached for everyone: there is none, writing it fails."""

    def __html__(self) -> str:
        raise RuntimeError(
            "a page cached for every visitor cannot carry a CSRF token: render it with "
            "render() (per visitor, uncached) or load the form's token separately"
        )

    __str__ = __html__


NO_VISITOR = _NoVisitor()

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "SAMEORIGIN",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' https: data:; style-src 'self' 'unsafe-inline'; "
        "frame-ancestors 'self'; form-action 'self'"
    ),
}


def _security_headers() -> dict[str, str]:
    return dict(SECURITY_HEADERS)
