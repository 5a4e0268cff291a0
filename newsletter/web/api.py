"""JSON API under /api/v1 (bearer token: ``newsletter admin token NAME``).

The same actions as the admin pages: items (list, get, set regions), sources (list,
collect now), digests (preview, send, history), subscribers (list, add). Every route
depends on :func:`newsletter.web.auth.require_token`; errors are the one JSON error body
``{"error": {"status": …, "message": …}}``. The OpenAPI document is /api/v1/openapi.json.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from newsletter.web import api_digests, api_items, api_subscribers
from newsletter.web.api_common import errors
from newsletter.web.auth import require_token

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_token)], responses=errors())
for _module in (api_items, api_digests, api_subscribers):
    router.include_router(_module.router)
