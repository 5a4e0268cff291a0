"""Private targets are refused on the address actually connected to (DNS rebinding)."""

from __future__ import annotations

import ipaddress
import socket
import threading

import httpcore
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


def _allow_loopback(address: Address) -> bool:
    return address == LOOPBACK


def test_a_server_that_never_answers_is_an_httpx_timeout_with_the_cause_kept() -> None:
    """The transport maps httpcore's errors to httpx's, as the fetcher expects them."""
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        transport = GuardedTransport(LIMITS, lambda h, p: ["127.0.0.1"], _allow_loopback)
        with (
            httpx.Client(transport=transport, timeout=0.3, trust_env=False) as client,
            pytest.raises(httpx.ReadTimeout) as caught,
        ):
            client.get(f"http://feeds.example.org:{port}/feed.xml")
    assert isinstance(caught.value.__cause__, httpcore.ReadTimeout)


def test_a_body_cut_off_mid_stream_is_an_httpx_error() -> None:
    """Errors while the body streams are mapped too (the fetcher reads in chunks)."""
    with socket.create_server(("127.0.0.1", 0)) as server:

        def answer_short() -> None:
            conn, _ = server.accept()
            with conn:
                conn.recv(4096)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nabc")

        thread = threading.Thread(target=answer_short)
        thread.start()
        transport = GuardedTransport(LIMITS, lambda h, p: ["127.0.0.1"], _allow_loopback)
        url = f"http://feeds.example.org:{server.getsockname()[1]}/feed.xml"
        with (
            httpx.Client(transport=transport, trust_env=False) as client,
            client.stream("GET", url) as response,
            pytest.raises(httpx.RemoteProtocolError) as caught,
        ):
            response.read()
        thread.join()
    assert isinstance(caught.value.__cause__, httpcore.RemoteProtocolError)
