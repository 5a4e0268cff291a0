"""Fill one recipient's values into a rendered digest: string replacement, nothing else.

No jinja2 and no premailer per recipient (:mod:`newsletter.digests` ran them once). The
values go in before the message is transfer-encoded, so quoted-printable soft line
breaks cannot split a token. In the HTML part the values are HTML-escaped (an address
may hold ``&`` or ``'``); URLs with tokens are URL-safe already.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from newsletter.config import Config
from newsletter.digests import MANAGE_URL, RECIPIENT, REGIONS, UNSUBSCRIBE_URL

PLACEHOLDERS = (UNSUBSCRIBE_URL, MANAGE_URL, RECIPIENT, REGIONS)


@dataclass(frozen=True)
class Personal:
    """What differs between two recipients of the same digest."""

    unsubscribe_url: str
    manage_url: str
    recipient: str
    regions: str


def personalise(body: str, personal: Personal, *, is_html: bool) -> str:
    """``body`` with the placeholders replaced by ``personal``'s values."""
    values = {
        UNSUBSCRIBE_URL: personal.unsubscribe_url,
        MANAGE_URL: personal.manage_url,
        RECIPIENT: personal.recipient,
        REGIONS: personal.regions,
    }
    for placeholder, value in values.items():
        body = body.replace(placeholder, html.escape(value) if is_html else value)
    return body


def region_names(config: Config, keys: list[str] | tuple[str, ...]) -> str:
    """»Dresden, Zwickau« from region keys (unknown keys shown as they are)."""
    names = []
    for key in keys:
        region = config.region(key)
        names.append(region.name if region else key)
    return ", ".join(sorted(names))


def preview_personal(config: Config, region_key: str) -> Personal:
    """What a preview shows instead of a recipient's personal values."""
    base = config.site.base_url
    return Personal(
        unsubscribe_url=f"{base}/abmelden/VORSCHAU",
        manage_url=f"{base}/einstellungen/VORSCHAU",
        recipient="empfaenger@beispiel.de",
        regions=region_names(config, [region_key]),
    )
