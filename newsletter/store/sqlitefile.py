"""The SQLite database file: private from creation, never silently re-created, and
watched while the service runs.

* A new database file is created 0600 by :func:`prepare` before SQLite opens it (SQLite
  gives ``-wal`` and ``-shm`` the mode of the database file); connections open it with
  ``mode=rw``, so SQLite itself never creates a file.
* :func:`prepare` refuses to create the file when its directory shows that a service
  ran there (the marker :func:`mark_initialised` leaves, a leftover ``-wal``, a generated
  ``secret.key``): a deleted database must not come back empty unnoticed; only
  ``newsletter init-db`` creates it then.
* :func:`watch` remembers which file (device, inode) the engine opened and refuses every
  transaction once the path names another file or none (deleted or replaced while
  running): otherwise writes would go on into the deleted file and be lost at restart.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, event

from newsletter.errors import DatabaseMissingError, StoreError

MARKER_SUFFIX = ".created"  # beside the database file: "this database was set up here"


def sqlite_path(url: str) -> Path | None:
    """The file of a plain ``sqlite:///path`` URL (None for memory or URI-style URLs)."""
    path = url.split("///", 1)[-1]
    if not url.startswith("sqlite") or not path or "?" in path or ":memory:" in path:
        return None
    return Path(path)


def read_write_url(path: Path) -> str:
    """A URL that opens ``path`` read-write and never creates it."""
    return f"sqlite:///file:{path}?mode=rw&uri=true"


def evidence(path: Path, data_dir: Path) -> list[Path]:
    """Files showing that a service already ran with this database (pure over the paths)."""
    candidates = [
        path.with_name(path.name + MARKER_SUFFIX),
        path.with_name(path.name + "-wal"),
        data_dir / "secret.key",
    ]
    return [candidate for candidate in candidates if candidate.exists()]


def prepare(path: Path, data_dir: Path, *, create: bool) -> None:
    """Make sure the database file exists; create it (0600) only on a fresh data
    directory or when ``create`` (``newsletter init-db``) says so."""
    if path.exists():
        return
    found = evidence(path, data_dir)
    if found and not create:
        raise DatabaseMissingError(
            f"Die Datenbank {path} (storage.database_url) fehlt, obwohl hier schon ein Dienst "
            f"lief ({', '.join(p.name for p in found)}). Sicherung zurückspielen oder mit "
            "»newsletter init-db« bewusst eine neue, leere Datenbank anlegen."
        )
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass  # another process was first
    except OSError as exc:
        raise StoreError(
            f"Die Datenbank {path} (storage.database_url) kann nicht angelegt werden: "
            f"{exc.strerror}"
        ) from exc


def mark_initialised(path: Path) -> None:
    """Leave the marker :func:`evidence` looks for (after a successful migration)."""
    marker = path.with_name(path.name + MARKER_SUFFIX)
    if not marker.exists():
        with contextlib.suppress(OSError):  # a read-only directory: serve what is there
            marker.write_text("newsletter init-db\n", encoding="utf-8")


@dataclass
class _Opened:
    path: Path
    identity: tuple[int, int] | None = None

    def problem(self) -> str | None:
        """None while ``path`` is still the file first opened, else a German reason."""
        if self.identity is None:
            return None
        try:
            status = self.path.stat()
        except FileNotFoundError:
            return f"Datenbankdatei {self.path} wurde gelöscht"
        if (status.st_dev, status.st_ino) != self.identity:
            return f"Datenbankdatei {self.path} wurde ersetzt"
        return None


_OPENED: WeakKeyDictionary[Engine, _Opened] = WeakKeyDictionary()


def watch(engine: Engine, path: Path) -> None:
    """Remember the file at the first connection; refuse transactions once it is gone."""
    opened = _OPENED[engine] = _Opened(path)

    def on_connect(_dbapi_connection: Any, _record: Any) -> None:
        if opened.identity is None:
            status = path.stat()
            opened.identity = (status.st_dev, status.st_ino)
        _refuse_if_gone(opened)

    def on_begin(_connection: Connection) -> None:
        _refuse_if_gone(opened)

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "begin", on_begin)


def _refuse_if_gone(opened: _Opened) -> None:
    problem = opened.problem()
    if problem is not None:
        raise StoreError(
            f"{problem}, während der Dienst lief (storage.database_url); nichts wird mehr "
            "gespeichert. Sicherung zurückspielen und den Dienst neu starten."
        )


def file_problem(engine: Engine) -> str | None:
    """Why the engine's SQLite file is no longer usable, or None (also for PostgreSQL)."""
    opened = _OPENED.get(engine)
    return None if opened is None else opened.problem()
