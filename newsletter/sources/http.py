"""The one HTTP fetcher of all sources (STANDARDS §8).

Conditional GET with the stored ETag/Last-Modified sent back verbatim; timeouts;
redirects followed by hand (301/308: the new URL is reported so the caller stores it;
302/303/307: followed, the old URL kept; at most ``max_redirects`` hops); 410 disables
the source; 429/503 report ``Retry-After``; the body is streamed and cut at
``max_bytes`` *after* decompression; only http(s); private and loopback targets are
refused unless allowed. Every failure is a :class:`~newsletter.errors.FetchError`
with a German message.

:class:`Fetcher` is the protocol; :class:`HttpFetcher` speaks HTTP (httpx) and
:class:`MemoryFetcher` is its in-memory twin for unit tests.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import httpx

from newsletter import __version__
from newsletter.config import Config
from newsletter.errors import FetchError
from newsletter.httpdates import parse_http_date
from newsletter.sources.netguard import GuardedTransport, any_address, deadline, refusal

PERMANENT_REDIRECTS = frozenset({301, 308})
TEMPORARY_REDIRECTS = frozenset({302, 303, 307})
RETRY_STATUSES = frozenset({429, 503})
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/json;q=0.9, application/xml;q=0.9, text/xml;q=0.9, text/html;q=0.8, */*;q=0.5"
)


@dataclass(frozen=True)
class FetchRequest:
    """One conditional GET."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    allow_private: bool = False


@dataclass(frozen=True)
class FetchResponse:
    """A 200 (with body) or 304 answer; ``moved_to`` is a permanent redirect's target."""

    url: str
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    moved_to: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")


class Fetcher(Protocol):
    """Fetches one URL; raises :class:`FetchError` on failure."""

    def fetch(self, request: FetchRequest) -> FetchResponse: ...


@dataclass(frozen=True)
class FetchSettings:
    """The parts of the config the fetcher needs."""

    timeout_seconds: float = 20.0
    deadline_seconds: float = 60.0
    max_bytes: int = 10_000_000
    max_redirects: int = 5
    concurrency: int = 10
    allow_private_hosts: bool = False
    user_agent: str = f"newsletter/{__version__}"

    @classmethod
    def from_config(cls, config: Config) -> FetchSettings:
        fetch = config.fetch
        contact = fetch.user_agent_contact or config.site.contact_email
        agent = f"newsletter/{__version__} (+{config.site.base_url}; {contact})"
        return cls(
            timeout_seconds=fetch.timeout_seconds,
            deadline_seconds=fetch.deadline_seconds,
            max_bytes=fetch.max_bytes,
            max_redirects=fetch.max_redirects,
            concurrency=fetch.concurrency,
            allow_private_hosts=fetch.allow_private_hosts,
            user_agent=agent,
        )


class HttpFetcher:
    """:class:`Fetcher` over httpx; one client (connection pool) shared by all threads.

    Requests go through :mod:`newsletter.sources.netguard` (private and local addresses
    refused on the address actually connected to) unless the source or the settings
    allow private hosts; those use a second, unguarded client.
    """

    def __init__(self, settings: FetchSettings):
        self.settings = settings
        limits = httpx.Limits(
            max_connections=max(settings.concurrency, 1) * 2,
            max_keepalive_connections=settings.concurrency,
        )
        common: dict[str, Any] = {
            "timeout": httpx.Timeout(settings.timeout_seconds),
            "follow_redirects": False,
            "headers": {"User-Agent": settings.user_agent, "Accept": ACCEPT},
            "trust_env": False,
        }
        # Both clients go through netguard's backend: it also keeps each fetch's deadline.
        self._open = httpx.Client(transport=GuardedTransport(limits, allowed=any_address), **common)
        self._guarded = (
            self._open
            if settings.allow_private_hosts
            else httpx.Client(transport=GuardedTransport(limits), **common)
        )

    def close(self) -> None:
        self._open.close()
        self._guarded.close()

    def __enter__(self) -> HttpFetcher:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def fetch(self, request: FetchRequest) -> FetchResponse:
        url, moved_to, permanent = request.url, None, True
        for _hop in range(self.settings.max_redirects + 1):
            self._check_target(url)
            result = self._get(url, request)
            if isinstance(result, FetchResponse):
                return _with_move(result, moved_to)
            status, location = result
            permanent = permanent and status in PERMANENT_REDIRECTS
            url = location
            moved_to = location if permanent else None
        raise FetchError(
            f"Zu viele Weiterleitungen (mehr als {self.settings.max_redirects})",
            url=request.url,
        )

    def _check_target(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(f"Nur http- und https-Adressen sind erlaubt: {url}", url=url)

    def _get(self, url: str, request: FetchRequest) -> FetchResponse | tuple[int, str]:
        headers = _conditional_headers(request)
        client = self._open if request.allow_private else self._guarded
        try:
            with (
                deadline(self.settings.deadline_seconds) as clock,
                client.stream("GET", url, headers=headers) as response,
            ):
                return self._handle(url, response)
        except httpx.TimeoutException as exc:
            message = f"Zeitüberschreitung nach {self.settings.timeout_seconds:g} s"
            if clock.expired():
                message = (
                    f"Abruf nach {self.settings.deadline_seconds:g} s abgebrochen "
                    "(der Server antwortet zu langsam)"
                )
            raise FetchError(message, url=url) from exc
        except httpx.HTTPError as exc:
            refused = refusal(exc)
            if refused is not None:
                raise FetchError(refused, url=url) from exc
            raise FetchError(f"Verbindung fehlgeschlagen: {_reason(exc)}", url=url) from exc

    def _handle(self, url: str, response: httpx.Response) -> FetchResponse | tuple[int, str]:
        status = response.status_code
        headers = {k.lower(): v for k, v in response.headers.items()}
        if status in PERMANENT_REDIRECTS | TEMPORARY_REDIRECTS and "location" in headers:
            return status, urljoin(url, headers["location"])
        if status == 304:
            return FetchResponse(url, 304, b"", headers)
        _raise_for_status(url, status, headers)
        body = _read_capped(response, self.settings.max_bytes, url)
        return FetchResponse(url, status, body, headers)


def _with_move(response: FetchResponse, moved_to: str | None) -> FetchResponse:
    if moved_to is None:
        return response
    return FetchResponse(response.url, response.status, response.body, response.headers, moved_to)


def _conditional_headers(request: FetchRequest) -> dict[str, str]:
    headers: dict[str, str] = {}
    if request.etag:
        headers["If-None-Match"] = request.etag
    if request.last_modified:
        headers["If-Modified-Since"] = request.last_modified
    return headers


def _raise_for_status(url: str, status: int, headers: Mapping[str, str]) -> None:
    if status == 410:
        raise FetchError(
            "Quelle dauerhaft entfernt (HTTP 410) – Quelle deaktiviert",
            url=url,
            status=410,
            permanent=True,
        )
    if status in RETRY_STATUSES:
        wait = parse_retry_after(headers.get("retry-after"))
        hint = f", erneut in {wait:.0f} s" if wait is not None else ""
        raise FetchError(
            f"Server überlastet (HTTP {status}){hint}", url=url, status=status, retry_after=wait
        )
    if status >= 400 or status < 200:
        raise FetchError(f"Server antwortet mit HTTP {status}", url=url, status=status)


def _read_capped(response: httpx.Response, max_bytes: int, url: str) -> bytes:
    """The decompressed body, aborting as soon as it grows past ``max_bytes``."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(
                f"Antwort größer als die erlaubten {_megabytes(max_bytes)} – Abruf abgebrochen",
                url=url,
                status=response.status_code,
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _megabytes(count: int) -> str:
    return f"{count / 1_000_000:.1f} MB".replace(".", ",")


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date), ``None`` if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    when = parse_http_date(value)
    if when is None:
        return None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _reason(exc: httpx.HTTPError) -> str:
    cause = exc.__cause__ or exc.__context__
    text = str(cause or exc) or exc.__class__.__name__
    return text.splitlines()[0][:200]


class MemoryFetcher:
    """In-memory twin of :class:`HttpFetcher`: URL → response or error; logs requests."""

    def __init__(self, responses: Mapping[str, FetchResponse | FetchError] | None = None):
        self.responses: dict[str, FetchResponse | FetchError] = dict(responses or {})
        self.requests: list[FetchRequest] = []
        self._lock = threading.Lock()

    def fetch(self, request: FetchRequest) -> FetchResponse:
        with self._lock:
            self.requests.append(request)
        answer = self.responses.get(request.url)
        if answer is None:
            raise FetchError(f"Verbindung fehlgeschlagen: {request.url} unbekannt", url=request.url)
        if isinstance(answer, FetchError):
            raise answer
        etag = answer.etag
        if etag is not None and request.etag == etag:
            return FetchResponse(request.url, 304, b"", answer.headers)
        return answer

    def urls(self) -> Iterable[str]:
        return [r.url for r in self.requests]
