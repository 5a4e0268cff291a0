"""The admin web under /admin: login (open) and every other page (behind the session).

Each noun has its module (``admin_dashboard``, ``admin_items``, ``admin_digests``,
``admin_subscribers``, ``admin_audit``); they are mounted here on ``protected``, whose
dependency :func:`newsletter.web.auth.require_admin` guards every route it holds.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from newsletter.web import (
    admin_audit,
    admin_dashboard,
    admin_digests,
    admin_items,
    admin_subscribers,
    auth,
    ops,
)

router = APIRouter()
router.include_router(auth.router)
router.include_router(ops.router)  # /metrics: loopback or a bearer token (see ops)

protected = APIRouter(dependencies=[Depends(auth.require_admin)])
for _module in (admin_dashboard, admin_items, admin_digests, admin_subscribers, admin_audit):
    protected.include_router(_module.router, prefix="/admin")
router.include_router(protected)
