"""Signed, purpose-bound link tokens (confirm, manage, unsubscribe).

A token is an itsdangerous signature over ``(purpose, subscriber id, region, generation)``
with a timestamp. The purpose is also the salt, so a token for one purpose never passes
as another. Confirmation tokens expire (``subscriptions.confirm_days``); manage and
unsubscribe tokens do not, but all tokens of an older ``generation`` are revoked at once
by raising ``subscriptions.token_generation``. Tokens are URL-safe ASCII.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from itsdangerous import BadSignature, Serializer, SignatureExpired, URLSafeTimedSerializer
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


class _UncompressedSerializer(URLSafeTimedSerializer):
    """Never tries zlib: a payload of a few bytes never shrinks, and trying costs more
    than the signature (two tokens per mail). Compressed tokens are still read."""

    def dump_payload(self, obj: Any) -> bytes:
        return base64_encode(Serializer.dump_payload(self, obj))


class TokenSigner:
    """Makes and reads tokens with one secret; ``generation`` revokes older tokens."""

    def __init__(self, secret: str, generation: int = 1) -> None:
        if len(secret) < 16:
            raise ValueError("token secret too short")
        self._serializers = {
            purpose: _UncompressedSerializer(secret, salt=f"newsletter-{purpose.value}")
            for purpose in Purpose
        }
        self._generation = generation

    def make(self, purpose: Purpose, subscriber_id: int, region: str | None = None) -> str:
        payload = [subscriber_id, region, self._generation]
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
        subscriber_id, region, generation = _unpack(payload)
        if generation != self._generation:
            raise TokenError("Dieser Link ist nicht mehr gültig.")
        return TokenData(purpose, subscriber_id, region, signed_at.astimezone(UTC))


def _unpack(payload: object) -> tuple[int, str | None, int]:
    if (
        isinstance(payload, list)
        and len(payload) == 3
        and isinstance(payload[0], int)
        and (payload[1] is None or isinstance(payload[1], str))
        and isinstance(payload[2], int)
    ):
        return payload[0], payload[1], payload[2]
    raise TokenError("Dieser Link ist ungültig oder unvollständig.")
