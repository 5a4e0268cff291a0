"""Shared parts of the JSON API modules: the error body, documented errors, limits."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from newsletter.errors import NewsletterError
from newsletter.web.auth import require_token


class ConflictError(NewsletterError):
    """The action is already under way (409)."""

    http_status = 409


class ErrorBody(BaseModel):
    status: int
    message: str


class ErrorOut(BaseModel):
    error: ErrorBody


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    texts = {
        400: "Ungültige Eingabe",
        401: "API-Schlüssel fehlt oder ist ungültig",
        404: "Nicht gefunden",
        409: "Konflikt",
        422: "Eingabe passt nicht zum Schema",
    }
    return {code: {"model": ErrorOut, "description": texts[code]} for code in (401, *codes)}


class TokenFirstRoute(APIRoute):
    """An API route that checks the bearer token before FastAPI reads and validates the
    body: a caller without a token gets 401, never a 422 that describes the schema."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def token_first(request: Request) -> Response:
            await run_in_threadpool(require_token, request)
            return await handler(request)

        return token_first
