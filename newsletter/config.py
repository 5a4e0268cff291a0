"""config.toml + NEWSLETTER_* environment -> one validated, typed :class:`Config`.

Every key of ``config.toml`` can be overridden from the environment as
``NEWSLETTER_<SECTION>__<KEY>`` (e.g. ``NEWSLETTER_MAIL__SMTP_PORT=2525``). Values are
read as TOML scalars when they parse as such (``2525``, ``true``, ``"x"``), else as
plain strings. Relative paths are relative to the directory of the config file.

A wrong key or value stops start-up with a German :class:`ConfigError` that names
the key and, when it comes from the file, the line.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from newsletter.errors import ConfigError, NotFoundError
from newsletter.models import ApprovalMode, Region

MIN_SECRET_KEY = 24  # characters of web.secret_key (a generated key has 64)
ADDRESS = re.compile(r"[^@\s<>(),;:\"]+@[^@\s<>(),;:\"]+")
DATABASE_URL_HINT = (
    "ist keine Datenbank-Adresse (z. B. sqlite:///var/newsletter.db oder "
    "postgresql+psycopg://benutzer@host/datenbank)"
)
ENV_PREFIX = "NEWSLETTER_"
CONFIG_ENV = "NEWSLETTER_CONFIG"
DEFAULT_CONFIG = "config.toml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SiteConfig(_Section):
    """Public identity of the service; used in pages, feeds and mails."""

    name: str = "ASSKomm Nachrichten"
    base_url: str = "http://127.0.0.1:8000"
    publisher: str = "Landespräventionsrat Sachsen"
    publisher_address: str = ""
    contact_email: str = "praevention@example.org"
    impressum_url: str = "/impressum"
    privacy_url: str = "/datenschutz"
    accessibility_url: str = "/barrierefreiheit"
    logo_url: str = ""
    timezone: str = "Europe/Berlin"
    language: str = "de-DE"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("ist keine bekannte Zeitzone (z. B. Europe/Berlin)") from exc
        return value

    @field_validator("base_url")
    @classmethod
    def _absolute(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("muss eine absolute http(s)-Adresse sein")
        return value.rstrip("/")

    @property
    def domain(self) -> str:
        """Host name of ``base_url``: the domain of Message-IDs, tag: URIs and List-Id."""
        return urlsplit(self.base_url).hostname or "localhost"


class StorageConfig(_Section):
    """Where data lives. SQLite by default; PostgreSQL via ``postgresql+psycopg://…``."""

    data_dir: Path = Path("var")
    database_url: str = "sqlite:///var/newsletter.db"

    @field_validator("database_url")
    @classmethod
    def _database(cls, value: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            backend = make_url(value).get_backend_name()
        except ArgumentError as exc:
            raise ValueError(DATABASE_URL_HINT) from exc
        if backend not in ("sqlite", "postgresql"):
            raise ValueError(DATABASE_URL_HINT)
        return value


class MailConfig(_Section):
    """Outgoing mail: Maildir (default, no server needed) or SMTP."""

    transport: Literal["maildir", "smtp"] = "maildir"
    maildir: Path = Path("var/mail")
    from_address: str = "newsletter@example.org"
    from_name: str = "ASSKomm Nachrichten"
    reply_to: str = ""
    envelope_from: str = ""
    list_unsubscribe_mailto: str = ""
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_tls: Literal["starttls", "ssl", "none"] = "starttls"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_timeout: float = Field(default=60.0, gt=0)
    rate_per_second: float = Field(default=10.0, gt=0)
    rate_per_hour: int = Field(default=20000, ge=1)
    max_attempts: int = Field(default=8, ge=1)
    retry_base_seconds: float = Field(default=60.0, gt=0)
    batch_size: int = Field(default=50, ge=1)
    lease_seconds: int = Field(default=300, ge=10)
    suspend_after_failures: int = Field(default=3, ge=1)
    dkim_selector: str = ""
    dkim_domain: str = ""
    dkim_key_file: Path | None = None

    @field_validator("from_address", "reply_to", "envelope_from", "list_unsubscribe_mailto")
    @classmethod
    def _address(cls, value: str, info: ValidationInfo) -> str:
        if any(ch in value for ch in "\r\n\x00"):
            raise ValueError("darf keinen Zeilenumbruch enthalten")
        if (value or info.field_name == "from_address") and not ADDRESS.fullmatch(value):
            raise ValueError("ist keine E-Mail-Adresse (z. B. newsletter@example.org)")
        return value

    @field_validator("from_name")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if any(ch in value for ch in "\r\n\x00"):
            raise ValueError("darf keinen Zeilenumbruch enthalten")
        return value


class BouncesConfig(_Section):
    """Asynchronous bounces: VERP envelope senders and the mailbox the bounce job reads."""

    verp: bool = False
    verp_local: str = Field(default="bounces", pattern=r"^[A-Za-z0-9._-]{1,40}$")
    verp_domain: str = ""
    mailbox: Literal["none", "maildir", "imap"] = "none"
    maildir: Path = Path("var/bounces")
    imap_host: str = ""
    imap_port: int = Field(default=993, ge=1, le=65535)
    imap_username: str = ""
    imap_password: str = ""  # environment only: NEWSLETTER_BOUNCES__IMAP_PASSWORD
    imap_folder: str = "INBOX"
    interval_minutes: int = Field(default=10, ge=1)
    soft_suspend_after: int = Field(default=3, ge=1)
    max_message_bytes: int = Field(default=2_000_000, ge=10_000)
    max_messages_per_run: int = Field(default=1000, ge=1)

    @field_validator("verp_domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        if value and not re.fullmatch(r"[A-Za-z0-9.-]+\.[A-Za-z]{2,}", value):
            raise ValueError("ist kein Domainname (z. B. example.org)")
        return value

    @model_validator(mode="after")
    def _imap_host(self) -> BouncesConfig:
        if self.mailbox == "imap" and not self.imap_host:
            raise ValueError('für mailbox = "imap" fehlt »imap_host«')
        return self


class ScheduleConfig(_Section):
    """APScheduler jobs (times in ``site.timezone``)."""

    enabled: bool = True
    collect_minutes: int = Field(default=15, ge=1)
    digest_cron: str = "0 9 * * thu"
    housekeeping_cron: str = "30 3 * * *"
    misfire_grace_seconds: int = Field(default=3600, ge=1)
    delivery_retention_days: int = Field(default=365, ge=1)
    approval: ApprovalMode = ApprovalMode.AUTO  # manual: slots draft, an admin sends


class FetchConfig(_Section):
    """How sources are fetched."""

    timeout_seconds: float = Field(default=20.0, gt=0)
    deadline_seconds: float = Field(default=60.0, gt=0)  # whole fetch, against trickling servers
    max_bytes: int = Field(default=10_000_000, ge=1024)
    max_redirects: int = Field(default=5, ge=0, le=20)
    concurrency: int = Field(default=10, ge=1)
    allow_private_hosts: bool = False
    user_agent_contact: str = ""


class FeedsConfig(_Section):
    """Published feeds."""

    max_items: int = Field(default=50, ge=1, le=1000)
    ttl_minutes: int = Field(default=60, ge=1)
    cache_seconds: int = Field(default=300, ge=0)
    recheck_seconds: float = Field(default=1.0, ge=0, le=60)
    websub_hub: str = ""
    static_dir: Path | None = None


class SubscriptionsConfig(_Section):
    """Double opt-in, tokens, consent log."""

    confirm_days: int = Field(default=7, ge=1)
    consent_text_version: str = "2026-11"
    store_ip: Literal["none", "hash", "full"] = "hash"
    welcome_digest: bool = True
    rate_limit_per_hour: int = Field(default=5, ge=1)
    pending_retention_days: int = Field(default=30, ge=1)
    token_generation: int = Field(default=1, ge=1)


class WebConfig(_Section):
    """The web server started by ``newsletter serve``."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    access_log: bool = False
    secret_key: str = ""
    login_rate_per_minute: int = Field(default=10, ge=1)
    trusted_proxies: list[str] = Field(default_factory=list)
    metrics_token: str = ""  # environment only: NEWSLETTER_WEB__METRICS_TOKEN
    metrics_networks: list[str] = Field(default_factory=lambda: ["127.0.0.0/8", "::1/128"])

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, value: str) -> str:
        if value and len(value.strip()) < MIN_SECRET_KEY:
            raise ValueError(
                f"ist zu kurz (mindestens {MIN_SECRET_KEY} Zeichen; leer lassen, "
                "dann wird ein Schlüssel erzeugt)"
            )
        return value

    @field_validator("metrics_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError as exc:
                raise ValueError(f"»{network}« ist kein Netz (z. B. 10.0.0.0/8)") from exc
        return value


class RegionConfig(_Section):
    """One region: its key, display name, districts and optional digest cron."""

    key: str = Field(pattern=r"^[a-z0-9-]+$")
    name: str
    districts: list[str]
    digest_cron: str | None = None

    @field_validator("districts")
    @classmethod
    def _district_keys(cls, value: list[str]) -> list[str]:
        for key in value:
            if not re.fullmatch(r"14\d{3}", key):
                raise ValueError(f"»{key}« ist kein sächsischer Kreisschlüssel (14xxx)")
        return value

    def to_region(self) -> Region:
        return Region(self.key, self.name, tuple(self.districts), self.digest_cron)


class SourceConfig(_Section):
    """One source from config.toml; synced into the store by name at start."""

    name: str
    kind: Literal["feed", "page", "folder"]
    url: str = ""
    path: Path | None = None
    region: str | None = None
    enabled: bool = True
    allow_private: bool = False
    selectors: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _location(self) -> SourceConfig:
        if self.kind == "folder" and self.path is None:
            raise ValueError("eine Ordner-Quelle braucht »path«")
        if self.kind != "folder" and not self.url.startswith(("http://", "https://")):
            raise ValueError("braucht eine http(s)-Adresse in »url«")
        if self.kind == "page" and not {"item", "title", "link"} <= self.selectors.keys():
            raise ValueError("eine Seiten-Quelle braucht selectors item, title und link")
        return self

    @property
    def location(self) -> str:
        return str(self.path) if self.kind == "folder" else self.url


class Config(_Section):
    """The whole, validated configuration."""

    site: SiteConfig = SiteConfig()
    storage: StorageConfig = StorageConfig()
    mail: MailConfig = MailConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    fetch: FetchConfig = FetchConfig()
    feeds: FeedsConfig = FeedsConfig()
    subscriptions: SubscriptionsConfig = SubscriptionsConfig()
    web: WebConfig = WebConfig()
    bounces: BouncesConfig = BouncesConfig()
    regions: list[RegionConfig] = Field(default_factory=list)
    sources: list[SourceConfig] = Field(default_factory=list)
    base_dir: Path = Path()

    @model_validator(mode="after")
    def _cross_checks(self) -> Config:
        keys = [r.key for r in self.regions]
        if len(set(keys)) != len(keys):
            raise ValueError("Regionsschlüssel sind doppelt vergeben")
        for source in self.sources:
            if source.region is not None and source.region not in keys:
                raise ValueError(f"Quelle »{source.name}«: unbekannte Region »{source.region}«")
        return self

    @cached_property
    def region_table(self) -> dict[str, Region]:
        """The regions by key, in config order, made once (the model is frozen): a send
        looks up a region for every mail."""
        return {r.key: r.to_region() for r in self.regions}

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Config:
        """A copy that makes its own region table (pydantic would copy the cached one)."""
        copied = super().model_copy(update=update, deep=deep)
        copied.__dict__.pop("region_table", None)
        return copied

    def region_list(self) -> tuple[Region, ...]:
        return tuple(self.region_table.values())

    def region(self, key: str) -> Region | None:
        return self.region_table.get(key)

    def known_region(self, key: str) -> Region:
        """The region ``key``; :class:`NotFoundError` (»Die Region … gibt es nicht.«) if
        the config has none of that key."""
        region = self.region_table.get(key)
        if region is None:
            raise NotFoundError.of("region", key)
        return region

    def path(self, value: Path | str) -> Path:
        """Resolve a path from the config relative to the config file's directory."""
        candidate = Path(value)
        return candidate if candidate.is_absolute() else self.base_dir / candidate

    def database_url(self) -> str:
        """The database URL with a relative SQLite path resolved against ``base_dir``."""
        url = self.storage.database_url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str(self.path(url[len(prefix) :]))
        return url


def load_config(path: Path | str | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read the config file (``path``, else $NEWSLETTER_CONFIG, else ./config.toml) and env."""
    env = os.environ if environ is None else environ
    file = Path(path or env.get(CONFIG_ENV) or DEFAULT_CONFIG)
    raw_text = _read(file)
    data = _parse(file, raw_text)
    overrides = env_overrides(env)
    data = _merge(data, overrides)
    data["base_dir"] = file.resolve().parent
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise _explain(exc, file, raw_text, overrides) from exc


def _read(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"Konfigurationsdatei {file} nicht gefunden") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Konfigurationsdatei {file} nicht lesbar: {exc}") from exc


def _parse(file: Path, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = _toml_error_line(str(exc))
        raise ConfigError(f"{file}: kein gültiges TOML ({exc})", line=line) from exc


def _toml_error_line(message: str) -> int | None:
    found = re.search(r"line (\d+)", message)
    return int(found.group(1)) if found else None


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """``NEWSLETTER_SECTION__KEY=value`` -> ``{"section": {"key": value}}``."""
    result: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
        result.setdefault(section, {})[key] = _scalar(value)
    return result


def _scalar(value: str) -> Any:
    try:
        return tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return value


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _explain(exc: ValidationError, file: Path, text: str, overrides: dict[str, Any]) -> ConfigError:
    """Turn pydantic's first error into one German sentence with key and line (or variable)."""
    first = exc.errors()[0]
    loc = [str(part) for part in first["loc"]]
    key = ".".join(loc) or "(Datei)"
    if len(loc) == 2 and loc[1] in overrides.get(loc[0], {}):
        variable = f"{ENV_PREFIX}{loc[0].upper()}__{loc[1].upper()}"
        return ConfigError(f"Umgebungsvariable {variable}: »{key}« {_german(first)}", key=key)
    line = locate_key(text, loc)
    where = f"{file}, Zeile {line}" if line else str(file)
    return ConfigError(f"{where}: »{key}« {_german(first)}", key=key, line=line)


_MESSAGES = {
    "extra_forbidden": "ist kein bekannter Schlüssel",
    "missing": "fehlt",
    "literal_error": "hat einen unzulässigen Wert",
    "enum": "hat einen unzulässigen Wert",
    "int_parsing": "muss eine ganze Zahl sein",
    "float_parsing": "muss eine Zahl sein",
    "bool_parsing": "muss true oder false sein",
    "string_type": "muss ein Text sein",
    "greater_than_equal": "ist zu klein",
    "greater_than": "ist zu klein",
    "less_than_equal": "ist zu groß",
    "string_pattern_mismatch": "enthält unzulässige Zeichen",
}


def _german(error: Mapping[str, Any]) -> str:
    kind = str(error.get("type", ""))
    if kind in _MESSAGES:
        detail = error.get("ctx", {}).get("expected")
        return _MESSAGES[kind] + (f" (erlaubt: {detail})" if detail else "")
    return str(error.get("msg", "ist ungültig")).removeprefix("Value error, ")


def locate_key(text: str, loc: list[str]) -> int | None:
    """Best-effort line number of ``loc`` (e.g. ``["mail", "smtp_port"]``) in TOML text.

    Tracks ``[section]`` and ``[[array]]`` headers (counting array entries) and returns
    the line of the deepest key found, or of the section header.
    """
    section: list[str] = []
    index: dict[str, int] = {}
    best: int | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        header = re.fullmatch(r"\[\[?\s*([^\]]+?)\s*\]\]?(\s*#.*)?", line)
        if header:
            name = header.group(1)
            if line.startswith("[["):
                index[name] = index.get(name, -1) + 1
                section = [*name.split("."), str(index[name])]
            else:
                section = name.split(".")
            if loc[: len(section)] == section:
                best = number
            continue
        key = re.match(r"([A-Za-z0-9_-]+)\s*=", line)
        if key and loc == [*section, key.group(1)]:
            return number
    return best
