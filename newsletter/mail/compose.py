"""One outbox row -> the bytes that go on the wire (tokens, personalisation, DKIM).

A digest row is the stored digest with this recipient's values filled in by
:mod:`newsletter.mail.mailmerge` (serialised once per digest, merged per recipient); a
transactional row (confirmation, manage link) carries its finished content in
``payload`` and gets no list headers (it is not a list mail).

The Message-ID is derived from the delivery row, so every attempt of the same delivery
carries the same Message-ID: a retry after a timeout following the final "." (maybe
delivered, RFC 5321 §4.5.3.2) can be recognised as a duplicate by the receiver.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from email.utils import make_msgid

from newsletter.context import Context
from newsletter.mail.mailmerge import MergeTemplate, prepare
from newsletter.mail.messages import Content, ListInfo, build_message, dkim_sign, to_bytes
from newsletter.mail.personalise import Personal, find_placeholders, region_names
from newsletter.models import Claimed, Digest, DigestKind, Region, joined_names
from newsletter.store import digests as digest_store
from newsletter.store.db import as_utc, transaction, utcnow
from newsletter.subscriptions.tokens import Purpose


@dataclass(frozen=True)
class Outgoing:
    """A finished message: wire bytes (CRLF, signed when DKIM is on) and its Message-ID."""

    data: bytes
    message_id: str


@dataclass(frozen=True)
class PreparedDigest:
    """A stored digest with its merge template: built once per digest and worker."""

    digest: Digest
    info: ListInfo
    template: MergeTemplate


def prepare_digest(ctx: Context, digest: Digest) -> PreparedDigest:
    names = [region.name if region else key for key, region in _regions(ctx, digest)]
    info = ListInfo(digest.region, joined_names(names), "")
    slots = find_placeholders(ctx.secret_key, digest.region, digest.item_ids, digest.text)
    template = prepare(ctx.config, digest.subject, digest.text, digest.html, info, slots)
    return PreparedDigest(digest, info, template)


def _regions(ctx: Context, digest: Digest) -> list[tuple[str, Region | None]]:
    return [(key, ctx.config.region(key)) for key in digest.regions]


def message_id_for(row: Claimed, domain: str) -> str:
    """``<nl.<delivery id>.<created, µs>@<domain>>``: stable across retries, unique per row."""
    created = as_utc(row.created_at) or utcnow()
    return f"<nl.{row.id}.{created:%Y%m%d%H%M%S%f}@{domain}>"


def render_delivery(ctx: Context, row: Claimed, cache: dict[int, PreparedDigest]) -> Outgoing:
    """The message for one delivery row: a personalised digest or a stored transactional mail."""
    when = utcnow()
    message_id = message_id_for(row, ctx.config.site.domain)
    digest_id = row.digest_id
    if digest_id is None:
        payload = row.payload or {}
        content = Content(payload["subject"], payload["text"], payload["html"])
        message = build_message(ctx.config, content, row.address, when, message_id=message_id)
        return Outgoing(wire_bytes(ctx, to_bytes(message)), message_id)
    prepared = cache.get(digest_id)
    if prepared is None:
        with transaction(ctx.engine) as conn:
            digest = digest_store.get(conn, digest_id)
        prepared = cache[digest_id] = prepare_digest(ctx, digest)
    regions = list(row.regions) or [prepared.digest.region]
    return personal_message(
        ctx, prepared, row.address, row.subscriber_id, when, regions, message_id,
        link_key=row.link_key or "",
    )  # fmt: skip


def personal_message(
    ctx: Context,
    prepared: PreparedDigest,
    address: str,
    subscriber_id: int | None,
    when: datetime,
    regions: list[str] | None = None,
    message_id: str | None = None,
    *,
    link_key: str = "",
) -> Outgoing:
    """Fill one recipient's values into the digest (no re-rendering, no re-inlining)."""
    digest = prepared.digest
    personal = personal_values(ctx, digest.region, address, subscriber_id, regions, link_key)
    if digest.kind == DigestKind.COMBINED:  # each region's own link (tokens only here)
        sid = subscriber_id or 0
        links = tuple(
            f"{ctx.config.site.base_url}/abmelden/"
            + ctx.tokens.make(Purpose.UNSUBSCRIBE, sid, key, link_key=link_key)
            for key in digest.regions
        )
        personal = replace(personal, region_unsubscribe_urls=links)
    message_id = message_id or make_msgid(domain=ctx.config.site.domain)
    data = prepared.template.render(personal, message_id, when)
    return Outgoing(wire_bytes(ctx, data), message_id)


def personal_values(
    ctx: Context,
    region: str,
    address: str,
    subscriber_id: int | None,
    regions: list[str] | None,
    link_key: str = "",
) -> Personal:
    """Signed links for this recipient and region (subscriber 0 for a test send), bound
    to the subscriber's ``link_key``."""
    base, sid, tokens = ctx.config.site.base_url, subscriber_id or 0, ctx.tokens
    unsubscribe = tokens.make(Purpose.UNSUBSCRIBE, sid, region, link_key=link_key)
    return Personal(
        unsubscribe_url=f"{base}/abmelden/{unsubscribe}",
        manage_url=f"{base}/einstellungen/{tokens.make(Purpose.MANAGE, sid, link_key=link_key)}",
        recipient=address,
        regions=region_names(ctx.config, regions or [region]),
    )


def wire_bytes(ctx: Context, data: bytes) -> bytes:
    """The message as sent: CRLF bytes, DKIM-signed when a key is configured."""
    key = ctx.dkim_key
    return data if key is None else dkim_sign(data, key)
