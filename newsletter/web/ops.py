"""Operations endpoint ``/metrics`` (Prometheus text format; ``/healthz`` and ``/readyz``
live in :mod:`newsletter.web.public`). Mounted by :mod:`newsletter.web.admin`.

``/metrics`` names sources and counts subscribers, so it is not public: with
``web.metrics_token`` set (environment only), a scraper sends ``Authorization: Bearer
<token>`` from anywhere; without one, only clients in ``web.metrics_networks`` (loopback by
default) are answered. A request relayed by a proxy that is not in ``web.trusted_proxies``
carries someone else's address, so it is refused rather than taken for a local one.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
from collections.abc import Mapping

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry

from newsletter.config import WebConfig
from newsletter.metrics import registry_for, render
from newsletter.web.rendering import context_of

router = APIRouter()


def _registry(request: Request) -> CollectorRegistry:
    registry: CollectorRegistry | None = getattr(request.app.state, "metrics_registry", None)
    if registry is None:
        registry = registry_for(context_of(request))
        request.app.state.metrics_registry = registry
    return registry


def metrics_refusal(
    web: WebConfig, client: str | None, headers: Mapping[str, str]
) -> tuple[int, str] | None:
    """Why this request may not read the metrics (status and German reason), or None."""
    if web.metrics_token:
        expected = f"Bearer {web.metrics_token}".encode()
        if hmac.compare_digest(headers.get("authorization", "").encode(), expected):
            return None
        return 401, "Metriken nur mit gültigem Token (Authorization: Bearer …)."
    if not web.trusted_proxies and ("x-forwarded-for" in headers or "forwarded" in headers):
        return 403, (
            "Metriken nicht über einen Proxy, dem nicht vertraut wird (web.trusted_proxies);"
            " oder web.metrics_token setzen."
        )
    if not _in_networks(client, web.metrics_networks):
        return (
            403,
            "Metriken nur aus den Netzen in web.metrics_networks oder mit web.metrics_token.",
        )
    return None


def _in_networks(client: str | None, networks: list[str]) -> bool:
    try:
        address = ipaddress.ip_address(client or "")
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in networks)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    client = request.client.host if request.client else None
    refused = metrics_refusal(context_of(request).config.web, client, request.headers)
    if refused is not None:
        status, reason = refused
        challenge = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
        return PlainTextResponse(reason, status, headers=challenge | {"Cache-Control": "no-store"})
    body = await asyncio.to_thread(render, _registry(request))
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
