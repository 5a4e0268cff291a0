"""One exception tree for the whole service.

Every error the service raises on purpose derives from :class:`NewsletterError`.
Its ``message`` is German and meant for users (CLI line, HTML page, JSON body);
the attributes name the resource it concerns; the cause is chained with ``from``.

    NewsletterError
    ├── ConfigError              config.toml or NEWSLETTER_* environment is wrong
    ├── StoreError               the database cannot be reached or migrated
    │   └── DatabaseMissingError the SQLite file is gone where a service ran before
    ├── NotFoundError            an item, region, source, digest … does not exist
    ├── InvalidInputError        user input is malformed (form field, CLI argument, CSV row)
    │   └── InvalidAddressError  an email address is not valid
    ├── SourceError              a source could not be fetched or parsed (carries the URL)
    │   ├── FetchError           network, HTTP status, size limit, refused target
    │   └── ParseError           malformed or hostile feed/page/file content
    ├── TokenError               a link token is tampered, expired or revoked
    ├── PermissionDeniedError    not logged in, wrong CSRF token, rate limited
    └── DeliveryError            a mail could not be handed to the transport
        ├── TemporaryDeliveryError   4xx, timeout, disconnect: retry later
        │   └── TransportUnavailableError  no session at all (server down, TLS, AUTH)
        └── PermanentDeliveryError   5xx: do not retry
    MailboxError                 the bounce mailbox cannot be read (Maildir, IMAP)
"""

from __future__ import annotations

from typing import ClassVar


class NewsletterError(Exception):
    """Base of all errors the service raises on purpose; ``message`` is German."""

    exit_code = 1
    http_status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(NewsletterError):
    """The configuration is invalid; names the key and, where known, the file line."""

    exit_code = 78  # EX_CONFIG

    def __init__(self, message: str, *, key: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.line = line


class StoreError(NewsletterError):
    """The database cannot be reached, migrated or written."""

    exit_code = 74  # EX_IOERR
    http_status = 503


class DatabaseMissingError(StoreError):
    """The SQLite file is missing although the data directory shows a service ran there:
    it is not re-created empty unless ``newsletter init-db`` says so."""

    exit_code = 72  # EX_OSFILE


class NotFoundError(NewsletterError):
    """A named resource does not exist.

    The store raises it with :meth:`of` (what and which), so its German wording lives
    here and not beside the SQL; ``kind`` and ``key`` stay on the error for callers.
    """

    exit_code = 66  # EX_NOINPUT
    http_status = 404

    _WORDING: ClassVar[dict[str, str]] = {
        "admin": "Admin {key} gibt es nicht",
        "digest": "Newsletter {key} gibt es nicht",
        "item": "Meldung »{key}« gibt es nicht",
        "region": "Die Region »{key}« gibt es nicht.",
        "source": "Quelle {key} gibt es nicht",
        "source_name": "Quelle »{key}« gibt es nicht",
        "subscription": "Dieses Abonnement gibt es nicht (mehr).",
    }

    def __init__(self, message: str, *, kind: str | None = None, key: object = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.key = key

    @classmethod
    def of(cls, kind: str, key: object = None) -> NotFoundError:
        """The error for a missing ``kind`` (a key of ``_WORDING``) named ``key``."""
        return cls(cls._WORDING[kind].format(key=key), kind=kind, key=key)


class InvalidInputError(NewsletterError):
    """User input is malformed; ``field`` names the form field, argument or CSV column."""

    exit_code = 65  # EX_DATAERR
    http_status = 400

    def __init__(self, message: str, *, field: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.line = line

    @classmethod
    def admin_exists(cls, name: str) -> InvalidInputError:
        """A second admin with a name already taken (the store's unique key says so)."""
        return cls(f"Den Admin »{name}« gibt es schon", field="name")


class InvalidAddressError(InvalidInputError):
    """An email address is syntactically invalid or not deliverable."""

    def __init__(self, message: str, *, address: str, line: int | None = None) -> None:
        super().__init__(message, field="email", line=line)
        self.address = address


class SourceError(NewsletterError):
    """A source failed; ``url`` names it. Stored on the source as its last error."""

    exit_code = 69  # EX_UNAVAILABLE
    http_status = 502

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url


class FetchError(SourceError):
    """The source could not be fetched (network, status, size limit, refused target)."""

    def __init__(
        self,
        message: str,
        *,
        url: str,
        status: int | None = None,
        retry_after: float | None = None,
        permanent: bool = False,
    ) -> None:
        super().__init__(message, url=url)
        self.status = status
        self.retry_after = retry_after
        self.permanent = permanent


class ParseError(SourceError):
    """The fetched content is malformed, hostile or of an unknown format."""


class TokenError(NewsletterError):
    """A link token is tampered with, expired, revoked or meant for another purpose."""

    exit_code = 65
    http_status = 400

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


class PermissionDeniedError(NewsletterError):
    """Not logged in, missing/wrong CSRF token, or rate limited."""

    exit_code = 77  # EX_NOPERM
    http_status = 403


class DeliveryError(NewsletterError):
    """A mail could not be handed over; ``reply`` keeps the server's answer."""

    exit_code = 75  # EX_TEMPFAIL

    def __init__(
        self, message: str, *, address: str, code: int | None = None, reply: str = ""
    ) -> None:
        super().__init__(message)
        self.address = address
        self.code = code
        self.reply = reply


class TemporaryDeliveryError(DeliveryError):
    """4xx reply, timeout or lost connection: the delivery is retried later."""


class TransportUnavailableError(TemporaryDeliveryError):
    """No session could be opened (connect, greeting, TLS, AUTH): every mail would fail alike."""


class PermanentDeliveryError(DeliveryError):
    """5xx reply: the delivery failed for good and counts against the address."""

    exit_code = 76  # EX_PROTOCOL


class MailboxError(NewsletterError):
    """The bounce mailbox cannot be read: Maildir unreadable, IMAP down or login refused."""

    exit_code = 69  # EX_UNAVAILABLE
    http_status = 503
