"""Refuse private and local targets at connect time, on the address actually used.

Checking a host name before the request and letting the HTTP library resolve it again
to connect leaves a gap: a hostile DNS server answers the check with a public address
and the connect with ``127.0.0.1`` (DNS rebinding), and the fetcher reads an internal
service. So the check sits in the network backend: the name is resolved once, every
address it resolves to must be global, and the socket connects to one of exactly those
addresses. TLS still verifies the certificate against the host name (httpcore passes
the name, not the address, as ``server_hostname``).

:class:`GuardedTransport` is an httpx transport with this backend.

The backend also keeps each fetch's **deadline** (:func:`deadline`): httpx's timeouts
count per read, so a server that trickles one byte a second (slowloris) or keeps a
connection open would hold a fetch for ever. Every read, write and connect on a
connection gets at most the time left, and none starts after it ran out.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]
Allowed = Callable[[Address], bool]


def any_address(address: Address) -> bool:
    """The predicate for sources that may be private (``fetch.allow_private_hosts``)."""
    return True


def is_public(address: Address) -> bool:
    return address.is_global


class RefusedTargetError(httpcore.ConnectError):
    """The host resolves to a private, loopback, link-local or otherwise local address."""

    def __init__(self, host: str, address: Address) -> None:
        super().__init__(
            f"Ziel {host} ({address}) ist eine private oder lokale Adresse –"
            " abgelehnt (erlauben mit »allow_private«)"
        )


class UnresolvableError(httpcore.ConnectError):
    def __init__(self, host: str) -> None:
        super().__init__(f"Rechnername {host} nicht auflösbar")


def resolve(host: str, port: int) -> list[str]:
    """The addresses of ``host`` (an address literal resolves to itself)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UnresolvableError(host) from exc
    return [str(info[4][0]) for info in infos]


def checked_addresses(
    host: str, addresses: Iterable[str], allowed: Allowed = is_public
) -> list[str]:
    """``addresses`` if every one is allowed (global); otherwise the host is refused."""
    checked = []
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if not allowed(address):
            raise RefusedTargetError(host, address)
        checked.append(text)
    if not checked:
        raise UnresolvableError(host)
    return checked


@dataclass(frozen=True)
class Clock:
    """When the current fetch must end (monotonic seconds)."""

    ends: float

    def remaining(self) -> float:
        return self.ends - time.monotonic()

    def expired(self) -> bool:
        return self.remaining() <= 0


_current = threading.local()  # one fetch at a time per thread


@contextmanager
def deadline(seconds: float) -> Iterator[Clock]:
    """Bound every network operation of this thread's fetch to ``seconds`` in all."""
    clock = Clock(time.monotonic() + seconds)
    previous = getattr(_current, "clock", None)
    _current.clock = clock
    try:
        yield clock
    finally:
        _current.clock = previous


def _bounded(timeout: float | None) -> float | None:
    clock: Clock | None = getattr(_current, "clock", None)
    if clock is None:
        return timeout
    left = clock.remaining()
    if left <= 0:
        raise httpcore.ReadTimeout("Frist des Abrufs abgelaufen")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every operation gets at most the current fetch's time left."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _bounded(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _bounded(timeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        upgraded = self._stream.start_tls(ssl_context, server_hostname, _bounded(timeout))
        return _DeadlineStream(upgraded)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    """:class:`httpcore.SyncBackend` that connects only to checked global addresses."""

    def __init__(self, resolver: Resolver = resolve, allowed: Allowed = is_public) -> None:
        self._resolve, self._allowed = resolver, allowed
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = checked_addresses(host, self._resolve(host, port), self._allowed)
        error: Exception | None = None
        for address in addresses:  # the checked ones, in the resolver's order
            try:
                stream = self._backend.connect_tcp(
                    address, port, _bounded(timeout), local_address, socket_options
                )
                return _DeadlineStream(stream)
            except httpcore.ConnectError as exc:
                error = exc
        assert error is not None
        raise error

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("Unix-Sockets sind als Quelle nicht erlaubt")

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


# httpcore's exceptions and the httpx ones a caller expects, most specific first.
_EXCEPTIONS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextmanager
def _httpx_errors(request: httpx.Request) -> Iterator[None]:
    """Raise httpcore's errors as httpx's, with the original as ``__cause__``."""
    try:
        yield
    except Exception as exc:
        for core, mapped in _EXCEPTIONS:
            if isinstance(exc, core):
                raise mapped(str(exc), request=request) from exc
        raise


class _ResponseStream(httpx.SyncByteStream):
    def __init__(self, response: httpcore.Response, request: httpx.Request) -> None:
        self._response, self._request = response, request

    def __iter__(self) -> Iterator[bytes]:
        with _httpx_errors(self._request):
            yield from self._response.iter_stream()

    def close(self) -> None:
        self._response.close()


class GuardedTransport(httpx.BaseTransport):
    """An httpx transport over an httpcore connection pool that uses :class:`GuardedBackend`.

    Built on the public seams only (``httpx.BaseTransport``, ``httpcore.ConnectionPool``'s
    ``network_backend``): httpx's own transport takes no network backend."""

    def __init__(
        self, limits: httpx.Limits, resolver: Resolver = resolve, allowed: Allowed = is_public
    ) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),  # what httpx itself would use
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(resolver, allowed),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _httpx_errors(request):
            response = self._pool.handle_request(core)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(response, request),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._pool.close()


def refusal(exc: BaseException) -> str | None:
    """The German reason when an httpx error was a refused or unresolvable target."""
    cause = exc.__cause__
    if isinstance(cause, RefusedTargetError | UnresolvableError):
        return str(cause)
    return None
