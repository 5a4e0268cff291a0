"""Operations endpoint ``/metrics`` (Prometheus text format; ``/healthz`` and ``/readyz``
live in :mod:`newsletter.web.public`). Mounted by :mod:`newsletter.web.admin`."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry

from newsletter.metrics import registry_for, render
from newsletter.web.rendering import context_of

router = APIRouter()


def _registry(request: Request) -> CollectorRegistry:
    registry: CollectorRegistry | None = getattr(request.app.state, "metrics_registry", None)
    if registry is None:
        registry = registry_for(context_of(request))
        request.app.state.metrics_registry = registry
    return registry


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    body = await asyncio.to_thread(render, _registry(request))
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
