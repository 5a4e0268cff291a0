"""Private targets are refused on the address actually connected to (DNS rebinding)."""

from __future__ import annotations

import ipaddress

import httpx
import pytest
from pytest_httpserver import HTTPServer

from newsletter.sources.netguard import (
    Address,
    GuardedTransport,
    RefusedTargetError,
    checked_addresses,
    refusal,
)

LIMITS = httpx.Limits(max_connections=2)
LOOPBACK = ipaddress.ip_address("127.0.0.1")


def _client(resolver: object, allowed: object = None) -> httpx.Client:
    options = {} if allowed is None else {"allowed": allowed}
    transport = GuardedTransport(LIMITS, resolver=resolver, **options)  # type: ignore[arg-type]
    return httpx.Client(transport=transport, trust_env=False)


def test_a_name_that_resolves_to_loopback_is_refused_before_connecting(
    httpserver: HTTPServer,
) -> None:
    """The attacker's DNS answers with 127.0.0.1: nothing reaches the local service."""
    httpserver.expect_request("/feed.xml").respond_with_data("geheim")
    url = f"http://feeds.example.org:{httpserver.port}/feed.xml"
    with (
        _client(lambda host, port: ["127.0.0.1"]) as client,
        pytest.raises(httpx.ConnectError) as caught,
    ):
        client.get(url)
    assert refusal(caught.value) == (
        "Ziel feeds.example.org (127.0.0.1) ist eine private oder lokale Adresse –"
        " abgelehnt (erlauben mit »allow_private«)"
    )
    assert len(httpserver.log) == 0


def test_the_connection_goes_to_the_checked_address_with_the_name_kept(
    httpserver: HTTPServer,
) -> None:
    """Resolved once; the socket connects to that address; Host stays the name."""
    httpserver.expect_request("/feed.xml").respond_with_data("ok")
    asked: list[tuple[str, int]] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return ["127.0.0.1"]

    def allowed(address: Address) -> bool:
        return address == LOOPBACK  # stands in for "global" on this test machine

    with _client(resolver, allowed) as client:
        response = client.get(f"http://feeds.example.org:{httpserver.port}/feed.xml")
    assert response.text == "ok"
    assert asked == [("feeds.example.org", httpserver.port)]
    ((request, _),) = httpserver.log
    assert request.headers["Host"] == f"feeds.example.org:{httpserver.port}"


@pytest.mark.parametrize(
    "addresses",
    [["93.184.215.14", "10.0.0.7"], ["::1"], ["169.254.169.254"], ["fe80::1%eth0"], ["0.0.0.0"]],
)
def test_any_local_address_among_the_answers_refuses_the_host(addresses: list[str]) -> None:
    with pytest.raises(RefusedTargetError):
        checked_addresses("feeds.example.org", addresses)


def test_global_answers_pass_in_order() -> None:
    answers = ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]
    assert checked_addresses("example.org", answers) == answers
