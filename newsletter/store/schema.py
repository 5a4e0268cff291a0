"""The database schema: every table of the service, SQLAlchemy Core.

Times are stored timezone-aware (UTC). Lists of region keys are stored as JSON text
on items for explanation; the *effective* regions of an item also live in
``item_regions`` so that "items of region R or statewide" is one indexed query.

Tables whose ids appear in links, cookies or admin URLs (sources, subscribers, digests,
deliveries, admins) never reuse an id: on SQLite they are ``AUTOINCREMENT`` tables
(PostgreSQL sequences never go back anyway).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ColumnElement,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from newsletter.models import OPEN_DELIVERY, DeliveryStatus
from newsletter.subscriptions.tokens import new_link_key

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)


def _ts(name: str, *, nullable: bool = True, index: bool = False) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=nullable, index=index)


# --- sources and items ------------------------------------------------------------

sources = Table(
    "sources",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("kind", String(20), nullable=False),
    Column("location", Text, nullable=False),
    Column("region", String(64)),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("options", JSON, nullable=False, default=dict),
    Column("from_config", Boolean, nullable=False, default=False),
    Column("config_location", Text),  # location as config.toml says; `location` follows 301s
    Column("etag", Text),
    Column("last_modified", Text),
    Column("last_status", String(20), nullable=False, default="never"),
    Column("last_error", Text),
    Column("error_count", Integer, nullable=False, default=0),
    _ts("last_fetched_at"),
    _ts("last_success_at"),
    _ts("retry_after"),
    _ts("created_at", nullable=False),
    sqlite_autoincrement=True,  # ids are never reused
)

items = Table(
    "items",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("source_id", Integer, ForeignKey("sources.id", ondelete="SET NULL"), index=True),
    Column("guid", Text),
    Column("url", Text),
    Column("canonical_url", Text, index=True),
    Column("title_key", String(64), index=True),
    Column("title", Text, nullable=False),
    Column("summary_html", Text, nullable=False, default=""),
    Column("content_html", Text, nullable=False, default=""),
    Column("author", Text),
    _ts("published_at", nullable=False, index=True),
    Column("published_estimated", Boolean, nullable=False, default=False),
    _ts("collected_at", nullable=False, index=True),
    _ts("updated_at", nullable=False, index=True),
    Column("classified_regions", JSON, nullable=False, default=list),
    Column("region_override", JSON),
    Column("statewide", Boolean, nullable=False, default=True, index=True),
    Column("hidden", Boolean, nullable=False, default=False),
    Column("content_hash", String(64), nullable=False, default=""),
    Column("region_check", Boolean, nullable=False, default=False, index=True),  # »Region prüfen«
    Column("region_check_reasons", JSON, nullable=False, default=list),  # the classifier's, German
    Index("ix_items_published_id", "published_at", "id"),  # the admin list's pages (0012)
)

# the few hidden items, for the public pages' counts (store.items.region_totals); partial,
# so that no query for visible items (hidden IS false) is ever steered onto it
Index(
    "ix_items_hidden",
    items.c.statewide,
    items.c.id,
    sqlite_where=items.c.hidden.is_(True),
    postgresql_where=items.c.hidden.is_(True),
)

item_regions = Table(
    "item_regions",
    metadata,
    Column("item_id", String(32), ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    Column("region", String(64), primary_key=True),
    Index("ix_item_regions_region_item", "region", "item_id"),
)

region_corrections = Table(  # an admin's region override: a test case for the classifier
    "region_corrections",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("item_id", String(32), ForeignKey("items.id", ondelete="SET NULL"), index=True),
    Column("text", Text, nullable=False),  # what the classifier read (dedup.item_text)
    Column("classified_regions", JSON, nullable=False, default=list),
    Column("corrected_regions", JSON, nullable=False, default=list),
    Column("actor", String(200), nullable=False),
    _ts("at", nullable=False),
)

# --- subscribers -------------------------------------------------------------------

subscribers = Table(
    "subscribers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("name", String(200), nullable=False, default=""),
    Column("organisation", String(200), nullable=False, default=""),
    Column("ags", String(8)),
    Column("source", String(20), nullable=False, default="form"),
    _ts("created_at", nullable=False),
    Column("bounce_count", Integer, nullable=False, default=0),
    _ts("suspended_at"),
    Column("suspended_reason", Text),
    Column("link_key", String(32), nullable=False, default=new_link_key),  # binds its tokens
    # »eine E-Mail je Region«: no combined mail when several regions share a slot
    Column("per_region_mails", Boolean, nullable=False, default=False, server_default=false()),
    sqlite_autoincrement=True,  # ids are never reused
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column(
        "subscriber_id",
        Integer,
        ForeignKey("subscribers.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("region", String(64), primary_key=True),
    Column("status", String(20), nullable=False),
    _ts("requested_at", nullable=False),
    _ts("confirmed_at"),
    _ts("unsubscribed_at"),
    Index("ix_subscriptions_region_status", "region", "status"),
)

consent_log = Table(
    "consent_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("subscriber_id", Integer, ForeignKey("subscribers.id", ondelete="SET NULL"), index=True),
    Column("email_hash", String(64), nullable=False, index=True),
    Column("event", String(40), nullable=False),
    Column("regions", JSON, nullable=False, default=list),
    Column("text_version", String(40)),
    Column("wording", Text),
    Column("ip", String(128)),
    Column("user_agent", Text),
    Column("actor", String(200)),
    Column("detail", JSON, nullable=False, default=dict),
    _ts("at", nullable=False),
)

suppressions = Table(
    "suppressions",
    metadata,
    Column("email_hash", String(64), primary_key=True),
    Column("reason", String(40), nullable=False),
    _ts("at", nullable=False),
)

# --- digests and outbox ------------------------------------------------------------

digests = Table(
    "digests",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("region", String(64), nullable=False),
    Column("kind", String(20), nullable=False, default="digest"),
    _ts("period_start"),
    _ts("period_end", nullable=False),
    Column("period_key", String(64), nullable=False),
    Column("subject", Text, nullable=False),
    Column("html", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("item_ids", JSON, nullable=False, default=list),
    Column("recipients", Integer, nullable=False, default=0),
    Column("triggered_by", String(200)),
    _ts("created_at", nullable=False),
    UniqueConstraint("region", "kind", "period_key", name="uq_digests_region_kind_period"),
    sqlite_autoincrement=True,  # ids are never reused
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("digest_id", Integer, ForeignKey("digests.id", ondelete="CASCADE")),
    Column("subscriber_id", Integer, ForeignKey("subscribers.id", ondelete="SET NULL")),
    Column("address", String(320), nullable=False),
    Column("kind", String(20), nullable=False, default="digest"),
    Column("payload", JSON),
    Column("status", String(20), nullable=False, default=DeliveryStatus.QUEUED.value),
    Column("attempts", Integer, nullable=False, default=0),
    _ts("next_attempt_at"),
    Column("claimed_by", String(100)),
    _ts("lease_until"),
    _ts("sent_at"),
    Column("message_id", String(300)),
    Column("last_reply", Text),
    _ts("created_at", nullable=False),
    UniqueConstraint("digest_id", "subscriber_id", name="uq_deliveries_digest_subscriber"),
    Index("ix_deliveries_digest_status", "digest_id", "status"),  # counts per digest (0012)
    Index("ix_deliveries_digest_id", "digest_id", "id"),  # a digest's recipients, paged (0012)
    sqlite_autoincrement=True,  # ids are never reused
)


def _partial(name: str, *columns: Column[Any], where: ColumnElement[bool]) -> Index:
    return Index(name, *columns, sqlite_where=where, postgresql_where=where)


# Partial indexes (0014): every UPDATE of a delivery's status writes an entry into each
# index whose predicate the new row meets, so the send path's two updates per mail (claim,
# sent) skip the indexes a row is not in at that moment.
# rows waiting to be sent, by when they are due (not those leased or done)
_partial(
    "ix_deliveries_status_next",
    deliveries.c.status,
    deliveries.c.next_attempt_at,
    where=deliveries.c.status.in_([DeliveryStatus.QUEUED.value, DeliveryStatus.RETRY.value]),
)
# the open rows in id order: a claim walks them from the oldest and stops at its batch
_partial(
    "ix_deliveries_open",
    deliveries.c.id,
    where=deliveries.c.status.in_([s.value for s in OPEN_DELIVERY]),
)
# a claimed batch (leased rows only)
_partial(
    "ix_deliveries_claimed",
    deliveries.c.claimed_by,
    deliveries.c.lease_until,
    where=deliveries.c.claimed_by.is_not(None),
)
# the hourly cap counts the last hour (sent rows only: a count from the index alone)
_partial(
    "ix_deliveries_sent_at",
    deliveries.c.sent_at,
    where=deliveries.c.status == DeliveryStatus.SENT.value,
)

bounces = Table(  # bounces and complaints read from the bounce mailbox (DSN, ARF, others)
    "bounces",
    metadata,
    Column("id", Integer, primary_key=True),
    _ts("received_at", nullable=False, index=True),
    Column("message_hash", String(64), nullable=False),  # SHA-256 of the bounce message
    Column("address", String(320), nullable=False),
    Column("subscriber_id", Integer, ForeignKey("subscribers.id", ondelete="CASCADE"), index=True),
    Column("delivery_id", Integer, ForeignKey("deliveries.id", ondelete="SET NULL"), index=True),
    Column("kind", String(20), nullable=False),
    Column("status", String(20), nullable=False, default=""),
    Column("diagnostic", Text, nullable=False, default=""),
    Column("reporter", String(300), nullable=False, default=""),
    Column("action", Text, nullable=False, default=""),
    Column("raw", Text, nullable=False, default=""),
    UniqueConstraint("message_hash", "address", name="uq_bounces_message_address"),
)

# --- operations ---------------------------------------------------------------------

admins = Table(
    "admins",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("email", String(320), nullable=False, default=""),
    Column("password_hash", Text, nullable=False),
    Column("api_token_hash", String(64), unique=True),
    _ts("created_at", nullable=False),
    _ts("last_login_at"),
    _ts("disabled_at"),  # set: no login, no API token, no session
    sqlite_autoincrement=True,  # ids are never reused
)

admin_sessions = Table(
    "admin_sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("id_hash", String(64), nullable=False, unique=True),  # SHA-256 of the cookie's id
    Column(
        "admin_id", Integer, ForeignKey("admins.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    _ts("created_at", nullable=False),
    _ts("last_seen_at", nullable=False),
    _ts("expires_at", nullable=False),
    _ts("revoked_at"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    _ts("at", nullable=False, index=True),
    Column("actor", String(200), nullable=False),
    Column("action", String(80), nullable=False),
    Column("target", Text),
    Column("detail", JSON, nullable=False, default=dict),
)

job_runs = Table(
    "job_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("job", String(80), nullable=False),
    _ts("started_at", nullable=False),
    _ts("finished_at"),
    Column("status", String(20), nullable=False, default="running"),
    Column("detail", JSON, nullable=False, default=dict),
    Index("ix_job_runs_job_started", "job", "started_at"),
)

rate_limits = Table(  # fixed-window counters of the web limits, shared by all processes
    "rate_limits",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("window_start", DateTime(timezone=True), primary_key=True),
    Column("count", Integer, nullable=False, default=0),
    Index("ix_rate_limits_window_start", "window_start"),  # housekeeping drops old windows
)

# --- editorial word, drafts (issue 16, part 4) ------------------------------------------

editorials = Table(  # the editor's word for the next digest of a region, or "*" for all
    "editorials",
    metadata,
    Column("scope", String(64), primary_key=True),
    Column("intro_md", Text, nullable=False, default=""),
    Column("pinned", JSON, nullable=False, default=list),
    Column("excluded", JSON, nullable=False, default=list),
    Column("updated_by", String(200), nullable=False, default=""),
    _ts("updated_at", nullable=False),
)

digest_editorials = Table(  # the editor's word as a stored digest used it (web archive)
    "digest_editorials",
    metadata,
    Column("digest_id", Integer, ForeignKey("digests.id", ondelete="CASCADE"), primary_key=True),
    Column("intro_html", Text, nullable=False, default=""),
    Column("pinned", JSON, nullable=False, default=list),
)

digest_drafts = Table(  # schedule.approval = "manual": a slot's digest waiting for an admin
    "digest_drafts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("region", String(64), nullable=False),
    _ts("period_start"),
    _ts("period_end", nullable=False),
    Column("subject", Text, nullable=False),
    Column("items", Integer, nullable=False, default=0),
    Column("triggered_by", String(200), nullable=False, default="schedule"),
    _ts("created_at", nullable=False),
    UniqueConstraint("region", "period_end", name="uq_digest_drafts_region_period_end"),
    sqlite_autoincrement=True,  # ids appear in admin URLs
)
