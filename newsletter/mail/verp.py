"""VERP: a per-delivery envelope sender, so a bounce names the delivery it is about. Pure.

With ``bounces.verp`` on, each delivery leaves with ``MAIL FROM:<bounces+<id>-<mac>@domain>``
(Variable Envelope Return Path): a bounce comes back to that address, and the job
(:mod:`newsletter.mail.bounces`) reads the delivery id from it. ``<mac>`` is an HMAC of the
id under the site secret, so nobody can forge a bounce that suspends an address of their
choice. The token is lower-case hex and digits only: mail servers may change the case of
a local part, and it stays far below the 64 octets a local part may have (RFC 5321 §4.5.3.1.1).
"""

from __future__ import annotations

import hashlib
import hmac
import re

from newsletter.config import Config

MAC_LENGTH = 16  # hex digits: 64 bits


def _mac(secret: str, delivery_id: int) -> str:
    message = f"verp:{delivery_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:MAC_LENGTH]


def verp_address(secret: str, delivery_id: int, local: str, domain: str) -> str:
    """``<local>+<id>-<mac>@<domain>`` for one delivery."""
    return f"{local}+{delivery_id}-{_mac(secret, delivery_id)}@{domain}"


def verp_pattern(local: str) -> re.Pattern[str]:
    """Finds ``<local>+<id>-<mac>@`` in any text (case-insensitive)."""
    return re.compile(
        rf"(?<![A-Za-z0-9._+-]){re.escape(local)}\+(\d{{1,18}})-([0-9a-f]{{{MAC_LENGTH}}})@",
        re.IGNORECASE,
    )


def read_verp(secret: str, texts: list[str], local: str) -> int | None:
    """The delivery id of the first VERP address in ``texts`` whose MAC holds, else None."""
    pattern = verp_pattern(local)
    for text in texts:
        for found in pattern.finditer(text):
            delivery_id = int(found.group(1))
            if hmac.compare_digest(found.group(2).lower(), _mac(secret, delivery_id)):
                return delivery_id
    return None


def verp_domain(config: Config) -> str:
    """``bounces.verp_domain``, else the domain of the envelope sender or ``From``."""
    mail = config.mail
    return (
        config.bounces.verp_domain or (mail.envelope_from or mail.from_address).rpartition("@")[2]
    )


def envelope_sender(config: Config, secret: str, delivery_id: int) -> str:
    """The ``MAIL FROM`` of a delivery: its VERP address with ``bounces.verp``, else the
    configured envelope sender (``mail.envelope_from``, else ``mail.from_address``)."""
    if config.bounces.verp:
        return verp_address(secret, delivery_id, config.bounces.verp_local, verp_domain(config))
    return config.mail.envelope_from or config.mail.from_address
