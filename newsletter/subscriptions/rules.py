"""The rules of subscribing, as pure functions: who may be written to, for which regions.

Consent is per region and only active after the confirmation link is clicked
(UWG §7, BGH I ZR 164/09). Decide, then act: the ``plan_*`` functions take the current
per-region statuses and return a :class:`Plan`; :mod:`newsletter.subscriptions.service`
loads, applies the plan, logs and mails. Addresses and person fields are checked here
(German messages), for the form, the API, the CLI and the roster import alike.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

from newsletter.errors import InvalidAddressError, InvalidInputError
from newsletter.mail.messages import header_safe
from newsletter.models import SubscriptionStatus

CONSENT_TEXT = (
    "Ja, ich möchte den Newsletter »ASSKomm Nachrichten« für die gewählten Regionen per "
    "E-Mail erhalten. Meine Einwilligung kann ich jederzeit über den Abmeldelink in jeder "
    "E-Mail widerrufen. Hinweise zum Datenschutz habe ich gelesen."
)


MAX_FIELD = 200
MAX_EMAIL = 254  # RFC 5321 path limit minus the angle brackets
WORDED_EVENTS = ("subscribe_request", "confirm")
# bidi embeddings/overrides U+202A–U+202E, isolates U+2066–U+2069, line/paragraph separators
_INVISIBLE_LAYOUT = frozenset(
    chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x2028, 0x2029)
)


Statuses = Mapping[str, str]


@dataclass(frozen=True)
class Request:
    """Who asks, from where: what the consent log records."""

    ip: str | None = None
    user_agent: str | None = None
    actor: str | None = None


@dataclass(frozen=True)
class Plan:
    """What a step changes: the regions moving to each status."""

    pending: tuple[str, ...] = ()
    confirm: tuple[str, ...] = ()
    unsubscribe: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.pending or self.confirm or self.unsubscribe)


def plan_request(statuses: Statuses, chosen: Sequence[str]) -> Plan:
    """A form request: every chosen region not yet confirmed becomes pending.

    An empty plan means: all chosen regions are already active (send a manage link).
    """
    return Plan(
        pending=tuple(r for r in sorted(chosen) if statuses.get(r) != SubscriptionStatus.CONFIRMED)
    )


def plan_confirm(statuses: Statuses) -> Plan:
    return Plan(
        confirm=tuple(sorted(r for r, s in statuses.items() if s == SubscriptionStatus.PENDING))
    )


def plan_change(statuses: Statuses, desired: Sequence[str]) -> Plan:
    """Preferences page: ticked regions active, unticked ones (pending or active) withdrawn."""
    wanted = set(desired)
    return Plan(
        confirm=tuple(sorted(r for r in wanted if statuses.get(r) != SubscriptionStatus.CONFIRMED)),
        unsubscribe=tuple(
            sorted(
                r
                for r, s in statuses.items()
                if s != SubscriptionStatus.UNSUBSCRIBED and r not in wanted
            )
        ),
    )


def plan_unsubscribe(statuses: Statuses, region: str | None) -> Plan:
    """One region (``region``), the regions of a combined mail (``"a+b"``, its
    List-Unsubscribe link) or all of them (``None``); nothing if already withdrawn."""
    active = (r for r, s in statuses.items() if s != SubscriptionStatus.UNSUBSCRIBED)
    chosen = None if region is None else set(region.split("+"))
    return Plan(unsubscribe=tuple(sorted(r for r in active if chosen is None or r in chosen)))


def normalise_email(raw: str) -> str:
    """Trimmed, syntactically valid, domain lower-cased in its ASCII (IDNA) form, so every
    mail server takes it; a local part with umlauts would need SMTPUTF8 and is refused.
    No DNS look-up."""
    value = raw.strip()
    if len(value) > MAX_EMAIL:
        raise InvalidAddressError(
            f"Die E-Mail-Adresse darf höchstens {MAX_EMAIL} Zeichen haben.", address=value[:80]
        )
    if not value.partition("@")[0].isascii():
        raise InvalidAddressError(
            f"»{value[:80]}«: Umlaute vor dem @ können nicht zugestellt werden.", address=value
        )
    try:
        checked = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidAddressError(
            f"»{value[:80]}« ist keine gültige E-Mail-Adresse.", address=value
        ) from exc
    return f"{checked.local_part}@{checked.ascii_domain.lower()}"


def unsafe_char(ch: str) -> bool:
    """A control character (C0, DEL, C1), a bidi override or isolate, or a line or
    paragraph separator: refused in person fields, escaped when printed."""
    return unicodedata.category(ch) == "Cc" or ch in _INVISIBLE_LAYOUT


def clean_field(value: str, field: str) -> str:
    """A name or organisation: trimmed, bounded, no line breaks or other control characters
    (every entry goes through here: form, preferences, API, CLI, CSV import)."""
    text = header_safe(value.strip(), field)
    if any(unsafe_char(ch) for ch in text):
        raise InvalidInputError(
            f"»{field}« darf keine Steuerzeichen enthalten "
            "(auch keine Zeilentrenner oder Schreibrichtungszeichen).",
            field=field,
        )
    if len(text) > MAX_FIELD:
        raise InvalidInputError(f"»{field}« darf höchstens {MAX_FIELD} Zeichen haben.", field=field)
    return text
