"""How a finished message leaves: SMTP, a Maildir (the default), or memory (tests).

``Transport.send`` returns the server's reply text on success and raises
:class:`TemporaryDeliveryError` (4xx, timeout, lost connection: retry later) or
:class:`PermanentDeliveryError` (5xx: do not retry). The SMTP transport keeps one
connection per worker, resets it after a failed transaction and reconnects on errors.
"""

from __future__ import annotations

import ipaddress
import mailbox
import smtplib
import socket
import ssl
from pathlib import Path
from typing import Protocol

from newsletter.config import Config
from newsletter.errors import ConfigError, PermanentDeliveryError, TemporaryDeliveryError


class Transport(Protocol):
    def send(self, envelope_from: str, recipient: str, data: bytes) -> str: ...

    def close(self) -> None: ...


class MemoryTransport:
    """In-memory twin: keeps (envelope_from, recipient, bytes); can be told to fail."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, bytes]] = []
        self.fail_with: dict[str, Exception] = {}

    def send(self, envelope_from: str, recipient: str, data: bytes) -> str:
        if recipient in self.fail_with:
            raise self.fail_with[recipient]
        self.sent.append((envelope_from, recipient, data))
        return "250 ok (memory)"

    def close(self) -> None:
        return None


class MaildirTransport:
    """Writes each message as one file into a Maildir any mail program can open."""

    def __init__(self, directory: Path) -> None:
        self.box = mailbox.Maildir(directory, create=True)

    def send(self, envelope_from: str, recipient: str, data: bytes) -> str:
        key = self.box.add(mailbox.MaildirMessage(data))
        return f"250 stored in Maildir as {key}"

    def close(self) -> None:
        self.box.close()


class SmtpTransport:
    """SMTP with implicit TLS, STARTTLS (required when chosen) or plain (loopback only)."""

    def __init__(self, config: Config) -> None:
        self.mail = config.mail
        self.helo = config.site.domain
        if self.mail.smtp_tls == "none" and not _is_loopback(self.mail.smtp_host):
            raise ConfigError(
                'mail.smtp_tls = "none" ist nur für einen SMTP-Server auf diesem Rechner erlaubt',
                key="mail.smtp_tls",
            )
        self._conn: smtplib.SMTP | None = None

    def send(self, envelope_from: str, recipient: str, data: bytes) -> str:
        try:
            conn = self._connection()
            code, reply = _send_one(conn, envelope_from, recipient, data)
        except smtplib.SMTPResponseException as exc:
            self._after_failure(exc.smtp_code)
            raise _classified(recipient, exc.smtp_code, _text(exc.smtp_error)) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            self._after_failure(400)
            code, text = next(iter(exc.recipients.values()))
            raise _classified(recipient, code, _text(text)) from exc
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise TemporaryDeliveryError(
                f"SMTP-Verbindung gescheitert: {exc}", address=recipient, reply=str(exc)
            ) from exc
        return f"{code} {reply}"

    def _connection(self) -> smtplib.SMTP:
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    def _connect(self) -> smtplib.SMTP:
        mail, timeout = self.mail, self.mail.smtp_timeout
        context = ssl.create_default_context()
        if mail.smtp_tls == "ssl":
            conn: smtplib.SMTP = smtplib.SMTP_SSL(
                mail.smtp_host,
                mail.smtp_port,
                local_hostname=self.helo,
                timeout=timeout,
                context=context,
            )
        else:
            conn = smtplib.SMTP(
                mail.smtp_host, mail.smtp_port, local_hostname=self.helo, timeout=timeout
            )
            if mail.smtp_tls == "starttls":
                conn.starttls(context=context)  # raises if the server does not offer it
                conn.ehlo()
        if mail.smtp_username:
            conn.login(mail.smtp_username, mail.smtp_password)
        return conn

    def _after_failure(self, code: int) -> None:
        """RSET after a refused transaction; drop the connection on 421."""
        if self._conn is None:
            return
        if code == 421:
            self.close()
            return
        try:
            self._conn.rset()
        except (OSError, smtplib.SMTPException):
            self.close()

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.quit()
            except (OSError, smtplib.SMTPException):
                self._conn.close()
            self._conn = None


def _send_one(
    conn: smtplib.SMTP, envelope_from: str, recipient: str, data: bytes
) -> tuple[int, str]:
    conn.ehlo_or_helo_if_needed()
    code, reply = conn.mail(envelope_from)
    if code != 250:
        raise smtplib.SMTPSenderRefused(code, reply, envelope_from)
    code, reply = conn.rcpt(recipient)
    if code not in (250, 251):
        raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
    code, reply = conn.data(data)
    if code != 250:
        raise smtplib.SMTPDataError(code, reply)
    return code, _text(reply)


def _classified(recipient: str, code: int, reply: str) -> Exception:
    if 400 <= code < 500:
        return TemporaryDeliveryError(
            f"Vorübergehend abgelehnt ({code}): {reply}", address=recipient, code=code, reply=reply
        )
    return PermanentDeliveryError(
        f"Abgelehnt ({code}): {reply}", address=recipient, code=code, reply=reply
    )


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
    except (OSError, ValueError):
        return False


def open_transport(config: Config) -> Transport:
    """The configured transport (``mail.transport``)."""
    if config.mail.transport == "smtp":
        return SmtpTransport(config)
    return MaildirTransport(config.path(config.mail.maildir))
