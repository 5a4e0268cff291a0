"""The admin web under /admin: login (open) and every other page (behind the session).

Each page has its module (``dashboard``, ``items``, ``digests``, ``subscribers``,
``audit``; ``common`` holds what they share); they are mounted here on ``protected``, whose
dependency :func:`newsletter.web.auth.require_admin` guards every route it holds.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from newsletter.web import auth, ops
from newsletter.web.admin import audit, dashboard, digests, editorial, items, subscribers

router = APIRouter()
router.include_router(auth.router)
router.include_router(ops.router)  # /metrics: loopback or a bearer token (see ops)

protected = APIRouter(dependencies=[Depends(auth.require_admin)])
for _module in (dashboard, items, digests, editorial, subscribers, audit):
    protected.include_router(_module.router, prefix="/admin")
router.include_router(protected)
