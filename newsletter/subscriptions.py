"""Subscribe, confirm (double opt-in), change, unsubscribe, forget; the consent log.

Consent is per region and only active after the confirmation link is clicked
(UWG §7, BGH I ZR 164/09). Every step is appended to the consent log with the wording
shown and its version, so the proof can be printed for an authority (DSGVO Art. 7(1)).
Mails (confirmation, manage link) go through the outbox like every other mail.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Connection

from newsletter.context import Context
from newsletter.errors import InvalidAddressError, InvalidInputError, NotFoundError
from newsletter.messages import header_safe
from newsletter.models import Subscriber
from newsletter.outbox import enqueue_message
from newsletter.store import subscribers as store
from newsletter.store.db import transaction, utcnow
from newsletter.templating import environment
from newsletter.tokens import Purpose

CONSENT_TEXT = (
    "Ja, ich möchte den Newsletter »ASSKomm Nachrichten« für die gewählten Regionen per "
    "E-Mail erhalten. Meine Einwilligung kann ich jederzeit über den Abmeldelink in jeder "
    "E-Mail widerrufen. Hinweise zum Datenschutz habe ich gelesen."
)
MAX_FIELD = 200

Outcome = Literal["confirm_sent", "manage_sent", "suppressed"]


@dataclass(frozen=True)
class Request:
    """Who asks, from where: what the consent log records."""

    ip: str | None = None
    user_agent: str | None = None
    actor: str | None = None


def normalise_email(raw: str) -> str:
    """Trimmed, syntactically valid, domain lower-cased (no DNS look-up)."""
    value = raw.strip()
    try:
        checked = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidAddressError(
            f"»{value[:80]}« ist keine gültige E-Mail-Adresse.", address=value
        ) from exc
    return f"{checked.local_part}@{checked.domain.lower()}"


def clean_field(value: str, field: str) -> str:
    """A name or organisation: trimmed, bounded, never with line breaks."""
    text = header_safe(value.strip(), field)
    if len(text) > MAX_FIELD:
        raise InvalidInputError(f"»{field}« darf höchstens {MAX_FIELD} Zeichen haben.", field=field)
    return text


def email_hash(ctx: Context, email: str) -> str:
    """HMAC of the address: the key of the consent log and the suppression list."""
    return hmac.new(ctx.secret_key.encode(), email.encode(), hashlib.sha256).hexdigest()


def check_regions(ctx: Context, regions: Sequence[str]) -> list[str]:
    known = {r.key for r in ctx.config.region_list()}
    unknown = [r for r in regions if r not in known]
    if unknown:
        raise InvalidInputError(f"Unbekannte Region: {', '.join(unknown)}", field="regions")
    if not regions:
        raise InvalidInputError("Bitte wählen Sie mindestens eine Region.", field="regions")
    return sorted(set(regions))


def request_subscription(
    ctx: Context,
    *,
    email: str,
    name: str,
    organisation: str,
    regions: Sequence[str],
    request: Request,
    source: str = "form",
) -> Outcome:
    """Record a subscription request and mail the confirmation link (or a manage link)."""
    address, chosen = normalise_email(email), check_regions(ctx, regions)
    name, organisation = clean_field(name, "name"), clean_field(organisation, "organisation")
    with transaction(ctx.engine) as conn:
        hashed = email_hash(ctx, address)
        if store.is_suppressed(conn, hashed):
            return "suppressed"
        existing = store.find_by_email(conn, address)
        if existing is not None and set(chosen) <= set(existing.confirmed_regions()):
            send_link_mail(ctx, conn, existing, "manage_link", Purpose.MANAGE)
            return "manage_sent"
        sid = (
            existing.id
            if existing
            else store.create(
                conn, email=address, name=name, organisation=organisation, source=source
            )
        )
        new = [r for r in chosen if existing is None or r not in existing.confirmed_regions()]
        store.set_status(conn, sid, new, "pending", utcnow())
        record_event(ctx, conn, sid, address, "subscribe_request", new, request)
        send_link_mail(ctx, conn, store.get(conn, sid), "confirm", Purpose.CONFIRM)
    return "confirm_sent"


def confirm(ctx: Context, subscriber_id: int, request: Request) -> Subscriber:
    """Activate every pending region (the click on the confirmation link)."""
    with transaction(ctx.engine) as conn:
        subscriber = store.get(conn, subscriber_id)
        pending = [r for r, s in subscriber.subscriptions.items() if s == "pending"]
        if pending:
            store.set_status(conn, subscriber_id, pending, "confirmed", utcnow())
            record_event(ctx, conn, subscriber_id, subscriber.email, "confirm", pending, request)
            if ctx.config.subscriptions.welcome_digest:
                _welcome(conn, subscriber, pending)
        return store.get(conn, subscriber_id)


def _welcome(conn: Connection, subscriber: Subscriber, regions: Sequence[str]) -> None:
    """Queue each newly confirmed region's latest digest for this late joiner."""
    from newsletter.store import digests as digest_store
    from newsletter.store import outbox as queue

    for region in regions:
        latest = digest_store.latest_for_region(conn, region)
        if latest is not None and latest.id is not None:
            queue.enqueue_welcome(conn, latest.id, subscriber.id, subscriber.email)


def unsubscribe(
    ctx: Context, subscriber_id: int, region: str | None, request: Request, via: str
) -> Subscriber | None:
    """Withdraw consent for one region or all; idempotent. None if the address is gone."""
    with transaction(ctx.engine) as conn:
        try:
            subscriber = store.get(conn, subscriber_id)
        except NotFoundError:
            return None
        active = [r for r, s in subscriber.subscriptions.items() if s != "unsubscribed"]
        regions = [r for r in active if region is None or r == region]
        if regions:
            store.set_status(conn, subscriber_id, regions, "unsubscribed", utcnow())
            record_event(
                ctx, conn, subscriber_id, subscriber.email, "unsubscribe", regions, request, via
            )
        return store.get(conn, subscriber_id)


def change(
    ctx: Context,
    subscriber_id: int,
    *,
    regions: Sequence[str],
    name: str,
    organisation: str,
    request: Request,
) -> Subscriber:
    """New region choice from the preferences page (the manage link proves the address)."""
    chosen = set(check_regions(ctx, regions)) if regions else set()
    with transaction(ctx.engine) as conn:
        subscriber = store.get(conn, subscriber_id)
        now, active = utcnow(), set(subscriber.confirmed_regions())
        store.update_profile(
            conn,
            subscriber_id,
            name=clean_field(name, "name"),
            organisation=clean_field(organisation, "organisation"),
        )
        store.set_status(conn, subscriber_id, sorted(chosen - active), "confirmed", now)
        store.set_status(conn, subscriber_id, sorted(active - chosen), "unsubscribed", now)
        record_event(ctx, conn, subscriber_id, subscriber.email, "change", sorted(chosen), request)
        return store.get(conn, subscriber_id)


def admin_add(
    ctx: Context,
    *,
    email: str,
    regions: Sequence[str],
    name: str = "",
    organisation: str = "",
    confirmed_reason: str | None = None,
    actor: str = "admin",
) -> Outcome:
    """An admin adds a partner: pending with a confirmation mail, or confirmed with a reason."""
    if confirmed_reason is None:
        return request_subscription(
            ctx,
            email=email,
            name=name,
            organisation=organisation,
            regions=regions,
            request=Request(actor=actor),
            source="admin",
        )
    address, chosen = normalise_email(email), check_regions(ctx, regions)
    with transaction(ctx.engine) as conn:
        existing = store.find_by_email(conn, address)
        sid = (
            existing.id
            if existing
            else store.create(
                conn,
                email=address,
                name=clean_field(name, "name"),
                organisation=clean_field(organisation, "organisation"),
                source="admin",
            )
        )
        store.set_status(conn, sid, chosen, "confirmed", utcnow())
        record_event(
            ctx, conn, sid, address, "admin_confirm", chosen, Request(actor=actor), confirmed_reason
        )
    return "confirm_sent"


def forget(ctx: Context, email: str, actor: str) -> bool:
    """DSGVO Art. 17: delete the personal data; keep a hash so a re-import cannot re-add it."""
    address = normalise_email(email)
    with transaction(ctx.engine) as conn:
        subscriber = store.find_by_email(conn, address)
        hashed = email_hash(ctx, address)
        store.suppress(conn, hashed, "forget")
        record_event(ctx, conn, None, address, "forget", [], Request(actor=actor))
        if subscriber is None:
            return False
        store.delete_subscriber(conn, subscriber.id)
        return True


def consent_record(ctx: Context, email: str) -> list[dict[str, Any]]:
    """The consent log of an address: proof for an authority, printable any time."""
    with transaction(ctx.engine) as conn:
        return store.consent_events(conn, email_hash(ctx, normalise_email(email)))


def record_event(
    ctx: Context,
    conn: Connection,
    sid: int | None,
    address: str,
    event: str,
    regions: Sequence[str],
    request: Request,
    detail: str | None = None,
) -> None:
    store.log_consent(
        conn,
        subscriber_id=sid,
        email_hash=email_hash(ctx, address),
        event=event,
        regions=list(regions),
        text_version=ctx.config.subscriptions.consent_text_version,
        wording=CONSENT_TEXT if event in ("subscribe_request", "confirm") else None,
        ip=_ip(ctx, request.ip),
        user_agent=(request.user_agent or "")[:300] or None,
        actor=request.actor,
        detail={"note": detail} if detail else {},
    )


def _ip(ctx: Context, ip: str | None) -> str | None:
    mode = ctx.config.subscriptions.store_ip
    if ip is None or mode == "none":
        return None
    if mode == "full":
        return ip
    return "hmac:" + hmac.new(ctx.secret_key.encode(), ip.encode(), hashlib.sha256).hexdigest()[:32]


def send_link_mail(
    ctx: Context, conn: Connection, subscriber: Subscriber, kind: str, purpose: Purpose
) -> None:
    """Confirmation or manage-link mail: only the request, no news (OLG München 29 U 1682/12)."""
    base = ctx.config.site.base_url
    path = "bestaetigen" if purpose is Purpose.CONFIRM else "einstellungen"
    names = {r.key: r.name for r in ctx.config.region_list()}
    values = {
        "site": ctx.config.site,
        "link": f"{base}/{path}/{ctx.tokens.make(purpose, subscriber.id)}",
        "regions": [
            names.get(r, r)
            for r, s in sorted(subscriber.subscriptions.items())
            if s == ("pending" if purpose is Purpose.CONFIRM else "confirmed")
        ],
        "days": ctx.config.subscriptions.confirm_days,
    }
    env = environment("email")
    subject = (
        "Bitte bestätigen Sie Ihr Abonnement"
        if purpose is Purpose.CONFIRM
        else "Ihr Link zu den Newsletter-Einstellungen"
    )
    enqueue_message(
        conn,
        address=subscriber.email,
        subject=f"{ctx.config.site.name}: {subject}",
        text=env.get_template(f"{kind}.txt").render(**values),
        html=env.get_template(f"{kind}.html").render(**values),
        kind=kind,
        subscriber_id=subscriber.id,
    )


def send_manage_link(ctx: Context, email: str) -> bool:
    """Mail a manage link to a known address; unknown addresses get nothing (same page)."""
    address = normalise_email(email)
    with transaction(ctx.engine) as conn:
        subscriber = store.find_by_email(conn, address)
        if subscriber is None:
            return False
        send_link_mail(ctx, conn, subscriber, "manage_link", Purpose.MANAGE)
        return True
