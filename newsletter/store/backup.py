"""Backups of the database and their restore, consistent while the service runs.

* SQLite: SQLite's online backup API copies the database page by page under its own
  locks, so the copy is one consistent state even while ``serve`` collects and sends
  (a plain ``cp`` of a WAL database is not). The copy is written to a private temporary
  file beside the target and renamed into place, so a target never holds half a backup.
  Restore copies the other way, into the existing file (same inode: the service's file
  watch does not take it for a deleted database).
* PostgreSQL: ``pg_dump --format=custom`` of the service's schema and ``pg_restore
  --clean --single-transaction``; both must be installed (Debian: ``postgresql-client``).

:func:`inventory` counts the rows of every table: printed after a backup and by
``newsletter restore --check``, so the operator can compare the two.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, func, inspect, select
from sqlalchemy.engine import make_url

from newsletter.errors import StoreError
from newsletter.store.schema import metadata

# Tables whose rows make a database "in use": restoring over them needs --force.
_PRECIOUS = ("subscribers", "items", "digests", "deliveries", "consent_log", "admins")


@dataclass(frozen=True)
class Inventory:
    """What a database holds: its schema revision and the rows per table."""

    revision: str | None
    counts: dict[str, int]

    @property
    def in_use(self) -> bool:
        return any(self.counts.get(name, 0) for name in _PRECIOUS)


def inventory(conn: Connection) -> Inventory:
    present = set(inspect(conn).get_table_names())
    counts = {
        table.name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
        for table in metadata.sorted_tables
        if table.name in present
    }
    revision = None
    if "alembic_version" in present:
        revision = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    return Inventory(revision, counts)


def sqlite_inventory(path: Path) -> Inventory:
    """The inventory of a SQLite backup file, opened read-only after an integrity check."""
    from newsletter.store.db import make_engine

    check_sqlite_file(path)
    engine = make_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    try:
        with engine.connect() as conn:
            return inventory(conn)
    finally:
        engine.dispose()


def check_sqlite_file(path: Path) -> None:
    """Raise a German :class:`StoreError` unless ``path`` is an intact database of ours."""
    if not path.is_file():
        raise StoreError(f"Die Sicherung {path} gibt es nicht.")
    try:
        with _read_only(path) as db:
            verdict = db.execute("PRAGMA integrity_check").fetchone()
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path} ist keine lesbare SQLite-Datenbank ({exc}).") from exc
    if not verdict or verdict[0] != "ok":
        raise StoreError(f"Die Sicherung {path} ist beschädigt (integrity_check: {verdict}).")
    if "alembic_version" not in tables:
        raise StoreError(f"{path} ist keine Datenbank dieses Dienstes (alembic_version fehlt).")


def sqlite_backup(engine: Engine, target: Path) -> None:
    """Copy the live SQLite database to ``target`` (0600), consistent, via the backup API."""
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    try:
        raw = engine.raw_connection()
        try:
            dest = sqlite3.connect(temporary)
            try:
                raw.driver_connection.backup(dest)  # type: ignore[union-attr]
            finally:
                dest.close()
        finally:
            raw.close()
        temporary.replace(target)
    except (OSError, sqlite3.Error) as exc:
        temporary.unlink(missing_ok=True)
        raise StoreError(f"Sicherung nach {target} fehlgeschlagen: {exc}") from exc


def sqlite_restore(source: Path, engine: Engine) -> None:
    """Replace the live database's content by ``source`` (checked first), in place."""
    check_sqlite_file(source)
    raw = engine.raw_connection()
    try:
        with _read_only(source) as db:
            db.backup(raw.driver_connection)  # type: ignore[arg-type]
    except sqlite3.Error as exc:
        raise StoreError(f"Zurückspielen von {source} fehlgeschlagen: {exc}") from exc
    finally:
        raw.close()


def _read_only(path: Path) -> closing[sqlite3.Connection]:
    return closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True))


def libpq_url(url: str) -> tuple[str, dict[str, str]]:
    """A SQLAlchemy PostgreSQL URL as pg_dump and pg_restore take it, without its
    password, and the environment that carries the password instead (a command line is
    readable by every user of the machine, the environment is not)."""
    parsed = make_url(url).set(drivername="postgresql")
    env = {"PGPASSWORD": parsed.password} if parsed.password else {}
    return parsed._replace(password=None).render_as_string(hide_password=False), env


def pg_backup(engine: Engine, url: str, target: Path) -> None:
    """``pg_dump`` of the service's schema to ``target`` in the custom format (0600)."""
    with engine.connect() as conn:
        schema = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    command = [_tool("pg_dump"), "--format=custom", "--no-owner", f"--schema={schema}"]
    try:
        target_url, env = libpq_url(url)
        _run([*command, f"--file={temporary}", target_url], env)
        temporary.replace(target)
    finally:
        temporary.unlink(missing_ok=True)


def pg_check(source: Path) -> list[str]:
    """The tables whose data a custom-format dump holds (``pg_restore --list``)."""
    listing = _run([_tool("pg_restore"), "--list", str(source)])
    return sorted({line.split()[-2] for line in listing.splitlines() if " TABLE DATA " in line})


def pg_restore(source: Path, url: str) -> None:
    """Restore a dump made by :func:`pg_backup` over the service's schema, all or nothing."""
    target_url, env = libpq_url(url)
    _run([_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
          f"--dbname={target_url}", str(source)], env)  # fmt: skip


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise StoreError(
            f"{name} ist nicht installiert; für Sicherungen von PostgreSQL das Paket "
            "postgresql-client installieren (Version des Servers oder neuer)."
        )
    return found


def _run(command: list[str], env: dict[str, str] | None = None) -> str:
    done = subprocess.run(  # noqa: S603
        command, capture_output=True, text=True, check=False, env=os.environ | (env or {})
    )
    if done.returncode != 0:
        tool = Path(command[0]).name
        raise StoreError(f"{tool} ist fehlgeschlagen: {done.stderr.strip()[:500]}")
    return done.stdout
