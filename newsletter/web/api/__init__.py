"""JSON API under /api/v1 (bearer token: ``newsletter admin token NAME``).

The same actions as the admin pages: items (list, get, set regions), sources (list,
collect now), digests (preview, send, history), subscribers (list, add). Every route is a
:class:`~newsletter.web.api.common.TokenFirstRoute`: the token is checked
(:func:`newsletter.web.auth.require_token`) before the body is read; errors are the one JSON error body
``{"error": {"status": …, "message": …}}``. The OpenAPI document is /api/v1/openapi.json.
"""

from __future__ import annotations

from fastapi import APIRouter

from newsletter.web.api import digests, items, subscribers
from newsletter.web.api.common import errors

router = APIRouter(prefix="/api/v1", responses=errors())
for _module in (items, digests, subscribers):
    router.include_router(_module.router)
