"""A digest's per-recipient slots: unguessable placeholders, filled at their offsets only.

:func:`newsletter.digests.build_digest` renders the digest once with four placeholders
``%%NL_<KIND>_<nonce>%%``. The nonce is new for every render: 16 random hex digits and
a 24-digit HMAC of them, the region and the item ids under the site's secret. Item text
(feeds, folders, ``items add``) was written before the nonce existed and cannot forge a
tag, so a placeholder typed into an item is never a slot. The merge and the preview cut
the digest at the genuine placeholders once and put each recipient's values in at those
cut points: a value is never searched or replaced again, and no other text is touched.

No jinja2 and no premailer per recipient (:mod:`newsletter.digests` ran them once). The
values go in before the message is transfer-encoded, so quoted-printable soft line
breaks cannot split a token. In the HTML part the values are HTML-escaped (an address
may hold ``&`` or ``'``); URLs with tokens are URL-safe already.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from newsletter.config import Config
from newsletter.errors import InvalidInputError

KINDS = ("UNSUBSCRIBE_URL", "MANAGE_URL", "RECIPIENT", "REGIONS")
# A combined mail's per-region unsubscribe links: UNSUBSCRIBE_REGION_0, _1, … in the
# order of the regions in the digest's key.
REGION_KIND = "UNSUBSCRIBE_REGION_"
_KIND_PATTERN = "|".join(KINDS) + rf"|{REGION_KIND}\d{{1,2}}"
_RANDOM_HEX, _TAG_HEX = 16, 24
_CANDIDATE = re.compile(
    rf"%%NL_(?:{_KIND_PATTERN})_([0-9a-f]{{{_RANDOM_HEX}}})([0-9a-f]{{{_TAG_HEX}}})%%"
)

# A body cut at its slots: literal text, and the kind of each slot between two pieces.
Segments = tuple[str, ...]


@dataclass(frozen=True)
class Personal:
    """What differs between two recipients of the same digest."""

    unsubscribe_url: str
    manage_url: str
    recipient: str
    regions: str
    region_unsubscribe_urls: tuple[str, ...] = ()  # a combined mail: one per region

    def value(self, kind: str) -> str:
        if kind.startswith(REGION_KIND):
            index = int(kind.removeprefix(REGION_KIND))
            urls = self.region_unsubscribe_urls
            return urls[index] if index < len(urls) else self.unsubscribe_url
        return str(getattr(self, kind.lower()))


@dataclass(frozen=True)
class Placeholders:
    """The four slots of one digest, ``%%NL_<KIND>_<nonce>%%``."""

    nonce: str

    def of(self, kind: str) -> str:
        return f"%%NL_{kind}_{self.nonce}%%"

    def template_values(self) -> dict[str, str]:
        """For the templates: ``unsubscribe_url``, ``manage_url``, ``recipient``, ``regions``."""
        return {kind.lower(): self.of(kind) for kind in KINDS}

    def cut(self, body: str) -> Segments:
        """``body`` as ``(text, kind, text, kind, …, text)``: split at this digest's slots only."""
        pieces = re.split(rf"%%NL_({_KIND_PATTERN})_{self.nonce}%%", body)
        return tuple(pieces)


def new_placeholders(key: str, region: str, item_ids: Sequence[str]) -> Placeholders:
    """Fresh placeholders for one render of a region's digest of ``item_ids``."""
    random = secrets.token_hex(_RANDOM_HEX // 2)
    return Placeholders(random + _tag(key, random, region, item_ids))


def find_placeholders(key: str, region: str, item_ids: Sequence[str], *bodies: str) -> Placeholders:
    """The placeholders the template put into a stored digest: the one nonce whose tag
    holds for this digest (look-alikes from item text do not)."""
    genuine = {
        random + tag
        for body in bodies
        for random, tag in _CANDIDATE.findall(body)
        if hmac.compare_digest(tag, _tag(key, random, region, item_ids))
    }
    if len(genuine) != 1:
        raise InvalidInputError(
            "Der Rundbrief hat keine eindeutigen Platzhalter für die persönlichen Links "
            "(geheimer Schlüssel geändert?); bitte neu erstellen."
        )
    return Placeholders(genuine.pop())


def _tag(key: str, random: str, region: str, item_ids: Sequence[str]) -> str:
    message = "\0".join(("nl-digest-placeholders", random, region, *sorted(item_ids)))
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()[:_TAG_HEX]


def fill(segments: Segments, personal: Personal, *, is_html: bool) -> str:
    """The cut body with ``personal``'s values in its slots."""
    out = []
    for i, piece in enumerate(segments):
        if i % 2 == 0:
            out.append(piece)
        else:
            value = personal.value(piece)
            out.append(html.escape(value) if is_html else value)
    return "".join(out)


def personalise(body: str, placeholders: Placeholders, personal: Personal, *, is_html: bool) -> str:
    """``body`` with its slots filled with ``personal``'s values."""
    return fill(placeholders.cut(body), personal, is_html=is_html)


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
    keys = region_key.split("+")  # a combined mail's key names all its regions
    return Personal(
        unsubscribe_url=f"{base}/abmelden/VORSCHAU",
        manage_url=f"{base}/einstellungen/VORSCHAU",
        recipient="empfaenger@beispiel.de",
        regions=region_names(config, keys),
        region_unsubscribe_urls=tuple(f"{base}/abmelden/VORSCHAU" for _ in keys),
    )
