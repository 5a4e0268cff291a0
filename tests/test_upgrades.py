"""Upgrading keeps the data: a database at every released schema, filled, upgraded to head.

For each migration revision from ``0001`` to the one before head, a database is built at
that revision (Alembic, as an installation of that release would have it), filled with a
realistic set of rows in every table of the first schema, and upgraded to head with
``init-db``'s code path. Every row must still be there with its values, and the service's
own readers (Art. 15 export, region lists, digest history) must read them. Runs on SQLite
and, when configured, on PostgreSQL. Downgrades are not supported (README, Betrieb).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData, Table, insert, select

from newsletter.config import Config
from newsletter.context import Context
from newsletter.store import digests as digest_store
from newsletter.store import items as item_store
from newsletter.store.db import is_postgres, migrations_dir, transaction
from newsletter.subscriptions import privacy
from tests.test_migrations import _alembic

T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
REVISIONS = [s.revision for s in ScriptDirectory(str(migrations_dir())).walk_revisions()][::-1]


def _rows() -> dict[str, list[dict[str, Any]]]:
    """Rows in the columns of schema 0001: what a first installation had stored after weeks."""
    places = ["zwickau", "chemnitz", "leipzig", "ostsachsen", "dresden"]
    rows: dict[str, list[dict[str, Any]]] = {
        "admins": [
            {"id": 1, "name": "anna", "email": "anna@lpr.example", "password_hash": "$argon2id$x",
             "api_token_hash": None, "created_at": T0, "last_login_at": T0 + timedelta(days=3)},
        ],
        "audit_log": [
            {"id": n, "at": T0 + timedelta(hours=n), "actor": "anna", "action": "digest.send",
             "target": "zwickau", "detail": {"recipients": n}}
            for n in range(1, 4)
        ],
        "job_runs": [
            {"id": n, "job": "collect", "started_at": T0 + timedelta(minutes=30 * n),
             "finished_at": T0 + timedelta(minutes=30 * n, seconds=4), "status": "ok",
             "detail": {"new": n}}
            for n in range(1, 6)
        ],
        "sources": [
            {"id": 1, "name": "Polizei Sachsen", "kind": "feed", "location": "https://polizei.example/rss",
             "region": None, "enabled": True, "options": {}, "from_config": False,
             "config_location": "https://polizei.example/rss", "etag": '"abc"', "last_modified": None,
             "last_status": "ok", "last_error": None, "error_count": 0, "last_fetched_at": T0,
             "last_success_at": T0, "retry_after": None, "created_at": T0},
            {"id": 2, "name": "Stadt Pirna", "kind": "page", "location": "https://pirna.example/news",
             "region": "dresden", "enabled": False, "options": {"item": "article"},
             "from_config": False, "config_location": None, "etag": None, "last_modified": None,
             "last_status": "error", "last_error": "HTTP 503", "error_count": 3,
             "last_fetched_at": T0, "last_success_at": None, "retry_after": T0, "created_at": T0},
        ],
        "items": [
            {"id": f"{n:032x}", "source_id": 1 + n % 2, "guid": f"urn:item:{n}",
             "url": f"https://polizei.example/{n}", "canonical_url": f"https://polizei.example/{n}",
             "title_key": f"key{n}", "title": f"Einbruch in {places[n % 5].title()} ({n})",
             "summary_html": f"<p>Meldung {n} – Zeugen gesucht.</p>", "content_html": "",
             "author": None, "published_at": T0 + timedelta(hours=n), "published_estimated": False,
             "collected_at": T0 + timedelta(hours=n), "updated_at": T0 + timedelta(hours=n),
             "classified_regions": [] if n % 7 == 0 else [places[n % 5]],
             "region_override": ["chemnitz"] if n == 3 else None, "statewide": n % 7 == 0,
             "hidden": n == 5, "content_hash": f"{n:064x}"}
            for n in range(1, 21)
        ],
        "subscribers": [
            {"id": n, "email": f"partner{n}@gemeinde{n}.example", "name": f"Partner {n}",
             "organisation": f"Gemeinde {n}", "ags": "14524330" if n == 1 else None,
             "source": "import" if n % 2 else "form", "created_at": T0, "bounce_count": n == 4,
             "suspended_at": T0 if n == 4 else None,
             "suspended_reason": "550 unbekannt" if n == 4 else None}
            for n in range(1, 7)
        ],
        "suppressions": [{"email_hash": "f" * 64, "reason": "forget", "at": T0}],
        "digests": [
            {"id": n, "region": region, "kind": "digest", "period_start": T0,
             "period_end": T0 + timedelta(days=7), "period_key": f"2026-W10-{region}",
             "subject": f"ASSKomm-Nachrichten {region}", "html": "<p>Digest</p>", "text": "Digest",
             "item_ids": [f"{1:032x}"], "recipients": 3, "triggered_by": "schedule",
             "created_at": T0 + timedelta(days=7)}
            for n, region in ((1, "zwickau"), (2, "dresden"))
        ],
    }  # fmt: skip
    rows["subscriptions"] = [
        {"subscriber_id": n, "region": region, "status": status, "requested_at": T0,
         "confirmed_at": T0 if status == "confirmed" else None,
         "unsubscribed_at": T0 if status == "unsubscribed" else None}
        for n in range(1, 7)
        for region, status in (
            ("zwickau", "confirmed"),
            ("dresden", ("confirmed", "pending", "unsubscribed")[n % 3]),
        )
    ]  # fmt: skip
    rows["consent_log"] = [
        {"id": n, "subscriber_id": n, "email_hash": f"{n:064x}", "event": "confirm",
         "regions": ["zwickau"], "text_version": "2026-01", "wording": "Ich willige ein …",
         "ip": "192.0.2.7", "user_agent": "Mozilla/5.0", "actor": None, "detail": {},
         "at": T0}
        for n in range(1, 7)
    ]  # fmt: skip
    rows["deliveries"] = [
        {"id": n, "digest_id": 1 + n % 2, "subscriber_id": n, "address": f"partner{n}@gemeinde{n}.example",
         "kind": "digest", "payload": None, "status": ("sent", "failed", "queued")[n % 3],
         "attempts": 1, "next_attempt_at": None, "claimed_by": None, "lease_until": None,
         "sent_at": T0 if n % 3 == 0 else None, "message_id": f"<{n}@lpr.example>",
         "last_reply": "250 OK" if n % 3 == 0 else None, "created_at": T0}
        for n in range(1, 7)
    ]  # fmt: skip
    rows["item_regions"] = [
        {"item_id": item["id"], "region": region}
        for item in rows["items"]
        for region in (item["region_override"] or item["classified_regions"] or places)
    ]
    return rows


ORDER = ["admins", "audit_log", "job_runs", "sources", "items", "subscribers", "suppressions",
         "digests", "subscriptions", "consent_log", "deliveries", "item_regions"]  # fmt: skip


def _fill(conn: Connection, rows: dict[str, list[dict[str, Any]]]) -> None:
    """Insert ``rows`` into the tables as they are at this revision (columns added later
    that have no default get a value as the service would have written it)."""
    meta = MetaData()
    meta.reflect(conn)
    for name in ORDER:
        table = meta.tables[name]
        extra = {"link_key": lambda: secrets.token_hex(8)} if "link_key" in table.c else {}
        values = [row | {k: make() for k, make in extra.items()} for row in rows[name]]
        conn.execute(insert(table), values)


def _normal(value: Any) -> Any:
    if isinstance(value, datetime):  # SQLite returns naive UTC, PostgreSQL aware
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, bool):
        return int(value)
    return value


def _read(conn: Connection, name: str, columns: list[str]) -> list[tuple[Any, ...]]:
    table = Table(name, MetaData(), autoload_with=conn)
    keys = [table.c[c] for c in columns]
    result = conn.execute(select(*keys).order_by(*table.primary_key.columns))
    return [tuple(_normal(v) for v in row) for row in result]


@pytest.fixture
def fresh(
    db_ctx: Context, make_config: Callable[..., Config]
) -> Iterator[Callable[[str], Context]]:
    """A function that gives an empty database migrated to a revision (own file on SQLite)."""
    made: list[Context] = []

    def at(revision: str) -> Context:
        if is_postgres(db_ctx.engine):
            ctx = db_ctx
            _alembic(ctx, "downgrade", "base")
        else:
            path = db_ctx.config.base_dir / f"release-{revision}.db"
            path.touch(mode=0o600)
            ctx = Context(make_config(database_url=f"sqlite:///{path}"))
            made.append(ctx)
        _alembic(ctx, "upgrade", revision)
        return ctx

    yield at
    for ctx in made:
        ctx.close()


@pytest.mark.parametrize("revision", REVISIONS[:-1])
def test_upgrading_from_each_release_keeps_every_row(
    fresh: Callable[[str], Context], revision: str
) -> None:
    ctx = fresh(revision)
    rows = _rows()
    with ctx.engine.begin() as conn:
        _fill(conn, rows)
        if is_postgres(conn):  # the rows came with ids: move the sequences past them
            for name in ORDER:
                if "id" in rows[name][0]:
                    conn.exec_driver_sql(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), {len(rows[name])})"
                    )

    ctx.init_db()  # what `newsletter init-db` / `migrate` does after an upgrade

    with ctx.engine.connect() as conn:
        head = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one()
        assert head == REVISIONS[-1]
        for name in ORDER:
            columns = list(rows[name][0])
            expected = [tuple(_normal(row[c]) for c in columns) for row in rows[name]]
            stored = _read(conn, name, columns)
            assert sorted(stored, key=repr) == sorted(expected, key=repr), name

    # The service reads what it finds: Art. 15 export, a region's items, the digest history.
    data = privacy.personal_data(ctx, "partner1@gemeinde1.example")
    assert data["subscriber"]["organisation"] == "Gemeinde 1"
    assert {s["region"] for s in data["subscriber"]["subscriptions"]} == {"zwickau", "dresden"}
    assert [m["status"] for m in data["subscriber"]["mails"]] == ["failed"]
    with transaction(ctx.engine) as conn:
        chemnitz = item_store.get(conn, f"{3:032x}")
        assert chemnitz.regions == ("chemnitz",)  # the admin's override survived
        assert digest_store.get(conn, 2).region == "dresden"
