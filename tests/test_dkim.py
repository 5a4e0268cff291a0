"""DKIM: a digest is signed with the configured key and verifies; a missing key is a
config error."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from newsletter.config import Config
from newsletter.context import Context
from newsletter.mail import sending
from newsletter.mail.transports import MemoryTransport
from tests.delivery_helpers import add_subscriber
from tests.feedfixtures import sample_items, store_items

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def rsa_key_pair(tmp_path: Path) -> tuple[Path, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    path = tmp_path / "dkim.pem"
    path.write_bytes(pem)
    import base64

    return path, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def test_digest_is_dkim_signed_and_verifies(
    make_config: Callable[..., Config], tmp_path: Path
) -> None:
    key_file, record = rsa_key_pair(tmp_path)
    ctx = Context(
        make_config(
            mail={
                "dkim_selector": "nl2026",
                "dkim_domain": "example.org",
                "dkim_key_file": str(key_file),
            }
        )
    )
    ctx.init_db()
    store_items(ctx, sample_items())
    add_subscriber(ctx, "a@example.org", {"zwickau": "confirmed"})
    transport = MemoryTransport()
    sending.send_region(ctx, "zwickau", now=NOW, transport=transport)
    raw = transport.sent[0][2]
    assert raw.startswith(b"DKIM-Signature:")
    header = email.message_from_bytes(raw, policy=email.policy.default)["DKIM-Signature"]
    assert "c=relaxed/relaxed" in header and "a=rsa-sha256" in header and "l=" not in header
    signed = header.split("h=")[1].split(";")[0].replace(" ", "").lower()
    assert signed.split(":").count("from") == 2 and "list-unsubscribe-post" in signed

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"nl2026._domainkey.example.org."
        return record

    assert dkim.verify(raw, dnsfunc=dns)
    assert not dkim.verify(raw.replace(b"Fahrr", b"Fahrt"), dnsfunc=dns)
    ctx.close()


def test_missing_dkim_key_is_a_config_error(
    make_config: Callable[..., Config], tmp_path: Path
) -> None:
    from newsletter.errors import ConfigError

    ctx = Context(
        make_config(
            mail={
                "dkim_selector": "s",
                "dkim_domain": "example.org",
                "dkim_key_file": str(tmp_path / "missing.pem"),
            }
        )
    )
    with pytest.raises(ConfigError, match="DKIM-Schlüssel"):
        _ = ctx.dkim_key
