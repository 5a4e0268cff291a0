"""DKIM keys for ``newsletter dkim generate``: a new RSA key and the DNS record to publish.

The key is written as PKCS#1 PEM (what :func:`newsletter.mail.messages.dkim_sign` and
dkimpy read); the TXT record carries the public key as base64 DER (SubjectPublicKeyInfo),
split into strings of at most 255 characters as DNS requires (RFC 6376 §3.6.2.2).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

KEY_BITS = 2048
TXT_CHUNK = 255  # longest character-string in a TXT record
SELECTOR = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
DOMAIN = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")


@dataclass(frozen=True)
class DkimKeyPair:
    """A new key: the private key as PEM, and the public key as base64 DER."""

    private_pem: bytes
    public_b64: str


def generate(bits: int = KEY_BITS) -> DkimKeyPair:
    """A fresh RSA key pair for DKIM signing (rsa-sha256)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return DkimKeyPair(private, base64.b64encode(public).decode("ascii"))


def record_name(selector: str, domain: str) -> str:
    """The DNS name of the key record: ``<selector>._domainkey.<domain>``."""
    return f"{selector}._domainkey.{domain.rstrip('.')}"


def record_value(public_b64: str) -> str:
    """The TXT value as one string (``v=DKIM1; k=rsa; p=…``)."""
    return f"v=DKIM1; k=rsa; p={public_b64}"


def zone_line(selector: str, domain: str, public_b64: str) -> str:
    """The record as a zone-file line, the value split into quoted strings of ≤ 255."""
    value = record_value(public_b64)
    parts = " ".join(f'"{value[i : i + TXT_CHUNK]}"' for i in range(0, len(value), TXT_CHUNK))
    return f"{record_name(selector, domain)}. IN TXT ( {parts} )"


def check_names(selector: str, domain: str) -> str | None:
    """Why ``selector`` or ``domain`` cannot name a DKIM record (German), or None."""
    if not SELECTOR.fullmatch(selector):
        return f"»{selector}« ist kein gültiger Selektor (Buchstaben, Ziffern, Bindestrich)"
    if not DOMAIN.fullmatch(domain.rstrip(".")):
        return f"»{domain}« ist keine Domain (z. B. example.org)"
    return None
