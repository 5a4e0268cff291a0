"""DKIM signing, the hourly rate cap and the welcome digest for late joiners."""

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

from newsletter import sending, subscriptions
from newsletter.config import Config
from newsletter.context import Context
from newsletter.outbox import drain
from newsletter.ratelimit import RateLimit
from newsletter.store import outbox as queue
from newsletter.store.db import transaction
from newsletter.transports import MemoryTransport
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


def test_hourly_cap_holds_messages_back() -> None:
    import threading

    limit = RateLimit(per_second=1000.0, per_hour=3)
    stop = threading.Event()
    for _ in range(3):
        assert limit.wait(stop)
    stop.set()  # the fourth would wait about an hour: with stop set it returns at once
    assert limit.wait(stop) is False
    assert limit.delay(limit.sent[0] + 1.0) >= 3598
    assert limit.delay(limit.sent[0] + 3600.5) == 0.0


def test_rate_limit_is_a_token_bucket() -> None:
    limit = RateLimit(per_second=2.0, per_hour=1000, burst=2.0)
    now = limit.updated
    limit.tokens = 0.0
    assert limit.delay(now) == pytest.approx(0.5)
    assert limit.delay(now + 0.5) == 0.0
    assert limit.delay(now + 100) == 0.0
    assert limit.tokens == 2.0  # never more than the burst


def test_late_joiner_gets_the_latest_digest_once(ctx: Context) -> None:
    store_items(ctx, sample_items())
    add_subscriber(ctx, "early@example.org", {"zwickau": "confirmed"})
    sending.send_region(ctx, "zwickau", now=NOW, transport=MemoryTransport())
    late = add_subscriber(ctx, "late@example.org", {"zwickau": "pending"})
    subscriptions.confirm(ctx, late, subscriptions.Request())
    subscriptions.confirm(ctx, late, subscriptions.Request())
    transport = MemoryTransport()
    drain(ctx, transport, "test")
    assert [s[1] for s in transport.sent] == ["late@example.org"]
    with transaction(ctx.engine) as conn:
        kinds = sorted(r["kind"] for r in queue.list_deliveries(conn))
    assert kinds == ["digest", "welcome"]
