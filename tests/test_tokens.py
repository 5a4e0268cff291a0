"""Link tokens: purpose-bound, tamper-evident, expiring, revocable by generation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from newsletter.errors import TokenError
from newsletter.subscriptions.tokens import (
    Purpose,
    TokenSigner,
    _UncompressedSerializer,
    belongs_to,
)

SECRET = "a-test-secret-of-enough-length"
KEY = "link-key-of-row1"


def test_round_trip_keeps_subscriber_and_region() -> None:
    signer = TokenSigner(SECRET)
    data = signer.read(
        signer.make(Purpose.UNSUBSCRIBE, 42, "zwickau", link_key=KEY), Purpose.UNSUBSCRIBE
    )
    assert (data.subscriber_id, data.region, data.purpose) == (42, "zwickau", Purpose.UNSUBSCRIBE)


def test_token_is_url_safe_ascii() -> None:
    token = TokenSigner(SECRET).make(Purpose.MANAGE, 7, link_key=KEY)
    assert token.isascii() and all(c.isalnum() or c in "-_." for c in token)


def test_other_purpose_is_refused() -> None:
    signer = TokenSigner(SECRET)
    with pytest.raises(TokenError, match="ungültig"):
        signer.read(signer.make(Purpose.MANAGE, 1, link_key=KEY), Purpose.UNSUBSCRIBE)


def test_tampered_token_is_refused() -> None:
    signer = TokenSigner(SECRET)
    token = signer.make(Purpose.CONFIRM, 1, link_key=KEY)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    with pytest.raises(TokenError):
        signer.read(tampered, Purpose.CONFIRM)


def test_other_secret_is_refused() -> None:
    token = TokenSigner(SECRET).make(Purpose.CONFIRM, 1, link_key=KEY)
    with pytest.raises(TokenError):
        TokenSigner(SECRET + "x").read(token, Purpose.CONFIRM)


def test_expired_token_says_so() -> None:
    now = [1_800_000_000]
    signer = TokenSigner(SECRET, clock=lambda: now[0])
    token = signer.make(Purpose.CONFIRM, 1, link_key=KEY)
    now[0] += 3600
    assert signer.read(token, Purpose.CONFIRM, max_age_seconds=3600).subscriber_id == 1
    now[0] += 1
    with pytest.raises(TokenError) as info:
        signer.read(token, Purpose.CONFIRM, max_age_seconds=3600)
    assert info.value.expired
    assert "abgelaufen" in info.value.message


def test_the_clock_dates_the_token() -> None:
    signer = TokenSigner(SECRET, clock=lambda: 1_800_000_000)
    data = signer.read(signer.make(Purpose.MANAGE, 1, link_key=KEY), Purpose.MANAGE)
    assert data.issued_at == datetime.fromtimestamp(1_800_000_000, UTC)


def test_new_generation_revokes_old_tokens() -> None:
    token = TokenSigner(SECRET, generation=1).make(Purpose.UNSUBSCRIBE, 1, link_key=KEY)
    with pytest.raises(TokenError, match="nicht mehr gültig"):
        TokenSigner(SECRET, generation=2).read(token, Purpose.UNSUBSCRIBE)


def test_tokens_made_before_the_serializer_change_still_read() -> None:
    """Tokens in mails already sent were made with zlib tried and a per-call salt."""
    from itsdangerous import URLSafeTimedSerializer

    old = URLSafeTimedSerializer(SECRET, salt="newsletter-token")
    for payload in ([7, "zwickau", 1], [7, "z" * 200, 1]):  # the second one compresses
        token = old.dumps(payload, salt="newsletter-unsubscribe")
        data = TokenSigner(SECRET).read(token, Purpose.UNSUBSCRIBE)
        assert (data.subscriber_id, data.region) == (7, payload[1])


def test_tokens_are_what_stock_itsdangerous_makes_and_reads() -> None:
    """The cached signer (key derived once, OpenSSL's SHA-1) signs byte for byte as
    itsdangerous does, so links in mails already sent and new ones read either way."""
    from itsdangerous import URLSafeTimedSerializer

    signer = TokenSigner(SECRET, clock=lambda: 1_764_000_000)
    stock = URLSafeTimedSerializer(SECRET, salt="newsletter-manage")
    stock_signer = stock.make_signer()
    stock_signer.get_timestamp = lambda: 1_764_000_000  # type: ignore[method-assign]
    payload = [7, None, 1, KEY]
    ours = signer.make(Purpose.MANAGE, 7, link_key=KEY)
    assert stock.loads(ours) == payload
    assert ours == stock_signer.sign(stock.dump_payload(payload)).decode()
    for _ in range(2):  # the second read goes through the cached signer
        assert signer.read(ours, Purpose.MANAGE).link_key == KEY


def test_token_belongs_only_to_the_row_with_its_key() -> None:
    signer = TokenSigner(SECRET)
    data = signer.read(signer.make(Purpose.MANAGE, 7, link_key=KEY), Purpose.MANAGE)
    created = datetime.now(UTC) - timedelta(days=1)
    assert data.link_key == KEY
    assert belongs_to(data, KEY, created)
    assert not belongs_to(data, "another-rows-key", created)


def test_token_from_before_link_keys_counts_only_for_older_rows() -> None:
    """Tokens of three fields (before migration 0004) keep working for the subscriber
    they were issued to, never for a row created after they were signed."""
    old = _UncompressedSerializer(SECRET, salt="newsletter-unsubscribe").dumps([7, None, 1])
    data = TokenSigner(SECRET).read(str(old), Purpose.UNSUBSCRIBE)
    now = datetime.now(UTC)
    assert data.link_key is None and data.subscriber_id == 7
    assert belongs_to(data, KEY, now - timedelta(days=30))
    assert belongs_to(data, KEY, now.replace(microsecond=999999) - timedelta(seconds=1))
    assert not belongs_to(data, KEY, now + timedelta(seconds=2))
