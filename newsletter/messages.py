"""One recipient's RFC 5322 message: multipart/alternative (text, then HTML), list headers.

Both parts are UTF-8 quoted-printable (7-bit clean, DKIM-safe, lines ≤ 76 octets);
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
from newsletter.errors import InvalidInputError


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
    message = EmailMessage(policy=email.policy.SMTP)
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
