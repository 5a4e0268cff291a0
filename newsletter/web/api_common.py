"""Shared parts of the JSON API modules: the error body, documented errors, limits."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from newsletter.errors import NewsletterError


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

