"""The running service's shared state: config, database engine, gazetteer.

Built once at start (CLI command or web app) and passed down explicitly.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from newsletter.config import Config
from newsletter.ratelimit import RateLimit
from newsletter.store import sources as source_store
from newsletter.store.db import make_engine, migrate, transaction
from newsletter.tokens import TokenSigner

if TYPE_CHECKING:
    from newsletter.messages import DkimKey
    from newsletter.regions import Gazetteer


@dataclass
class Context:
    config: Config
    engine: Engine = field(init=False)

    send_pace: RateLimit = field(init=False)

    def __post_init__(self) -> None:
        self.engine = make_engine(self.config.database_url())
        # one pace for every drain of this process: mail.rate_per_second holds in total
        self.send_pace = RateLimit(self.config.mail.rate_per_second)

    @cached_property
    def gazetteer(self) -> Gazetteer:
        from newsletter.regions import Gazetteer

        return Gazetteer.from_regions({r.key: list(r.districts) for r in self.config.region_list()})

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
        from newsletter.messages import dkim_key

        return dkim_key(self.config)

    def init_db(self) -> None:
        """Migrate the schema and sync the configured sources (idempotent)."""
        migrate(self.engine)
        with transaction(self.engine) as conn:
            source_store.sync_from_config(conn, configured_sources(self.config))

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
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key + "\n", encoding="utf-8")
    path.chmod(0o600)
    return key
