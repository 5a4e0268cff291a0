"""Which web limits a request counts against, and whether it is over one (pure).

Two actions are limited. ``mail`` covers ``/abonnieren`` and ``/link-anfordern`` (both send
a mail to the address typed in, so they share their counters); ``login`` the admin login.
Each request counts against its client address, the client's network (/24 for IPv4, /64
for IPv6: one host has many addresses there), all clients together per minute, and its
target (the address or admin name, as a keyed hash) per hour and per day. The counters
are fixed windows in the database (:mod:`newsletter.store.ratelimits`), so every web
process sees the same counts; a window boundary can let up to twice a limit through.

The :class:`Verdict` separates the requester's limits from the target's: a page answers
the same whether or not the target was over its limit (no enumeration, no mail flood).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from newsletter.config import Config

Action = Literal["mail", "login"]
Scope = Literal["client", "network", "all", "target"]

MINUTE, HOUR, DAY = 60, 3600, 86400
NETWORK_FACTOR = 4  # a network may send what four clients may
MAILS_PER_MINUTE = 30  # subscription and link mails from everyone together
MAILS_PER_ADDRESS_HOUR = 3
MAILS_PER_ADDRESS_DAY = 10
LOGINS_PER_MINUTE = 60  # login attempts from everyone together
LOGINS_PER_NAME_HOUR = 30
LOGINS_PER_NAME_DAY = 100


@dataclass(frozen=True)
class Rule:
    scope: Scope
    seconds: int
    allowed: int


@dataclass(frozen=True)
class Counter:
    """One counter a request increments: its key, window start and what it allows."""

    rule: Rule
    key: str
    window_start: datetime


@dataclass(frozen=True)
class Verdict:
    requester_ok: bool  # client, network and global limits
    target_ok: bool  # the address or admin name

    @property
    def ok(self) -> bool:
        return self.requester_ok and self.target_ok


def rules(action: Action, config: Config) -> tuple[Rule, ...]:
    """The limits of ``action`` under ``config`` (per client from the config, the rest fixed)."""
    if action == "mail":
        per_hour = config.subscriptions.rate_limit_per_hour
        return (
            Rule("client", HOUR, per_hour),
            Rule("network", HOUR, per_hour * NETWORK_FACTOR),
            Rule("all", MINUTE, MAILS_PER_MINUTE),
            Rule("target", HOUR, min(per_hour, MAILS_PER_ADDRESS_HOUR)),
            Rule("target", DAY, MAILS_PER_ADDRESS_DAY),
        )
    per_minute = config.web.login_rate_per_minute
    return (
        Rule("client", MINUTE, per_minute),
        Rule("network", MINUTE, per_minute * NETWORK_FACTOR),
        Rule("all", MINUTE, max(LOGINS_PER_MINUTE, per_minute)),
        Rule("target", HOUR, LOGINS_PER_NAME_HOUR),
        Rule("target", DAY, LOGINS_PER_NAME_DAY),
    )


def counters(
    action: Action, limits: Sequence[Rule], client: str, target: str, now: datetime
) -> list[Counter]:
    """The counters a request from ``client`` for ``target`` (already hashed) increments."""
    values = {"client": client, "network": network_of(client), "all": "*", "target": target}
    return [
        Counter(
            rule,
            f"{action}:{rule.scope}:{rule.seconds}:{values[rule.scope]}",
            window_start(now, rule.seconds),
        )
        for rule in limits
    ]


def verdict(counted: Sequence[Counter], counts: Sequence[int]) -> Verdict:
    """Over a limit when a counter, this request included, went past what its rule allows."""
    over = {c.rule.scope for c, n in zip(counted, counts, strict=True) if n > c.rule.allowed}
    return Verdict(requester_ok=not over - {"target"}, target_ok="target" not in over)


def network_of(client: str) -> str:
    """The /24 (IPv4) or /64 (IPv6) network of ``client``; the text itself if no address."""
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return client
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 64
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def target_key(secret: str, target: str) -> str:
    """A keyed hash of the address or name: the table holds no addresses in clear."""
    normalised = target.strip().lower().encode()
    return hmac.new(secret.encode(), b"limit:" + normalised, hashlib.sha256).hexdigest()[:32]


def window_start(now: datetime, seconds: int) -> datetime:
    """The start of the fixed window of ``seconds`` that contains ``now`` (UTC)."""
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, UTC)
