"""DSGVO Art. 15 and 17: what is stored about an address, and erasing it.

Erasure deletes the personal data and keeps only an HMAC of the address (the
suppression list), so a roster import cannot silently add it again, and the consent log's
events with times and regions as proof of past consent (Art. 17(3)(e)).
"""

from __future__ import annotations

from typing import Any

from newsletter.context import Context
from newsletter.store import subscribers as store
from newsletter.store.db import transaction
from newsletter.subscriptions.rules import Request, normalise_email
from newsletter.subscriptions.service import email_hash, record_event


def forget(ctx: Context, email: str, actor: str) -> bool:
    """DSGVO Art. 17: delete the personal data; keep a hash so a re-import cannot re-add it.

    Deleted: the subscriber, its subscriptions, its outbox rows (they hold the address),
    the IP and user agent in its consent log. Kept: the HMAC of the address, and the log's
    events with times and regions (proof of past consent, Art. 17(3)(e)).
    """
    address = normalise_email(email)
    hashed = email_hash(ctx, address)
    with transaction(ctx.engine) as conn:
        subscriber = store.find_by_email(conn, address)
        store.suppress(conn, hashed, "forget")
        store.redact_consent(conn, hashed)
        record_event(ctx, conn, None, address, "forget", [], Request(actor=actor))
        if subscriber is None:
            return False
        store.delete_subscriber(conn, subscriber.id, subscriber.email)
        return True


def consent_record(ctx: Context, email: str) -> list[dict[str, Any]]:
    """The consent log of an address: proof for an authority, printable any time."""
    with transaction(ctx.engine) as conn:
        return store.consent_events(conn, email_hash(ctx, normalise_email(email)))


def personal_data(ctx: Context, email: str) -> dict[str, Any]:
    """DSGVO Art. 15: everything stored about an address (JSON-ready, times as ISO text)."""
    address = normalise_email(email)
    with transaction(ctx.engine) as conn:
        sub = store.find_by_email(conn, address)
        data: dict[str, Any] = {
            "email": address,
            "subscriber": None,
            "suppressed": store.is_suppressed(conn, email_hash(ctx, address)),
            "consent_log": store.consent_events(conn, email_hash(ctx, address)),
        }
        if sub is not None:
            data["subscriber"] = {
                "email": sub.email, "name": sub.name, "organisation": sub.organisation,
                "ags": sub.ags, "source": sub.source, "created_at": sub.created_at,
                "bounce_count": sub.bounce_count, "suspended": sub.suspended,
                "per_region_mails": sub.per_region,
                "subscriptions": store.subscription_rows(conn, sub.id),
                "mails": store.delivery_log(conn, sub.id),
            }  # fmt: skip
    return data
