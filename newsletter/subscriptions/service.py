"""Subscribe, confirm (double opt-in), change, unsubscribe; the consent log; link mails.

Consent is per region and only active after the confirmation link is clicked
(UWG §7, BGH I ZR 164/09). Every step is appended to the consent log with the wording
shown and its version, so the proof can be printed for an authority (DSGVO Art. 7(1)).
Mails (confirmation, manage link) go through the outbox like every other mail.

Decide, then act: the ``plan_*`` functions take the current per-region statuses and
return a :class:`Plan`; the functions below them load, apply the plan, log and mail.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection

from newsletter.context import Context
from newsletter.errors import InvalidInputError, NotFoundError, TokenError
from newsletter.mail.outbox import enqueue_message
from newsletter.models import Subscriber, SubscriptionStatus
from newsletter.store import subscribers as store
from newsletter.store.db import transaction, utcnow
from newsletter.subscriptions.rules import (
    CONSENT_TEXT,
    WORDED_EVENTS,
    Plan,
    Request,
    clean_field,
    normalise_email,
    plan_change,
    plan_confirm,
    plan_request,
    plan_unsubscribe,
)
from newsletter.subscriptions.tokens import REVOKED, Purpose, TokenData, belongs_to
from newsletter.templating import environment

Outcome = Literal["confirm_sent", "manage_sent", "suppressed"]


# --- decisions (pure) ----------------------------------------------------------------


def check_regions(ctx: Context, regions: Sequence[str]) -> list[str]:
    known = {r.key for r in ctx.config.region_list()}
    unknown = [r[:64] for r in regions if r not in known]
    if unknown:
        raise InvalidInputError(f"Unbekannte Region: {', '.join(unknown)}", field="regions")
    if not regions:
        raise InvalidInputError("Bitte wählen Sie mindestens eine Region.", field="regions")
    return sorted(set(regions))


@dataclass(frozen=True)
class Signup:
    email: str
    name: str
    organisation: str
    regions: tuple[str, ...]


def validate_signup(
    ctx: Context, *, email: str, name: str, organisation: str, regions: Sequence[str], consent: bool
) -> tuple[Signup | None, dict[str, str]]:
    """Check every field of the form at once: the valid request, or German errors by field."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    checks: dict[str, Callable[[], object]] = {
        "email": lambda: _entered_email(email),
        "name": lambda: clean_field(name, "Name"),
        "organisation": lambda: clean_field(organisation, "Kommune oder Organisation"),
        "regions": lambda: tuple(check_regions(ctx, regions)),
    }
    for field, check in checks.items():
        try:
            values[field] = check()
        except InvalidInputError as exc:
            errors[field] = exc.message
    if not consent:
        errors["consent"] = "Bitte bestätigen Sie die Einwilligung."
    return (None, errors) if errors else (Signup(**values), {})


def _entered_email(email: str) -> str:
    if not email.strip():
        raise InvalidInputError("Bitte geben Sie Ihre E-Mail-Adresse ein.", field="email")
    return normalise_email(email)


def email_hash(ctx: Context, email: str) -> str:
    """HMAC of the lower-cased address: key of the consent log and the suppression list."""
    key = ctx.secret_key.encode()
    return hmac.new(key, email.strip().lower().encode(), hashlib.sha256).hexdigest()


# --- actions -------------------------------------------------------------------------


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
    """Record a subscription request and mail the confirmation link (or a manage link).

    An erased (suppressed) address may come back through the form: it is double opt-in,
    and the confirmation lifts the suppression. Admin adds of such an address are refused.
    """
    address, chosen = normalise_email(email), check_regions(ctx, regions)
    name, organisation = clean_field(name, "Name"), clean_field(organisation, "Organisation")
    with transaction(ctx.engine) as conn:
        if source != "form" and store.is_suppressed(conn, email_hash(ctx, address)):
            return "suppressed"
        existing = store.find_by_email(conn, address)
        plan = plan_request(existing.subscriptions if existing else {}, chosen)
        if existing is not None and plan.empty:
            send_link_mail(ctx, conn, existing, Purpose.MANAGE)
            return "manage_sent"
        sid = (
            existing.id
            if existing
            else store.create(
                conn, email=address, name=name, organisation=organisation, source=source
            )
        )
        apply(conn, sid, plan)
        record_event(ctx, conn, sid, address, "subscribe_request", plan.pending, request, source)
        send_link_mail(ctx, conn, store.get(conn, sid), Purpose.CONFIRM)
    return "confirm_sent"


def apply(conn: Connection, subscriber_id: int, plan: Plan) -> None:
    now = utcnow()
    store.set_status(conn, subscriber_id, plan.pending, SubscriptionStatus.PENDING, now)
    store.set_status(conn, subscriber_id, plan.confirm, SubscriptionStatus.CONFIRMED, now)
    store.set_status(conn, subscriber_id, plan.unsubscribe, SubscriptionStatus.UNSUBSCRIBED, now)


def confirm(ctx: Context, subscriber_id: int, request: Request) -> Subscriber:
    """Activate every pending region (the click on the confirmation link); idempotent."""
    with transaction(ctx.engine) as conn:
        subscriber = store.get(conn, subscriber_id)
        plan = plan_confirm(subscriber.subscriptions)
        if not plan.empty:
            apply(conn, subscriber_id, plan)
            store.unsuppress(conn, email_hash(ctx, subscriber.email))
            store.clear_suspension(conn, subscriber_id)
            record_event(
                ctx, conn, subscriber_id, subscriber.email, "confirm", plan.confirm, request
            )
            if ctx.config.subscriptions.welcome_digest:
                _welcome(ctx, conn, subscriber, plan.confirm)
        return store.get(conn, subscriber_id)


def _welcome(
    ctx: Context, conn: Connection, subscriber: Subscriber, regions: Sequence[str]
) -> None:
    """Queue each newly confirmed region's latest digest for this late joiner; regions
    whose latest digests share a slot in one combined mail, unless the subscriber chose
    »eine E-Mail je Region«."""
    from newsletter.mail.sending import welcome_digests
    from newsletter.store import digests as digest_store
    from newsletter.store import outbox as queue

    if len(regions) > 1 and not subscriber.per_region:
        for digest_id in welcome_digests(ctx, conn, regions):
            queue.enqueue_welcome(conn, digest_id, subscriber.id, subscriber.email)
        return
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
        plan = plan_unsubscribe(subscriber.subscriptions, region)
        if not plan.empty:
            apply(conn, subscriber_id, plan)
            record_event(
                ctx, conn, subscriber_id, subscriber.email, "unsubscribe", plan.unsubscribe,
                request, via,
            )  # fmt: skip
        return store.get(conn, subscriber_id)


def change(
    ctx: Context,
    subscriber_id: int,
    *,
    regions: Sequence[str],
    name: str,
    organisation: str,
    request: Request,
    per_region: bool | None = None,
) -> Subscriber:
    """New choice from the preferences page (the manage link mailed to the address proves it).

    Newly ticked regions are consent given on that page: logged with the wording shown.
    ``per_region``: »eine E-Mail je Region« (None leaves it as it is).
    """
    chosen = check_regions(ctx, regions) if regions else []
    profile = {
        "name": clean_field(name, "Name"),
        "organisation": clean_field(organisation, "Organisation"),
    }
    with transaction(ctx.engine) as conn:
        subscriber = store.get(conn, subscriber_id)
        plan = plan_change(subscriber.subscriptions, chosen)
        store.update_profile(conn, subscriber_id, **profile)
        if per_region is not None and per_region != subscriber.per_region:
            store.set_per_region(conn, subscriber_id, per_region)
        if not plan.empty:
            apply(conn, subscriber_id, plan)
            store.log_consent(
                conn,
                **_event(ctx, subscriber_id, subscriber.email, "change", chosen, request),
                wording=CONSENT_TEXT if plan.confirm else None,
                detail={"added": list(plan.confirm), "removed": list(plan.unsubscribe)},
            )
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
    """An admin adds a partner: pending with a confirmation mail, or confirmed with a reason.

    An erased address is refused (``"suppressed"``): only the person can bring it back.
    """
    if confirmed_reason is None:
        return request_subscription(
            ctx, email=email, name=name, organisation=organisation, regions=regions,
            request=Request(actor=actor), source="admin",
        )  # fmt: skip
    address, chosen = normalise_email(email), check_regions(ctx, regions)
    reason = clean_field(confirmed_reason, "Grund")
    if not reason:
        raise InvalidInputError("Eine Bestätigung ohne Mail braucht einen Grund.", field="reason")
    profile = {
        "name": clean_field(name, "Name"),
        "organisation": clean_field(organisation, "Organisation"),
    }
    with transaction(ctx.engine) as conn:
        if store.is_suppressed(conn, email_hash(ctx, address)):
            return "suppressed"
        existing = store.find_by_email(conn, address)
        sid = (
            existing.id
            if existing
            else store.create(conn, email=address, source="admin", **profile)
        )
        apply(conn, sid, Plan(confirm=tuple(chosen)))
        record_event(ctx, conn, sid, address, "admin_confirm", chosen, Request(actor=actor), reason)
    return "confirm_sent"


def _event(
    ctx: Context,
    sid: int | None,
    address: str,
    event: str,
    regions: Sequence[str],
    request: Request,
) -> dict[str, Any]:
    return {
        "subscriber_id": sid,
        "email_hash": email_hash(ctx, address),
        "event": event,
        "regions": list(regions),
        "text_version": ctx.config.subscriptions.consent_text_version,
        "ip": _ip(ctx, request.ip),
        "user_agent": (request.user_agent or "")[:300] or None,
        "actor": request.actor,
    }


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
    """Append an event; requests and confirmations carry the wording shown."""
    store.log_consent(conn, **consent_event(ctx, sid, address, event, regions, request, detail))


def consent_event(
    ctx: Context,
    sid: int | None,
    address: str,
    event: str,
    regions: Sequence[str],
    request: Request,
    detail: str | None = None,
) -> dict[str, Any]:
    """The consent-log row of :func:`record_event` (for batched writes)."""
    return _event(ctx, sid, address, event, regions, request) | {
        "wording": CONSENT_TEXT if event in WORDED_EVENTS else None,
        "detail": {"note": detail} if detail else {},
    }


def _ip(ctx: Context, ip: str | None) -> str | None:
    mode = ctx.config.subscriptions.store_ip
    if ip is None or mode == "none":
        return None
    if mode == "full":
        return ip
    return "hmac:" + hmac.new(ctx.secret_key.encode(), ip.encode(), hashlib.sha256).hexdigest()[:32]


def check_link(ctx: Context, data: TokenData) -> None:
    """Refuse a token that was not issued for the subscriber row it names (an erased
    subscriber's links never reach anyone else). An unsubscribe link of an erased
    subscriber still passes: there is nothing left to unsubscribe (RFC 8058, idempotent).
    """
    with transaction(ctx.engine) as conn:
        try:
            subscriber = store.get(conn, data.subscriber_id)
        except NotFoundError:
            if data.purpose is Purpose.UNSUBSCRIBE:
                return
            raise TokenError(REVOKED) from None
    if not belongs_to(data, subscriber.link_key, subscriber.created_at):
        raise TokenError(REVOKED)


def link_token(ctx: Context, subscriber: Subscriber, purpose: Purpose) -> str:
    """A confirm or manage token bound to this subscriber (its id and link key)."""
    return ctx.tokens.make(purpose, subscriber.id, link_key=subscriber.link_key)


def send_link_mail(
    ctx: Context, conn: Connection, subscriber: Subscriber, purpose: Purpose
) -> None:
    """Confirmation or manage-link mail: only the request, no news (OLG München 29 U 1682/12)."""
    enqueue_message(conn, **link_mail(ctx, subscriber, purpose))


def link_mail(ctx: Context, subscriber: Subscriber, purpose: Purpose) -> dict[str, Any]:
    """The confirmation or manage-link mail for :func:`enqueue_message`."""
    return link_mails(ctx, [subscriber], purpose)[0]


def link_mails(
    ctx: Context, subscribers: Sequence[Subscriber], purpose: Purpose
) -> list[dict[str, Any]]:
    """:func:`link_mail` for many subscribers: the templates are rendered once per set of
    regions, then each personal link is put in (tokens are URL-safe, nothing to escape).

    The name from the form is never put into the mail: a stranger's text must not reach
    an inbox with our sender (and user data never reaches a header).
    """
    confirming = purpose is Purpose.CONFIRM
    kind, path = ("confirm", "bestaetigen") if confirming else ("manage_link", "einstellungen")
    names = {r.key: r.name for r in ctx.config.region_list()}
    wanted = SubscriptionStatus.PENDING if confirming else SubscriptionStatus.CONFIRMED
    env = environment("email")
    subject = (
        "Bitte bestätigen Sie Ihr Abonnement"
        if confirming
        else "Ihr Link zu den Newsletter-Einstellungen"
    )
    bodies: dict[tuple[str, ...], tuple[str, str]] = {}
    mails = []
    for subscriber in subscribers:
        regions = tuple(
            names.get(r, r) for r, s in sorted(subscriber.subscriptions.items()) if s == wanted
        )
        if regions not in bodies:
            values = {
                "site": ctx.config.site,
                "link": _LINK,
                "regions": list(regions),
                "days": ctx.config.subscriptions.confirm_days,
            }
            text = env.get_template(f"{kind}.txt").render(**values)
            bodies[regions] = (text, env.get_template(f"{kind}.html").render(**values))
        link = f"{ctx.config.site.base_url}/{path}/{link_token(ctx, subscriber, purpose)}"
        text, html = (body.replace(_LINK, link) for body in bodies[regions])
        mails.append(
            {
                "address": subscriber.email,
                "subject": f"{ctx.config.site.name}: {subject}",
                "text": text,
                "html": html,
                "kind": kind,
                "subscriber_id": subscriber.id,
            }
        )
    return mails


_LINK = "https://link.invalid/personal-link"  # stands in for the link while rendering


def send_fresh_link(ctx: Context, email: str) -> bool:
    """After a broken or expired link: a new confirmation link while only requests are
    pending, else a manage link. Unknown addresses get nothing (the page looks the same)."""
    address = normalise_email(email)
    with transaction(ctx.engine) as conn:
        subscriber = store.find_by_email(conn, address)
        if subscriber is None:
            return False
        statuses = set(subscriber.subscriptions.values())
        only_pending = (
            SubscriptionStatus.PENDING in statuses and SubscriptionStatus.CONFIRMED not in statuses
        )
        send_link_mail(ctx, conn, subscriber, Purpose.CONFIRM if only_pending else Purpose.MANAGE)
        return True
