"""Signed, purpose-bound link tokens (confirm, manage, unsubscribe).

A token is an itsdangerous signature over ``(purpose, subscriber id, region, generation,
link key)`` with a timestamp. The purpose is also the salt, so a token for one purpose
never passes as another. Confirmation tokens expire (``subscriptions.confirm_days``);
manage and unsubscribe tokens do not, but all tokens of an older ``generation`` are
revoked at once by raising ``subscriptions.token_generation``. Tokens are URL-safe ASCII.

The link key is a random secret of the subscriber row (``subscribers.link_key``): a token
only counts for the row it was issued for (:func:`belongs_to`), so erasing a subscriber
kills all its links even if its id came back. Tokens issued before the key existed
(three fields) count for a subscriber only if they were signed after it was created.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from itsdangerous import (
    BadSignature,
    Serializer,
    SignatureExpired,
    Signer,
    TimestampSigner,
    URLSafeTimedSerializer,
)
from itsdangerous.encoding import base64_encode

from newsletter.errors import TokenError


class Purpose(StrEnum):
    CONFIRM = "confirm"
    MANAGE = "manage"
    UNSUBSCRIBE = "unsubscribe"


@dataclass(frozen=True)
class TokenData:
    purpose: Purpose
    subscriber_id: int
    region: str | None
    issued_at: datetime
    link_key: str | None  # None: issued before link keys existed (migration 0004)


def new_link_key() -> str:
    """A fresh per-subscriber link key (16 URL-safe characters)."""
    return secrets.token_urlsafe(12)


def belongs_to(data: TokenData, link_key: str, created_at: datetime | None) -> bool:
    """Was ``data`` issued for the subscriber with this key and creation time? (pure)

    A token without a key (issued before migration 0004) is accepted only if it was
    signed no earlier than the subscriber was created: it cannot reach a later row.
    """
    if data.link_key is not None:
        return secrets.compare_digest(data.link_key, link_key)
    if created_at is None:
        return False
    return data.issued_at >= created_at.replace(microsecond=0)


class _KeyedSigner(TimestampSigner):
    """itsdangerous' timestamp signer that derives its HMAC key from the secret once, not
    for every token (two derivations per mail otherwise), and hands :mod:`hmac` OpenSSL's
    SHA-1 itself: itsdangerous' lazy wrapper sends every HMAC down the pure-Python path.
    Same key, same algorithm, same tokens (``tests/test_tokens.py``)."""

    default_digest_method = staticmethod(hashlib.sha1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._derived: dict[str | bytes | None, bytes] = {}

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        key = self._derived.get(secret_key)
        if key is None:
            key = self._derived[secret_key] = super().derive_key(secret_key)
        return key


class _UncompressedSerializer(URLSafeTimedSerializer):
    """Never tries zlib: a payload of a few bytes never shrinks, and trying costs more
    than the signature (two tokens per mail). Compressed tokens are still read. One
    signer per salt, made on first use (itsdangerous makes one per token)."""

    default_signer = _KeyedSigner

    def __init__(self, secret: str, salt: str, clock: Callable[[], int] | None = None) -> None:
        super().__init__(secret, salt=salt)
        self._clock = clock
        self._signers: dict[str | bytes | None, Signer] = {}

    def dump_payload(self, obj: Any) -> bytes:
        return base64_encode(Serializer.dump_payload(self, obj))

    def make_signer(self, salt: str | bytes | None = None) -> Signer:
        """itsdangerous' signer, on ``clock`` (whole seconds since the epoch) if given."""
        signer = self._signers.get(salt)
        if signer is None:
            signer = super().make_signer(salt)
            if self._clock is not None and isinstance(signer, TimestampSigner):
                signer.get_timestamp = self._clock  # type: ignore[method-assign]
            self._signers[salt] = signer
        return signer


class TokenSigner:
    """Makes and reads tokens with one secret; ``generation`` revokes older tokens;
    ``clock`` (whole seconds since the epoch) replaces the time for tests."""

    def __init__(
        self, secret: str, generation: int = 1, clock: Callable[[], int] | None = None
    ) -> None:
        if len(secret) < 16:
            raise ValueError("token secret too short")
        self._serializers = {
            purpose: _UncompressedSerializer(secret, f"newsletter-{purpose.value}", clock)
            for purpose in Purpose
        }
        self._generation = generation

    def make(
        self, purpose: Purpose, subscriber_id: int, region: str | None = None, *, link_key: str
    ) -> str:
        payload = [subscriber_id, region, self._generation, link_key]
        return str(self._serializers[purpose].dumps(payload))

    def read(self, token: str, purpose: Purpose, max_age_seconds: int | None = None) -> TokenData:
        """Verify ``token`` for ``purpose``; raise :class:`TokenError` with a German message."""
        try:
            payload, signed_at = self._serializers[purpose].loads(
                token, max_age=max_age_seconds, return_timestamp=True
            )
        except SignatureExpired as exc:
            raise TokenError("Dieser Link ist abgelaufen.", expired=True) from exc
        except BadSignature as exc:
            raise TokenError("Dieser Link ist ungültig oder unvollständig.") from exc
        subscriber_id, region, generation, link_key = _unpack(payload)
        if generation != self._generation:
            raise TokenError(REVOKED)
        return TokenData(purpose, subscriber_id, region, signed_at.astimezone(UTC), link_key)


REVOKED = "Dieser Link ist nicht mehr gültig."


def _unpack(payload: object) -> tuple[int, str | None, int, str | None]:
    """``[id, region, generation, key]``, or the three fields of a token from before 0004."""
    if (
        isinstance(payload, list)
        and len(payload) in (3, 4)
        and isinstance(payload[0], int)
        and (payload[1] is None or isinstance(payload[1], str))
        and isinstance(payload[2], int)
        and (len(payload) == 3 or isinstance(payload[3], str))
    ):
        return payload[0], payload[1], payload[2], payload[3] if len(payload) == 4 else None
    raise TokenError("Dieser Link ist ungültig oder unvollständig.")
