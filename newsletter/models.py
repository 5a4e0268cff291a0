"""Plain frozen data shared by all layers. No I/O, no global config."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, NamedTuple, TypeVar

SourceKind = Literal["feed", "page", "folder"]
SourceStatus = Literal["never", "ok", "not_modified", "error", "disabled"]


class SubscriptionStatus(StrEnum):
    """A subscriber's consent for one region (double opt-in)."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    UNSUBSCRIBED = "unsubscribed"


class DeliveryStatus(StrEnum):
    """An outbox row's state: every value the store writes."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    CANCELLED = "cancelled"  # the recipient left the region before the row was sent


OPEN_DELIVERY = (DeliveryStatus.QUEUED, DeliveryStatus.RETRY, DeliveryStatus.SENDING)
DONE_DELIVERY = (DeliveryStatus.SENT, DeliveryStatus.FAILED)


class BounceKind(StrEnum):
    """What a bounce that arrived later says about an address (``bounces`` table)."""

    HARD = "hard"  # permanent: the address is suspended
    SOFT = "soft"  # temporary, given up: counted, suspended after N in a row
    COMPLAINT = "complaint"  # marked as spam (ARF): unsubscribed from everything
    POLICY = "policy"  # refused for a reason of ours (5.7.x): the address is kept


BOUNCE_KIND_NAMES: dict[str, str] = {  # German, for the admin page and the CLI
    BounceKind.HARD: "dauerhaft",
    BounceKind.SOFT: "vorübergehend",
    BounceKind.COMPLAINT: "Beschwerde",
    BounceKind.POLICY: "Richtlinie",
}


class SendStatus(StrEnum):
    """What sending a region's digest came to (:class:`newsletter.mail.sending.SendResult`)."""

    SENT = "sent"
    QUEUED = "queued"
    NOTHING_NEW = "nothing_new"
    ALREADY_SENT = "already_sent"
    DRY_RUN = "dry_run"
    TEST_SENT = "test_sent"


class DigestKind(StrEnum):
    """A stored digest: one region's, or one combined mail for several regions of a slot."""

    DIGEST = "digest"
    COMBINED = "combined"  # ``region`` holds the regions' keys joined by »+«


class RunStatus(StrEnum):
    """A job run's state in the run log."""

    RUNNING = "running"
    OK = "ok"
    ERROR = "error"


_Report = TypeVar("_Report")
Progress = Callable[[_Report], None]  # told after each unit of work (a source, a batch of mails)


class LinesDone(NamedTuple):
    """A roster import's progress: lines handled of the lines in the file."""

    done: int
    total: int


STATEWIDE_NAME = "Sachsen (landesweit)"


def joined_names(names: list[str] | tuple[str, ...]) -> str:
    """»Leipzig/Nordsachsen, Chemnitz und Dresden« (a combined mail's regions)."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " und " + names[-1]


@dataclass(frozen=True)
class Region:
    """A region partners subscribe to: a set of districts (5-digit Kreis keys)."""

    key: str
    name: str
    districts: tuple[str, ...]
    digest_cron: str | None = None


@dataclass(frozen=True)
class Source:
    """Where items come from. ``location`` is a URL (feed, page) or a folder path."""

    id: int
    name: str
    kind: SourceKind
    location: str
    region: str | None = None
    enabled: bool = True
    options: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    last_status: SourceStatus = "never"
    last_error: str | None = None
    error_count: int = 0
    last_fetched_at: datetime | None = None
    last_success_at: datetime | None = None
    retry_after: datetime | None = None


@dataclass(frozen=True)
class ParsedItem:
    """An item as a source delivers it, before it is stored (no id, no regions yet)."""

    guid: str | None
    url: str | None
    title: str
    summary_html: str = ""
    content_html: str = ""
    author: str | None = None
    published_at: datetime | None = None
    regions: tuple[str, ...] | None = None  # given by hand (folder source); None = classify


@dataclass(frozen=True)
class Item:
    """A stored news item. ``regions`` is effective: override if set, else classified.

    An empty ``regions`` means statewide: the item goes to every region.
    """

    id: str
    title: str
    url: str | None
    summary_html: str
    content_html: str
    published_at: datetime
    collected_at: datetime
    updated_at: datetime
    regions: tuple[str, ...]
    classified_regions: tuple[str, ...] = ()
    region_override: tuple[str, ...] | None = None
    source_id: int | None = None
    source_name: str | None = None
    guid: str | None = None
    author: str | None = None
    published_estimated: bool = False
    hidden: bool = False
    content_hash: str = ""
    region_check: bool = False  # »Region prüfen«: the regions are the classifier's guess
    region_check_reasons: tuple[str, ...] = ()  # the classifier's reasons (German)

    @property
    def statewide(self) -> bool:
        return not self.regions


@dataclass(frozen=True)
class Subscriber:
    """A partner address with its per-region subscription status."""

    id: int
    email: str
    name: str = ""
    organisation: str = ""
    ags: str | None = None
    source: str = "form"
    created_at: datetime | None = None
    bounce_count: int = 0
    suspended: bool = False
    subscriptions: dict[str, SubscriptionStatus] = field(default_factory=dict)
    link_key: str = field(default="", repr=False)  # in its link tokens (tokens.belongs_to)
    per_region: bool = False  # »eine E-Mail je Region« instead of one combined mail per slot

    def confirmed_regions(self) -> tuple[str, ...]:
        return tuple(sorted(r for r, s in self.subscriptions.items() if s == "confirmed"))


@dataclass(frozen=True)
class Digest:
    """One region's digest for one period; ``html`` is inlined once, with placeholders."""

    id: int | None
    region: str
    period_start: datetime | None
    period_end: datetime
    subject: str
    html: str
    text: str
    item_ids: tuple[str, ...]
    created_at: datetime | None = None
    intro_html: str = ""  # the editor's introduction (sanitised), kept for the web archive
    pinned: tuple[str, ...] = ()  # items the editor pinned to the top
    kind: DigestKind = DigestKind.DIGEST

    @property
    def regions(self) -> tuple[str, ...]:
        """The region keys the digest covers (several for a combined mail)."""
        return tuple(self.region.split("+")) if self.kind == DigestKind.COMBINED else (self.region,)


@dataclass(frozen=True)
class Delivery:
    """One message to one recipient, a row of the outbox."""

    id: int
    digest_id: int | None
    subscriber_id: int | None
    address: str
    status: DeliveryStatus
    attempts: int = 0
    kind: str = "digest"
    payload: dict[str, Any] | None = None  # a transactional mail's finished content
    next_attempt_at: datetime | None = None
    claimed_by: str | None = None
    lease_until: datetime | None = None
    sent_at: datetime | None = None
    last_reply: str | None = None
    message_id: str | None = None
    created_at: datetime | None = None


class Claimed(NamedTuple):
    """A leased outbox row with what sending it needs (a tuple: the send path builds
    thousands). ``regions`` are the recipient's confirmed regions, for the footer."""

    id: int
    digest_id: int | None
    subscriber_id: int | None
    address: str
    kind: str
    payload: dict[str, Any] | None
    attempts: int
    created_at: datetime
    claimed_by: str | None
    lease_until: datetime | None
    link_key: str | None  # binds the links in the mail to the recipient
    regions: tuple[str, ...] = ()


class SlotRecipient(NamedTuple):
    """A confirmed subscriber of some of a slot's regions: which of them, and whether the
    subscriber wants one mail per region instead of one combined mail."""

    subscriber_id: int
    address: str
    per_region: bool
    regions: tuple[str, ...]


class DigestSummary(NamedTuple):
    """A stored digest in the history, with its delivery counts."""

    id: int
    region: str
    period_start: datetime | None
    period_end: datetime
    subject: str
    item_ids: tuple[str, ...]
    triggered_by: str | None
    total: int
    sent: int
    failed: int


class KnownItem(NamedTuple):
    """A stored item's keys and the fields collect keeps when it sees the item again."""

    id: str
    canonical_url: str | None
    title_key: str | None
    content_hash: str
    source_id: int | None
    collected_at: datetime
    region_override: tuple[str, ...] | None
    hidden: bool
    published_at: datetime | None
    published_estimated: bool


class ItemKey(NamedTuple):
    """Where an item stands in the newest-first order of the public pages: published time,
    then id (a keyset cursor: ``?vor=`` and ``?nach=`` on a region's pages)."""

    published_at: datetime
    id: str


@dataclass(frozen=True)
class Accepted:
    """The server accepted a delivery's message (``250`` after the final ".")."""

    delivery_id: int
    reply: str
    message_id: str
    at: datetime


@dataclass(frozen=True)
class Correction:
    """An admin set ``corrected`` where the classifier had found ``classified``."""

    id: int
    item_id: str | None  # None once the item is gone
    text: str
    classified: tuple[str, ...]
    corrected: tuple[str, ...]  # empty: statewide
    actor: str
    at: datetime


# --- editorial word, approval, archive (issue 16, part 4) ----------------------------------

ALL_REGIONS = "*"  # the scope of an editorial meant for every region's next digest


class ApprovalMode(StrEnum):
    """``schedule.approval``: send at the slot, or draft and wait for an admin."""

    AUTO = "auto"
    MANUAL = "manual"


class DraftStatus(StrEnum):
    """What drafting a slot's digest came to (manual approval)."""

    DRAFTED = "drafted"
    ALREADY_DRAFTED = "already_drafted"
    NOTHING_NEW = "nothing_new"


@dataclass(frozen=True)
class Editorial:
    """An editor's word for the next digest of ``scope`` (a region key or ``ALL_REGIONS``):
    an introduction in Markdown, items pinned to the top and items left out."""

    scope: str
    intro_md: str = ""
    pinned: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    updated_by: str = ""
    updated_at: datetime | None = None


@dataclass(frozen=True)
class EditorialView:
    """The editor's word as one digest uses it: sanitised HTML, pins in order, exclusions."""

    intro_html: str = ""
    pinned: tuple[str, ...] = ()
    excluded: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Draft:
    """A drafted digest waiting for »Freigeben und senden« (``schedule.approval = manual``)."""

    id: int
    region: str
    period_start: datetime | None
    period_end: datetime
    subject: str
    items: int
    triggered_by: str
    created_at: datetime


@dataclass(frozen=True)
class DraftSlot:
    """The waiting drafts of one schedule slot (regions on the same cron, cut off at the same
    moment), in config order: approved together, so a subscriber of several of them gets
    one combined mail. ``id`` is the first draft's: approving it approves the slot."""

    drafts: tuple[Draft, ...]

    @property
    def id(self) -> int:
        return self.drafts[0].id

    @property
    def regions(self) -> tuple[str, ...]:
        return tuple(d.region for d in self.drafts)

    @property
    def period_end(self) -> datetime:
        return self.drafts[0].period_end

    @property
    def created_at(self) -> datetime:
        return min(d.created_at for d in self.drafts)


class ArchiveEntry(NamedTuple):
    """A sent digest as the public web archive shows it: nothing personal."""

    id: int
    region: str
    period_start: datetime | None
    period_end: datetime
    subject: str
    item_ids: tuple[str, ...]


@dataclass(frozen=True)
class Bounce:
    """A bounce or complaint read from the bounce mailbox, as stored and shown to admins."""

    id: int
    received_at: datetime
    address: str
    kind: BounceKind
    status: str  # enhanced status code (RFC 3463), e.g. ``5.1.1``; empty if none
    diagnostic: str  # the remote server's reply or the report's text
    subscriber_id: int | None = None
    delivery_id: int | None = None
    reporter: str = ""  # Reporting-MTA or the sender of the report
    action: str = ""  # what the job did (German)
    raw: str = ""  # the bounce message, cut at a size limit


# --- what the store keeps about an address (DSGVO Art. 15 export, consent proof) ---------


@dataclass(frozen=True)
class ConsentEvent:
    """One entry of the consent log (appended, never changed; IP and user agent are
    removed on erasure, the event stays as proof)."""

    id: int
    subscriber_id: int | None
    email_hash: str
    event: str
    regions: tuple[str, ...]
    text_version: str | None
    wording: str | None
    ip: str | None
    user_agent: str | None
    actor: str | None
    detail: dict[str, Any]
    at: datetime


@dataclass(frozen=True)
class SubscriptionRecord:
    """One region of a subscriber with its times."""

    region: str
    status: str
    requested_at: datetime
    confirmed_at: datetime | None
    unsubscribed_at: datetime | None


@dataclass(frozen=True)
class MailRecord:
    """One mail queued or sent to a subscriber (no content: that is the digest's)."""

    kind: str
    status: str
    created_at: datetime
    sent_at: datetime | None
