"""Bytes built once and answered many times: strong ETag, Last-Modified, gzip, 304, HEAD.

The feeds (:mod:`newsletter.web.feeds`) and the public pages (:mod:`newsletter.web.pages`)
keep what they serve as a :class:`CachedBody`: the body and its gzip form, the validators
and the header lists of a plain 200, a gzipped 200 and a 304, all computed once per build.
:func:`respond` picks the answer for a request's validators and Accept-Encoding.

If-None-Match beats If-Modified-Since (RFC 9110 §13.2.2); a 304 carries the same ETag,
Cache-Control and Vary as the 200 (RFC 9110 §15.4.5). A rebuild giving the same bytes keeps
its ETag and Last-Modified, so clients still get 304.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache

from starlette.types import Scope, Send

from newsletter.httpdates import parse_http_date

Version = tuple[datetime | None, int]  # the store's: newest updated_at, number of items
Headers = list[tuple[bytes, bytes]]


@dataclass(frozen=True)
class CachedBody:
    version: Version
    body: bytes
    gzipped: bytes
    etag: str
    last_modified: datetime
    plain_headers: Headers  # for a 200 without compression
    gzip_headers: Headers  # for a 200 with Content-Encoding: gzip
    not_modified_headers: Headers  # for a 304

    @property
    def size(self) -> int:
        """Bytes held (both bodies), for a cache's bound."""
        return len(self.body) + len(self.gzipped)


def build_body(
    body: bytes,
    *,
    content_type: str,
    version: Version,
    fallback_time: datetime,
    previous: CachedBody | None,
    common: Callable[[str, datetime], Headers],
    full_only: Headers | None = None,
) -> CachedBody:
    """Body, gzip, ETag and headers. Same bytes as before: the previous ETag and
    Last-Modified stay. New bytes: Last-Modified is the store's newest change (else
    ``fallback_time``), and always later than the previous one (HTTP dates have whole
    seconds). ``common(etag, last_modified)`` gives the headers a 200 and a 304 share;
    ``full_only`` go with a 200 only (a 304 updates the stored response's headers with its
    own, so what it leaves out stays as the 200 said)."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    if previous is not None and previous.etag == etag:
        return replace(previous, version=version)
    modified = (version[0] or fallback_time).replace(microsecond=0)
    if previous is not None:
        modified = max(modified, previous.last_modified + timedelta(seconds=1))
    shared = common(etag, modified)
    typed = [*shared, *(full_only or []), (b"content-type", content_type.encode())]
    gzipped = gzip.compress(body, 6, mtime=0)
    return CachedBody(
        version,
        body,
        gzipped,
        etag,
        modified,
        [*typed, (b"content-length", str(len(body)).encode())],
        [*typed, (b"content-encoding", b"gzip"), (b"content-length", str(len(gzipped)).encode())],
        shared,
    )


async def send_body(entry: CachedBody, scope: Scope, send: Send) -> int:
    """Answer the request of ``scope`` from ``entry``; the status sent (200 or 304)."""
    status, headers, body = respond(entry, scope)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    return status


def respond(entry: CachedBody, scope: Scope) -> tuple[int, Headers, bytes]:
    """Status, headers and body for this request's validators and Accept-Encoding."""
    if_none_match, if_modified_since, accept_encoding = _request_headers(scope)
    if not_modified(entry, if_none_match, if_modified_since):
        return 304, entry.not_modified_headers, b""
    zipped = accepts_gzip(accept_encoding)
    headers = entry.gzip_headers if zipped else entry.plain_headers
    if scope["method"] == "HEAD":
        return 200, headers, b""
    return 200, headers, entry.gzipped if zipped else entry.body


def _request_headers(scope: Scope) -> tuple[str | None, str | None, str]:
    """If-None-Match, If-Modified-Since and Accept-Encoding (repeated lines joined)."""
    found: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        if name in (b"if-none-match", b"if-modified-since", b"accept-encoding"):
            text = value.decode("latin-1")
            found[name] = f"{found[name]}, {text}" if name in found else text
    return (
        found.get(b"if-none-match"),
        found.get(b"if-modified-since"),
        found.get(b"accept-encoding", ""),
    )


def not_modified(
    entry: CachedBody, if_none_match: str | None, if_modified_since: str | None
) -> bool:
    """If-None-Match decides when present (weak comparison); else If-Modified-Since."""
    if if_none_match is not None:
        if if_none_match == entry.etag:  # what readers send back, nearly always
            return True
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or entry.etag in tags
    if not if_modified_since:
        return False
    moment = parse_http_date(if_modified_since)
    return moment is not None and entry.last_modified <= moment


@lru_cache(maxsize=256)
def accepts_gzip(accept_encoding: str) -> bool:
    """RFC 9110 §12.5.3: ``gzip`` (or ``*``) listed with a q-value above 0."""
    weights: dict[str, float] = {}
    for part in accept_encoding.lower().split(","):
        coding, _, params = part.partition(";")
        weights[coding.strip()] = _q_value(params)
    return weights.get("gzip", weights.get("x-gzip", weights.get("*", 0.0))) > 0


def _q_value(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0
