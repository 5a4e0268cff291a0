"""The running service's shared state: config, database engine, gazetteer.

Built once at start (CLI command or web app) and passed down explicitly. The process's
runtime state lives here too, never in module globals: the send pace, the manual sends
(:class:`newsletter.mail.sendstate.ManualSends`) and the background scheduler
(:class:`Background`); each is guarded by its own lock where threads share it. The web
app's own state (caches, pools, import jobs) is one object on the app:
:class:`newsletter.web.state.WebState`.

Building it opens no connection; the gazetteer, the secret key and its token signer and
the DKIM key are made on first use.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import Engine

from newsletter.config import MIN_SECRET_KEY, Config
from newsletter.errors import ConfigError
from newsletter.mail.ratelimit import RateLimit
from newsletter.mail.sendstate import ManualSends
from newsletter.store import sources as source_store
from newsletter.store import sqlitefile
from newsletter.store.db import make_engine, make_private_dir, migrate, transaction
from newsletter.store.sqlitefile import sqlite_path
from newsletter.subscriptions.tokens import TokenSigner

if TYPE_CHECKING:
    from newsletter.mail.messages import DkimKey
    from newsletter.regions import Gazetteer


class Running(Protocol):
    """What :class:`Background` needs of a scheduler (APScheduler's has it)."""

    @property
    def running(self) -> bool: ...


class Background:
    """The scheduler this process runs for a context, and since when.

    Set and cleared by :func:`newsletter.scheduler.start_background` on the event loop,
    read by the health checks and the dashboard from worker threads: guarded by a lock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scheduler: Running | None = None
        self._expected = False
        self._started_at: datetime | None = None

    def start(self, scheduler: Running, *, expected: bool, at: datetime) -> None:
        """Record the scheduler (``expected``: the config enables it); RuntimeError if one
        is recorded already, since two would run every job twice."""
        with self._lock:
            if self._scheduler is not None:
                raise RuntimeError("this context runs its background jobs already")
            self._scheduler, self._expected, self._started_at = scheduler, expected, at

    def stop(self) -> None:
        with self._lock:
            self._scheduler, self._expected, self._started_at = None, False, None

    def state(self) -> tuple[str, datetime | None]:
        """``running``, ``stopped`` (expected but not running) or ``disabled``, and the
        start time (None when nothing was started)."""
        with self._lock:
            scheduler, expected, started_at = self._scheduler, self._expected, self._started_at
        if scheduler is None or not expected:
            return "disabled", started_at
        return ("running" if scheduler.running else "stopped"), started_at


@dataclass
class Context:
    config: Config
    engine: Engine = field(init=False)

    send_pace: RateLimit = field(init=False)
    manual_sends: ManualSends = field(init=False, repr=False)
    background: Background = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.engine = make_engine(self.config.database_url())
        # one pace for every drain of this process: mail.rate_per_second holds in total
        self.send_pace = RateLimit(self.config.mail.rate_per_second)
        self.manual_sends = ManualSends()  # the regions whose »Jetzt senden« runs here
        self.background = Background()  # the scheduler, while start_background runs it

    @cached_property
    def gazetteer(self) -> Gazetteer:
        from newsletter.regions import load_gazetteer

        # compiled once per process and region layout, shared by every Context (16 MB)
        return load_gazetteer({r.key: list(r.districts) for r in self.config.region_list()})

    @cached_property
    def secret_key(self) -> str:
        """``web.secret_key`` from the environment, else a key generated once into data_dir."""
        if self.config.web.secret_key:
            return self.config.web.secret_key
        return _stored_secret(self.config.path(self.config.storage.data_dir) / "secret.key")

    @cached_property
    def tokens(self) -> TokenSigner:
        """Signer for confirm / manage / unsubscribe links."""
        return TokenSigner(self.secret_key, self.config.subscriptions.token_generation)

    @cached_property
    def dkim_key(self) -> DkimKey | None:
        """The DKIM signing key (read once), or None when DKIM is not configured."""
        from newsletter.mail.messages import dkim_key

        return dkim_key(self.config)

    def init_db(self, *, create: bool = False) -> None:
        """Migrate the schema and sync the configured sources (idempotent).

        A missing SQLite file is created on a fresh data directory, else only with
        ``create`` (``newsletter init-db``): see :func:`newsletter.store.sqlitefile.prepare`.
        """
        path = sqlite_path(self.config.database_url())
        if path is not None:
            data_dir = self.config.path(self.config.storage.data_dir)
            sqlitefile.prepare(path, data_dir, create=create)
        migrate(self.engine)
        with transaction(self.engine) as conn:
            source_store.sync_from_config(conn, configured_sources(self.config))
        if path is not None:
            sqlitefile.mark_initialised(path)

    def close(self) -> None:
        self.engine.dispose()


def configured_sources(config: Config) -> list[dict[str, object]]:
    """The sources of config.toml as rows for the store (folder paths made absolute)."""
    rows: list[dict[str, object]] = []
    for spec in config.sources:
        location = str(config.path(spec.location)) if spec.kind == "folder" else spec.location
        options = dict(spec.selectors)
        if spec.allow_private:
            options["allow_private"] = "true"
        rows.append(
            {
                "name": spec.name,
                "kind": spec.kind,
                "location": location,
                "region": spec.region,
                "enabled": spec.enabled,
                "options": options,
            }
        )
    return rows


def _stored_secret(path: Path) -> str:
    """The key in ``path``, created once if missing: written completely to a private
    (0600) temporary file beside it, then linked into place. When several processes start
    at once the first link wins and every process reads that one complete key."""
    if not path.exists():
        make_private_dir(path.parent)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=".secret.key.")  # 0600
        temporary = Path(name)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                file.write(secrets.token_urlsafe(48) + "\n")
                file.flush()
                os.fsync(file.fileno())
            with contextlib.suppress(FileExistsError):  # another process was first
                os.link(temporary, path)
        finally:
            temporary.unlink()
    return _checked_key(path.read_text(encoding="utf-8").strip(), path)


def _checked_key(key: str, path: Path) -> str:
    if len(key) < MIN_SECRET_KEY:
        raise ConfigError(
            f"{path}: der gespeicherte Schlüssel für »web.secret_key« ist leer oder zu kurz "
            f"(mindestens {MIN_SECRET_KEY} Zeichen); Datei prüfen oder löschen, dann wird "
            "ein neuer erzeugt (alle Links und Anmeldungen werden ungültig)",
            key="web.secret_key",
        )
    return key
