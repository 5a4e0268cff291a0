"""Operations endpoint ``/metrics`` (Prometheus text format; ``/healthz`` and ``/readyz``
live in :mod:`newsletter.web.public`). Mounted by :mod:`newsletter.web.admin`.

``/metrics`` names sources and counts subscribers, so it is not public: with
``web.metrics_token`` set (environment only), a scraper sends ``Authorization: Bearer
<token>`` from anywhere; without one, only clients in ``web.metrics_networks`` (loopback by
default) are answered. A request that carries any proxy header (``X-Real-IP``,
``X-Forwarded-*``, ``Forwarded``, ``X-Client-IP``, ``True-Client-IP``,
``CF-Connecting-IP``) was relayed: its peer address is the proxy's (or, behind a trusted
proxy, the client's as the proxy claims it), so without the token it is refused rather
than taken for a local one.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
from collections.abc import Mapping

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from newsletter.config import WebConfig
from newsletter.metrics import render
from newsletter.web.rendering import context_of
from newsletter.web.state import state_of

router = APIRouter()
# Headers a relaying proxy sets; the peer address is then the proxy's, not the scraper's.
PROXY_HEADERS = frozenset(
    ("forwarded", "x-real-ip", "x-client-ip", "true-client-ip", "cf-connecting-ip")
)


def metrics_refusal(
    web: WebConfig, client: str | None, headers: Mapping[str, str]
) -> tuple[int, str] | None:
    """Why this request may not read the metrics (status and German reason), or None."""
    if web.metrics_token:
        expected = f"Bearer {web.metrics_token}".encode()
        if hmac.compare_digest(headers.get("authorization", "").encode(), expected):
            return None
        return 401, "Metriken nur mit gültigem Token (Authorization: Bearer …)."
    if relayed(headers):
        return 403, (
            "Metriken nicht über einen Proxy (die Absenderadresse ist dann die des Proxys);"
            " direkt abfragen oder web.metrics_token setzen."
        )
    if not _in_networks(client, web.metrics_networks):
        return (
            403,
            "Metriken nur aus den Netzen in web.metrics_networks oder mit web.metrics_token.",
        )
    return None


def relayed(headers: Mapping[str, str]) -> bool:
    """True when a proxy header is present (``X-Forwarded-*`` or one of PROXY_HEADERS)."""
    names = {name.lower() for name in headers}
    return bool(names & PROXY_HEADERS) or any(n.startswith("x-forwarded-") for n in names)


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
    body = await asyncio.to_thread(render, state_of(request.app).metrics)
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
