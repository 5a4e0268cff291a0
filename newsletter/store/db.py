"""Engine creation, SQLite pragmas, migrations (Alembic) and the time helper."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, RootTransaction, create_engine, event, inspect
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from newsletter.errors import StoreError
from newsletter.resources import resource_dir
from newsletter.store.sqlitefile import read_write_url, sqlite_path, watch

BUSY_TIMEOUT_SECONDS = 10.0  # SQLite waits this long for the write lock (busy_timeout)
BUSY_RETRY_SECONDS = 10.0  # then a transaction's BEGIN is retried for up to this long
# SQLite's page cache per connection (default 2 MB): a web process keeps up to 15 pooled
# connections, each filling its cache; 10,000 items under mixed page load: 7 MB less
# resident memory at 512 KB. Reads the cache misses come from the OS's file cache.
SQLITE_CACHE_KIB = 512


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes for aware columns: make them aware again (UTC)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create the engine; SQLite gets WAL, foreign keys and a busy timeout, and a database
    file is opened read-write without ever being created (see :mod:`.sqlitefile`)."""
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if path is not None:
            make_private_dir(path.parent)
        engine = create_engine(
            url if path is None else read_write_url(path),
            connect_args={"timeout": BUSY_TIMEOUT_SECONDS},
            **kwargs,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        if path is not None:
            watch(engine, path)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    # pg_stat_activity names the process: an operator sees which one holds a lock
    args = {"application_name": f"newsletter[{os.getpid()}]"}
    return create_engine(url, pool_pre_ping=True, connect_args=args, **kwargs)


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) readable by the service user only (0700);
    an existing directory keeps its mode (the operator may have chosen it)."""
    if not path.is_dir():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (see _sqlite_begin)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    """Take the write lock at BEGIN: no lock upgrades, so no SQLITE_BUSY deadlocks."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def is_postgres(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "postgresql"


@contextmanager
def transaction(engine: Engine, retry_for: float = BUSY_RETRY_SECONDS) -> Iterator[Connection]:
    """One short transaction; database errors become :class:`StoreError`.

    On SQLite the write lock is taken at BEGIN (``BEGIN IMMEDIATE``), so "database is
    locked" can only happen there, before the body ran: after ``busy_timeout`` the BEGIN
    is retried for up to ``retry_for`` seconds more (a long writer elsewhere, e.g. a CLI
    import between its chunks), and only then does the caller see a :class:`StoreError`.
    """
    try:
        conn, tx = _begin(engine, retry_for)
        with conn, tx:
            yield conn
    except SQLAlchemyError as exc:
        raise StoreError(describe(exc)) from exc


def describe(exc: SQLAlchemyError, doing: str = "Datenbankfehler") -> str:
    """One German line for a database error, naming the setting to check."""
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    lowered = detail.lower()
    if "readonly" in lowered or "read-only" in lowered:
        return (
            "Die Datenbank ist schreibgeschützt (storage.database_url): Schreibrechte "
            "für die Datei und ihren Ordner prüfen."
        )
    if "unable to open database file" in lowered:
        return (
            "Die Datenbankdatei kann nicht geöffnet werden (storage.database_url): Datei und "
            "Ordner müssen für den Dienst les- und schreibbar sein."
        )
    if isinstance(exc, OperationalError):
        return f"Datenbank nicht erreichbar (storage.database_url): {detail}"
    return f"{doing}: {exc.__class__.__name__}: {detail}"


def _begin(engine: Engine, retry_for: float) -> tuple[Connection, RootTransaction]:
    """Connect and BEGIN, retried while the database is locked (bounded by ``retry_for``)."""
    deadline = time.monotonic() + retry_for
    pause = 0.05
    while True:
        conn = engine.connect()
        try:
            return conn, conn.begin()
        except OperationalError as exc:
            conn.close()
            if not is_busy(exc) or time.monotonic() + pause > deadline:
                raise
        except BaseException:
            conn.close()
            raise
        time.sleep(pause)
        pause = min(pause * 2, 1.0)


def is_busy(exc: OperationalError) -> bool:
    """SQLite's "database is locked" / "database table is locked" (SQLITE_BUSY/LOCKED)."""
    return "locked" in str(exc.orig or exc).lower()


def migrations_dir() -> Path:
    """The Alembic scripts (see :mod:`newsletter.resources`)."""
    return resource_dir("migrations")


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent).

    A database already at the newest revision is left alone without Alembic: every CLI
    command migrates, and importing Alembic and running it to find nothing to do took
    0.26–0.57 s, reading ``alembic_version`` takes 2–10 ms (measured on SQLite). The
    invariant is :func:`newest_revision`'s; a database behind it, ahead of it or without
    the table goes through Alembic as before.

    On SQLite foreign keys are off meanwhile: rebuilding a table (batch mode) drops the
    old one, and with foreign keys on that drop would cascade to the rows referring to it.
    """
    if schema_revisions(engine) == [newest_revision()]:
        return
    from alembic import command
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(migrations_dir()))
    try:
        with engine.connect() as conn, _foreign_keys_off(conn), conn.begin():
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except SQLAlchemyError as exc:
        raise StoreError(describe(exc, "Datenbank kann nicht migriert werden")) from exc


def newest_revision() -> str:
    """The head revision, read from the file names: a migration is named
    ``NNNN_<what>.py`` with revision ``NNNN``, each revising the one before (checked
    against Alembic's own head by ``tests/test_migrations.py``)."""
    names = (
        path.name for path in (migrations_dir() / "versions").glob("[0-9][0-9][0-9][0-9]_*.py")
    )
    return max(name.partition("_")[0] for name in names)


def schema_revisions(engine: Engine) -> list[str]:
    """The revisions the database says it is at (none when it has no Alembic table yet,
    or cannot be read: then :func:`migrate` runs Alembic, which reports why)."""
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT version_num FROM alembic_version")
            return [str(value) for value in rows.scalars()]
    except SQLAlchemyError:
        return []


@contextmanager
def _foreign_keys_off(conn: Connection) -> Iterator[None]:
    """SQLite only; the pragma must be set outside a transaction (driver level, autocommit)."""
    raw = conn.connection.driver_connection if conn.dialect.name == "sqlite" else None
    if raw is not None:
        raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        if raw is not None:
            raw.execute("PRAGMA foreign_keys=ON")


def check_ready(engine: Engine) -> bool:
    """True when the database answers and has our tables."""
    try:
        with engine.connect() as conn:
            return inspect(conn).has_table("items")
    except (SQLAlchemyError, StoreError):  # StoreError: the file was deleted or replaced
        return False
