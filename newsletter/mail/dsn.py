"""Read a message from the bounce mailbox: what it reports, about whom. Pure.

Recognised, in this order:

1. **DSN** (RFC 3464): ``multipart/report; report-type=delivery-status`` with a
   ``message/delivery-status`` part (Postfix, Exim with DSNs, Microsoft 365, Gmail);
   one :class:`Recipient` per per-recipient block (``Final-Recipient``, ``Action``,
   ``Status``, ``Diagnostic-Code``).
2. **Complaint** (RFC 5965 ARF): ``report-type=feedback-report`` with a
   ``message/feedback-report`` part (``Feedback-Type``, ``Original-Mail-From``,
   ``Original-Rcpt-To``).
3. **Auto-reply** (RFC 3834 and common practice: »Automatische Antwort«, »Out of Office«,
   ``X-Autoreply``, ``Precedence: auto_reply``): ignored by the job.
4. **Non-standard bounce**: from ``MAILER-DAEMON``/``postmaster``, with
   ``X-Failed-Recipients`` or a bounce subject (Exim's default text, qmail, older
   Exchange): addresses, codes and well-known phrases are read from the text.
5. Anything else: :attr:`ReportKind.UNKNOWN` (left flagged in the mailbox for a person).

Safety: the caller cuts the message at ``bounces.max_message_bytes`` before parsing (a
report's own parts come first, the returned original last, so the cut loses nothing
needed); parsing uses ``email.policy.default``; part, recipient and text counts are
capped; a message the parser cannot read is ``UNKNOWN``, never an exception.

Where the message may name our VERP address (:mod:`newsletter.mail.verp`) is collected in
:attr:`Report.return_paths`, most trustworthy first: the bounce's own envelope headers
(``Delivered-To``, ``X-Original-To``, ``Envelope-To``), the report's ``X-Postfix-Sender``
or ``Original-Mail-From``, the returned original's ``Return-Path``, the text. The
returned original's ``Message-ID`` is in :attr:`Report.message_ids`.
"""

from __future__ import annotations

import email.errors
import email.policy
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage, Message
from email.parser import BytesParser, HeaderParser
from enum import StrEnum

MAX_PARTS = 64
MAX_RECIPIENTS = 50
MAX_TEXT = 1000  # characters kept of a diagnostic
MAX_BODY = 100_000  # characters of a text part searched by the heuristics

ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d])")
SMTP_CODE = re.compile(r"(?<!\d)([45]\d\d)(?=[\s-])")
ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
MESSAGE_ID = re.compile(r"^message-id:\s*(<[^<>\s]{1,300}>)", re.IGNORECASE | re.MULTILINE)


class ReportKind(StrEnum):
    DSN = "dsn"
    COMPLAINT = "complaint"
    NONSTANDARD = "nonstandard"
    AUTOREPLY = "autoreply"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Recipient:
    """One recipient a report is about."""

    address: str
    action: str = ""  # failed, delayed, delivered, relayed, expanded; "" if not said
    status: str = ""  # enhanced status code, e.g. "5.1.1"; "" if none was found
    diagnostic: str = ""


@dataclass(frozen=True)
class Report:
    kind: ReportKind
    recipients: tuple[Recipient, ...] = ()
    return_paths: tuple[str, ...] = ()
    message_ids: tuple[str, ...] = ()
    reporter: str = ""
    feedback_type: str = ""
    subject: str = ""


_PARSE_ERRORS = (
    email.errors.MessageError,
    ValueError,
    TypeError,
    LookupError,
    AttributeError,
    UnicodeError,
    AssertionError,
)


def parse(data: bytes, max_bytes: int) -> Report:
    """What the message ``data`` (cut at ``max_bytes``) reports."""
    try:
        message = BytesParser(policy=email.policy.default).parsebytes(data[:max_bytes])
        return _read(message)
    except _PARSE_ERRORS:  # broken beyond what the parser forgives
        return Report(ReportKind.UNKNOWN)


def _read(message: EmailMessage) -> Report:
    envelope = tuple(_header_values(message, _ENVELOPE_HEADERS))
    subject = _one_line(str(message.get("Subject", "")), 300)  # decoded (RFC 2047)
    parts = _top_parts(message)
    by_type = {part.get_content_type(): part for part in reversed(parts)}  # first one wins
    if "message/feedback-report" in by_type:
        return _complaint(message, by_type, envelope, subject)
    status = by_type.get("message/delivery-status") or by_type.get("message/global-delivery-status")
    if status is not None:
        return _dsn(message, status, by_type, envelope, subject)
    if _is_autoreply(message, subject, strict=True):
        return Report(ReportKind.AUTOREPLY, subject=subject)
    if _looks_like_bounce(message, subject):
        return _nonstandard(message, envelope, subject)
    if _is_autoreply(message, subject, strict=False):
        return Report(ReportKind.AUTOREPLY, subject=subject)
    return Report(ReportKind.UNKNOWN, subject=subject)


_ENVELOPE_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")


def _header(message: Message, name: str) -> str:
    """The first ``name`` header as written (unfolded, encoded words left as they are):
    the raw value is all the rules need, and parsing every header through
    ``email.policy.default``'s registry cost more than the rest of the reading."""
    values = _raw(message, name)
    return " ".join(values[0].split()) if values else ""


def _header_values(message: Message, names: Iterable[str]) -> Iterator[str]:
    for name in names:
        for value in _raw(message, name):
            yield value[:MAX_TEXT]


def _raw(message: Message, name: str) -> list[str]:
    wanted = name.lower()
    return [str(v) for k, v in message.raw_items() if k.lower() == wanted]


def _one_line(text: str, limit: int = MAX_TEXT) -> str:
    return " ".join(text.split())[:limit]


def _top_parts(message: Message) -> list[Message]:
    """The parts of a report (the message itself if it is not multipart), capped."""
    if not message.is_multipart():
        return [message]
    return _messages(message)[:MAX_PARTS]


def _messages(part: Message) -> list[Message]:
    """The parsed sub-messages of a multipart or ``message/*`` part (none for a leaf)."""
    payload = part.get_payload()
    if not isinstance(payload, list):
        return []
    return [p for p in payload if isinstance(p, Message)]


# --- RFC 3464 ---------------------------------------------------------------------------


def _dsn(
    message: Message,
    status: Message,
    parts: dict[str, Message],
    envelope: tuple[str, ...],
    subject: str,
) -> Report:
    blocks = _field_blocks(status)
    head = blocks[0] if blocks else {}
    recipients = tuple(
        r for r in (_recipient(block) for block in blocks[1 : MAX_RECIPIENTS + 1]) if r is not None
    )
    original = _original_headers(parts)
    ids = [head.get("x-original-message-id", ""), *_message_ids(original)]
    paths = [*envelope, head.get("x-postfix-sender", ""), *_return_paths(original)]
    return Report(
        ReportKind.DSN,
        recipients=recipients,
        return_paths=tuple(p for p in paths if p),
        message_ids=tuple(dict.fromkeys(i.strip() for i in ids if i.strip())),
        reporter=_typed(head.get("reporting-mta", "")) or _sender(message),
        subject=subject,
    )


def _field_blocks(part: Message) -> list[dict[str, str]]:
    """The field blocks of a ``message/delivery-status`` part: the per-message block,
    then one per recipient (lower-case names; a repeated field keeps its first value)."""
    if isinstance(part.get_payload(), list):
        return [_fields(block.items()) for block in _messages(part)[: MAX_RECIPIENTS + 1]]
    raw = part.get_payload(decode=True)
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(part.get_payload())
    blocks = re.split(r"\r?\n\s*\r?\n", text.strip())[: MAX_RECIPIENTS + 1]
    return [_fields(HeaderParser(policy=email.policy.default).parsestr(b).items()) for b in blocks]


def _fields(items: Iterable[tuple[str, object]]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for name, value in items:
        fields.setdefault(name.lower(), _one_line(str(value)))
    return fields


def _typed(value: str) -> str:
    """``rfc822; a@b`` → ``a@b``; ``dns; mx.example`` → ``mx.example``; ``smtp; 550 …`` → ``550 …``."""
    kind, sep, rest = value.partition(";")
    return (rest if sep and " " not in kind.strip() else value).strip()


def _recipient(block: dict[str, str]) -> Recipient | None:
    address = _typed(block.get("final-recipient") or block.get("original-recipient", ""))
    address = address.strip("<> ")
    if not ADDRESS.fullmatch(address):
        return None
    diagnostic = _typed(block.get("diagnostic-code", ""))
    status = _enhanced(block.get("status", "")) or _enhanced(diagnostic)
    return Recipient(address, block.get("action", "").lower(), status, diagnostic[:MAX_TEXT])


def _enhanced(text: str) -> str:
    found = ENHANCED.search(text)
    return ".".join(found.groups()) if found else ""


def _original_headers(parts: dict[str, Message]) -> Message | None:
    """The returned original's headers (``message/rfc822`` or ``text/rfc822-headers``)."""
    for kind in ("message/rfc822", "message/global"):
        part = parts.get(kind)
        inner = _messages(part) if part is not None else []
        if inner:
            return inner[0]
    for kind in ("text/rfc822-headers", "message/global-headers"):
        part = parts.get(kind)
        if part is not None:
            return HeaderParser(policy=email.policy.default).parsestr(_text(part))
    return None


def _message_ids(original: Message | None) -> list[str]:
    return [_header(original, "Message-ID")] if original is not None else []


def _return_paths(original: Message | None) -> list[str]:
    return list(_header_values(original, ("Return-Path",))) if original is not None else []


def _sender(message: Message) -> str:
    return _one_line(_header(message, "From"), 300)


def _text(part: Message) -> str:
    """A text part's content, decoded, cut at :data:`MAX_BODY` characters."""
    raw = part.get_payload(decode=True)
    if not isinstance(raw, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return raw.decode(charset, "replace")[:MAX_BODY]
    except LookupError:
        return raw.decode("utf-8", "replace")[:MAX_BODY]


# --- RFC 5965 ---------------------------------------------------------------------------


def _complaint(
    message: Message, parts: dict[str, Message], envelope: tuple[str, ...], subject: str
) -> Report:
    report = parts["message/feedback-report"]
    inner = _messages(report)
    if inner:
        fields = _fields(inner[0].items())
        rcpts = list(_header_values(inner[0], ("Original-Rcpt-To",)))
    else:
        block = _field_blocks(report)
        fields = block[0] if block else {}
        rcpts = [fields.get("original-rcpt-to", "")]
    original = _original_headers(parts)
    if not any(rcpts) and original is not None:
        rcpts = [_header(original, "To")]
    addresses = [a for r in rcpts for a in ADDRESS.findall(r)][:MAX_RECIPIENTS]
    kind = fields.get("feedback-type", "abuse").lower() or "abuse"
    paths = [*envelope, fields.get("original-mail-from", ""), *_return_paths(original)]
    return Report(
        ReportKind.COMPLAINT,
        recipients=tuple(Recipient(a, "complaint", "", kind) for a in dict.fromkeys(addresses)),
        return_paths=tuple(p for p in paths if p),
        message_ids=tuple(i for i in _message_ids(original) if i),
        reporter=_typed(fields.get("reporting-mta", "")) or _sender(message),
        feedback_type=kind,
        subject=subject,
    )


# --- auto-replies and non-standard bounces ----------------------------------------------

_AUTOREPLY_SUBJECT = re.compile(
    r"^\s*(automatische antwort|automatic reply|auto:|autoreply|auto-reply|abwesenheitsnotiz|"
    r"abwesenheit|out of (the )?office|abwesend|réponse automatique|risposta automatica|"
    r"vacation|urlaub)",
    re.IGNORECASE,
)
_BOUNCE_SUBJECT = re.compile(
    r"(undeliver|undelivered|delivery status notification|returned mail|failure notice|"
    r"mail delivery failed|delivery failure|delivery has failed|nondeliverable|"
    r"unzustellbar|nicht zustellbar|unzustellbare|warning: message .* delayed)",
    re.IGNORECASE,
)
_DAEMONS = ("mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon")


def _is_autoreply(message: Message, subject: str, *, strict: bool) -> bool:
    """RFC 3834 and common markers; ``strict``: only markers no bounce carries."""
    if _AUTOREPLY_SUBJECT.match(subject):
        return True
    if message.get("X-Autoreply") or message.get("X-Autorespond"):
        return True
    if _header(message, "Precedence").strip().lower() == "auto_reply":
        return True
    if strict:
        return False
    auto = _header(message, "Auto-Submitted").strip().lower()
    return bool(auto) and auto != "no"


def _looks_like_bounce(message: Message, subject: str) -> bool:
    sender = _header(message, "From").lower()
    if any(f"{daemon}@" in sender for daemon in _DAEMONS):
        return True
    return bool(message.get("X-Failed-Recipients")) or bool(_BOUNCE_SUBJECT.search(subject))


_COPY_MARKERS = re.compile(
    r"^(-+ ?this is a copy of the message|-+ ?below this line is a copy|"
    r"-+ ?original message|original message follows|--- ?the header of the original|"
    r"-+ ?ursprüngliche nachricht|return-path:|received:)",
    re.IGNORECASE | re.MULTILINE,
)
_HARD_PHRASES = re.compile(
    r"(user unknown|unknown user|no such user|no such mailbox|no mailbox here|"
    r"does not exist|doesn't exist|mailbox unavailable|recipient address rejected|"
    r"address rejected|unknown recipient|recipient not found|invalid recipient|"
    r"account (is )?disabled|benutzer unbekannt|empfänger unbekannt|existiert nicht)",
    re.IGNORECASE,
)
_SOFT_PHRASES = re.compile(
    r"(quota|mailbox (is )?full|over ?quota|insufficient storage|out of storage|"
    r"retry time ?out exceeded|postfach (ist )?voll|speicherplatz)",
    re.IGNORECASE,
)
_DELAY = re.compile(
    r"(delayed|will (keep|continue) trying|still trying|not yet been delivered|"
    r"verzögert|noch nicht zugestellt)",
    re.IGNORECASE,
)


def _nonstandard(message: Message, envelope: tuple[str, ...], subject: str) -> Report:
    body = _body_text(message)
    cut = _COPY_MARKERS.search(body)
    notice, copy = (body[: cut.start()], body[cut.start() :]) if cut else (body, "")
    failed = [
        a for v in _header_values(message, ("X-Failed-Recipients",)) for a in ADDRESS.findall(v)
    ]
    named = failed or [a for a in ADDRESS.findall(notice) if not _ours_or_daemon(a)]
    delayed = bool(_DELAY.search(subject)) or (not failed and bool(_DELAY.search(notice[:2000])))
    recipients = tuple(
        _from_text(address, notice, "delayed" if delayed else "failed")
        for address in list(dict.fromkeys(a.lower() for a in named))[:MAX_RECIPIENTS]
    )
    return Report(
        ReportKind.NONSTANDARD,
        recipients=recipients,
        return_paths=(*envelope, copy[:MAX_BODY], notice[:MAX_BODY]),
        message_ids=tuple(dict.fromkeys(MESSAGE_ID.findall(copy))),
        reporter=_sender(message),
        subject=subject,
    )


def _ours_or_daemon(address: str) -> bool:
    local = address.partition("@")[0].lower()
    return local in _DAEMONS or "+" in local


def _body_text(message: Message) -> str:
    """The first text/plain part (else text/html without tags), cut at MAX_BODY."""
    html = ""
    for count, part in enumerate(message.walk()):
        if count > MAX_PARTS:
            break
        kind = part.get_content_type()
        if kind == "text/plain":
            return _text(part)
        if kind == "text/html" and not html:
            html = re.sub(r"<[^>]{0,2000}>", " ", _text(part))
    return html


def _from_text(address: str, notice: str, action: str) -> Recipient:
    """Status and diagnostic for ``address`` from the text after it (up to 600 characters)."""
    at = notice.lower().find(address)
    window = notice[at : at + 600] if at >= 0 else notice[:600]
    status = _enhanced(window)
    code = SMTP_CODE.search(window)
    if not status and code:
        status = f"{code.group(1)[0]}.0.0"
    if status in ("", "4.0.0", "5.0.0") and _SOFT_PHRASES.search(window):
        status = "4.2.2"
    elif status in ("", "5.0.0") and _HARD_PHRASES.search(window):
        status = "5.1.1"
    start = code.start() if code else 0
    return Recipient(address, action, status, _one_line(window[start:], 300))
