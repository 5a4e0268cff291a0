"""``create_app(context)``: the FastAPI application factory and its one error handler."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from newsletter import __version__, metrics
from newsletter.context import Context
from newsletter.errors import NewsletterError
from newsletter.templating import templates_dir
from newsletter.web import admin, api, archive, feeds, public, subscribe
from newsletter.web.auth import login_pool
from newsletter.web.bodylimit import MB, BodyLimit
from newsletter.web.feeds import FeedCache
from newsletter.web.import_jobs import ImportJobs
from newsletter.web.pages import PageCache
from newsletter.web.rendering import render
from newsletter.web.schemecheck import PlainHttpWarning
from newsletter.web.state import WebState

log = logging.getLogger(__name__)
UPLOAD_LIMITS = {"/admin/abonnenten/import": 10 * MB}  # CSV rosters; every other body 1 MB


def create_app(context: Context) -> FastAPI:
    """Build the app around an already initialised :class:`Context`."""
    app = FastAPI(
        title="ASSKomm Nachrichten API",
        version=__version__,
        docs_url=None,  # no Swagger UI: it would load scripts from a CDN
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    app.state.web = _state(context)
    app.mount("/static", StaticFiles(directory=templates_dir() / "static"), name="static")
    for module in (public, feeds, subscribe, admin, api, archive):
        app.include_router(module.router)
    app.add_exception_handler(NewsletterError, _handle_newsletter_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _handle_http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _handle_validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _handle_unexpected)
    app.add_middleware(BodyLimit, refuse=error_response, default=MB, paths=UPLOAD_LIMITS)
    app.add_middleware(PlainHttpWarning, base_url=context.config.site.base_url)
    return app


def _state(context: Context) -> WebState:
    """Everything the app keeps between requests, made once here."""
    feed_requests = metrics.FeedRequests()
    return WebState(
        context=context,
        feed_cache=FeedCache(context.config),
        login_pool=login_pool(),
        imports=ImportJobs(),
        feed_requests=feed_requests,
        metrics=metrics.registry_for(context, feed_requests),
        page_cache=PageCache(context.config),
    )


def wants_json(request: Request) -> bool:
    """API paths and clients that ask for JSON get JSON errors; browsers get a page."""
    accept = request.headers.get("accept", "")
    return request.url.path.startswith("/api/") or (
        "application/json" in accept and "text/html" not in accept
    )


def error_response(request: Request, status: int, message: str) -> Response:
    """The one place an error becomes what a user sees: a German page or a JSON body."""
    if wants_json(request):
        return JSONResponse({"error": {"status": status, "message": message}}, status_code=status)
    return render(request, "error.html", {"status": status, "message": message}, status=status)


async def _handle_newsletter_error(request: Request, exc: NewsletterError) -> Response:
    return error_response(request, exc.http_status, exc.message)


_HTTP_MESSAGES = {
    400: "Das Formular ließ sich nicht lesen (zu groß oder fehlerhaft).",
    404: "Diese Seite gibt es nicht.",
    405: "Diese Aktion ist hier nicht möglich.",
    401: "Bitte melden Sie sich an.",
    403: "Dafür fehlt die Berechtigung.",
}


async def _handle_http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """Our own details are German; Starlette's (404, 405, a form it could not parse: 400)
    are replaced by ours."""
    detail = (
        exc.detail
        if isinstance(exc.detail, str) and exc.status_code not in (400, 404, 405)
        else None
    )
    message = detail or _HTTP_MESSAGES.get(exc.status_code, "Die Anfrage ist fehlgeschlagen.")
    response = error_response(request, exc.status_code, message)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _handle_validation_error(request: Request, exc: RequestValidationError) -> Response:
    """A bad path id is a page that does not exist (404); a bad query parameter of a page
    is a bad request (400); the API keeps its documented 422."""
    places = {e["loc"][0] for e in exc.errors()}
    if "path" in places:
        return error_response(request, 404, _HTTP_MESSAGES[404])
    fields = ", ".join(str(e["loc"][-1]) for e in exc.errors())
    status = 422 if wants_json(request) or places != {"query"} else 400
    return error_response(request, status, f"Die Eingabe ist ungültig ({fields}).")


async def _handle_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(
        request, 500, "Ein interner Fehler ist aufgetreten. Bitte versuchen Sie es später erneut."
    )
