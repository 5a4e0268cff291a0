"""SQL for sources: configuration sync, fetch state and health."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from newsletter.errors import NotFoundError
from newsletter.models import Source
from newsletter.store.db import as_utc, utcnow
from newsletter.store.schema import sources


def sync_from_config(conn: Connection, configured: Sequence[dict[str, Any]]) -> None:
    """Create or update the sources named in config.toml (matched by name).

    Each dict has name, kind, location, region, enabled, options. Sources that were in
    config before and are gone now are disabled, not deleted: their items stay.
    While the configured location is unchanged, what fetching learned is kept: the URL
    a permanent redirect (301/308) moved it to, and its disabling after a 410.
    """
    existing = {row.name: row for row in conn.execute(select(sources))}
    for spec in configured:
        row = existing.get(spec["name"])
        if row is None:
            conn.execute(insert(sources).values(**_new_config_source(spec)))
        else:
            values = _config_update(spec, row)
            conn.execute(update(sources).where(sources.c.name == spec["name"]).values(**values))
    names = {spec["name"] for spec in configured}
    for name, row in existing.items():
        if row.from_config and name not in names:
            conn.execute(update(sources).where(sources.c.name == name).values(enabled=False))


def _new_config_source(spec: dict[str, Any]) -> dict[str, Any]:
    values = {k: spec[k] for k in ("name", "kind", "location", "region", "enabled", "options")}
    return values | {
        "from_config": True,
        "config_location": spec["location"],
        "created_at": utcnow(),
    }


def _config_update(spec: dict[str, Any], row: Any) -> dict[str, Any]:
    values = {k: spec[k] for k in ("kind", "location", "region", "enabled", "options")}
    values["config_location"] = spec["location"]
    values["from_config"] = True
    if row.config_location == spec["location"]:
        values["location"] = row.location  # keep a stored 301/308 target
        if row.last_status == "disabled":
            values["enabled"] = False  # gone (410) until the config names a new URL
    elif row.config_location is not None:
        values |= {"etag": None, "last_modified": None, "error_count": 0, "retry_after": None}
        if row.last_status == "disabled":
            values |= {"last_status": "never", "last_error": None}
    return values


def add(
    conn: Connection,
    *,
    name: str,
    kind: str,
    location: str,
    region: str | None = None,
    options: dict[str, str] | None = None,
) -> Source:
    """Add a source by hand (admin), not from config."""
    result = conn.execute(
        insert(sources).values(
            name=name,
            kind=kind,
            location=location,
            region=region,
            enabled=True,
            options=options or {},
            from_config=False,
            created_at=utcnow(),
        )
    )
    return get(conn, int(result.inserted_primary_key[0]))  # type: ignore[index]


def all_sources(conn: Connection, *, enabled_only: bool = False) -> list[Source]:
    query = select(sources).order_by(sources.c.name)
    if enabled_only:
        query = query.where(sources.c.enabled.is_(True))
    return [_source(row._mapping) for row in conn.execute(query)]


def get(conn: Connection, source_id: int) -> Source:
    row = conn.execute(select(sources).where(sources.c.id == source_id)).first()
    if row is None:
        raise NotFoundError.of("source", source_id)
    return _source(row._mapping)


def by_name(conn: Connection, name: str) -> Source:
    row = conn.execute(select(sources).where(sources.c.name == name)).first()
    if row is None:
        raise NotFoundError.of("source_name", name)
    return _source(row._mapping)


def record_result(
    conn: Connection,
    source_id: int,
    *,
    status: str,
    error: str | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
    location: str | None = None,
    retry_after: datetime | None = None,
    at: datetime | None = None,
) -> None:
    """Store the outcome of one fetch: failures are data, shown to the admin."""
    now = at or utcnow()
    values: dict[str, Any] = {
        "last_status": status,
        "last_fetched_at": now,
        "retry_after": retry_after,
    }
    if status == "error":
        values |= {"last_error": error, "error_count": sources.c.error_count + 1}
    else:
        values |= {"last_error": None, "error_count": 0, "last_success_at": now}
        if etag is not None or last_modified is not None:
            values |= {"etag": etag, "last_modified": last_modified}
    if status == "disabled":
        values |= {"enabled": False, "last_error": error}
    if location:
        values["location"] = location
    conn.execute(update(sources).where(sources.c.id == source_id).values(**values))


def _source(row: Any) -> Source:
    return Source(
        id=row["id"],
        name=row["name"],
        kind=row["kind"],
        location=row["location"],
        region=row["region"],
        enabled=bool(row["enabled"]),
        options=dict(row["options"] or {}),
        etag=row["etag"],
        last_modified=row["last_modified"],
        last_status=row["last_status"],
        last_error=row["last_error"],
        error_count=row["error_count"],
        last_fetched_at=as_utc(row["last_fetched_at"]),
        last_success_at=as_utc(row["last_success_at"]),
        retry_after=as_utc(row["retry_after"]),
    )
