"""One recipient's RFC 5322 message: multipart/alternative (text, then HTML), list headers.

Both parts are UTF-8 quoted-printable (7-bit clean, DKIM-safe, lines ≤ 76 octets as
RFC 2045 §6.7 demands; the library's SMTP policy would write 78);
per-recipient values are filled in before encoding. CR/LF in user data never reaches a
header: :func:`header_safe` refuses it.
"""

from __future__ import annotations

import email.policy
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from newsletter.config import Config
from newsletter.errors import ConfigError, InvalidInputError

BODY_POLICY = email.policy.SMTP.clone(max_line_length=76)


@dataclass(frozen=True)
class Content:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class ListInfo:
    """List headers of a digest: region key and name, one-click unsubscribe URL."""

    region_key: str
    region_name: str
    unsubscribe_url: str


def header_safe(value: str, field: str) -> str:
    """Refuse CR, LF and NUL in anything that becomes a header (header injection)."""
    if any(ch in value for ch in "\r\n\x00"):
        raise InvalidInputError(f"Zeilenumbrüche sind in »{field}« nicht erlaubt.", field=field)
    return value


def build_message(
    config: Config,
    content: Content,
    recipient: str,
    when: datetime,
    list_info: ListInfo | None = None,
    message_id: str | None = None,
) -> EmailMessage:
    """The message for one recipient; ``list_info`` adds List-* headers (digests only)."""
    mail = config.mail
    message = EmailMessage(policy=BODY_POLICY)
    message["From"] = Address(header_safe(mail.from_name, "from_name"), addr_spec=mail.from_address)
    message["To"] = header_safe(recipient, "email")
    message["Subject"] = header_safe(content.subject, "subject")
    message["Date"] = format_datetime(when)
    message["Message-ID"] = message_id or make_msgid(domain=config.site.domain)
    if mail.reply_to:
        message["Reply-To"] = mail.reply_to
    message["Auto-Submitted"] = "auto-generated"
    if list_info is not None:
        _list_headers(message, config, list_info)
    message.set_content(content.text, charset="utf-8", cte="quoted-printable")
    message.add_alternative(content.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return message


def _list_headers(message: EmailMessage, config: Config, info: ListInfo) -> None:
    """RFC 2919 List-Id, RFC 2369 List-Unsubscribe, RFC 8058 one-click."""
    list_id = f"{info.region_key}.newsletter.{config.site.domain}"
    message["List-Id"] = f'"{info.region_name} – Präventionsnachrichten" <{list_id}>'
    targets = [f"<{info.unsubscribe_url}>"]
    if config.mail.list_unsubscribe_mailto:
        targets.append(f"<mailto:{config.mail.list_unsubscribe_mailto}?subject=unsubscribe>")
    message["List-Unsubscribe"] = ", ".join(targets)
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Precedence"] = "bulk"


def to_bytes(message: EmailMessage) -> bytes:
    """Wire form with CRLF line endings."""
    return message.as_bytes(policy=email.policy.SMTP)


# STANDARDS §3: From twice (oversigned: no second From can be added unnoticed).
DKIM_HEADERS = [
    b"from",
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"reply-to",
    b"mime-version",
    b"content-type",
    b"content-transfer-encoding",
    b"list-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
]


@dataclass(frozen=True)
class DkimKey:
    selector: str
    domain: str
    private_key: bytes


def dkim_key(config: Config) -> DkimKey | None:
    """The configured signing key, or None when DKIM is not configured."""
    mail = config.mail
    if not (mail.dkim_selector and mail.dkim_domain and mail.dkim_key_file):
        return None
    path = config.path(mail.dkim_key_file)
    try:
        key = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"DKIM-Schlüssel {path} nicht lesbar: {exc}", key="mail.dkim_key_file"
        ) from exc
    return DkimKey(mail.dkim_selector, mail.dkim_domain, key)


def dkim_sign(data: bytes, key: DkimKey) -> bytes:
    """Prepend a DKIM-Signature (rsa-sha256, relaxed/relaxed, no l=) to the same bytes."""
    import dkim

    signature = dkim.sign(
        data,
        key.selector.encode(),
        key.domain.encode(),
        key.private_key,
        canonicalize=(b"relaxed", b"relaxed"),
        include_headers=DKIM_HEADERS,
    )
    return bytes(signature) + data
