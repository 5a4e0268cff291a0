"""Where bounces arrive: a Maildir directory, an IMAP folder over TLS, or memory (tests).

Each mailbox hands out unprocessed messages, cut at ``bounces.max_message_bytes`` (the
rest is never read: an IMAP partial fetch, a bounded file read), and is told afterwards
whether a message was understood (:meth:`Mailbox.done`):

- **Maildir**: new messages are taken from ``new/`` by moving them to ``cur/`` (a rename:
  a second process cannot take the same file), then flagged seen (``:2,S``); a message
  nobody understood is also flagged (``:2,FS``) for a person to read. Files in ``cur/``
  without the ``S`` flag (a run that stopped halfway) are taken again; the store records
  each bounce once, so taking one twice does no harm.
- **IMAP** (``imaplib.IMAP4_SSL``, certificate checked): unseen messages of
  ``bounces.imap_folder`` by UID, read with ``BODY.PEEK[]<0.max>``; afterwards flagged
  ``\\Seen`` (and ``\\Flagged`` when not understood).
"""

from __future__ import annotations

import contextlib
import imaplib
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from newsletter.config import Config
from newsletter.errors import ConfigError, MailboxError


class Mailbox(Protocol):
    def messages(self, limit: int) -> Iterator[tuple[str, bytes]]: ...

    def done(self, key: str, understood: bool) -> None: ...

    def close(self) -> None: ...


@dataclass
class MemoryMailbox:
    """In-memory twin: ``inbox`` holds (key, bytes); ``flags`` what :meth:`done` said."""

    inbox: list[tuple[str, bytes]] = field(default_factory=list)
    flags: dict[str, bool] = field(default_factory=dict)

    def messages(self, limit: int) -> Iterator[tuple[str, bytes]]:
        yield from [m for m in self.inbox if m[0] not in self.flags][:limit]

    def done(self, key: str, understood: bool) -> None:
        self.flags[key] = understood

    def close(self) -> None:
        pass


class MaildirMailbox:
    """A Maildir (``new/``, ``cur/``, ``tmp/``) as the MDA of the bounce address writes it."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.root, self.max_bytes = directory, max_bytes
        try:
            for sub in ("new", "cur", "tmp"):
                (directory / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MailboxError(f"Rückläufer-Maildir {directory} nicht nutzbar: {exc}") from exc

    def messages(self, limit: int) -> Iterator[tuple[str, bytes]]:
        given = 0
        for path in self._pending():
            if given >= limit:
                return
            taken = self._take(path)
            if taken is None:
                continue
            try:
                with taken.open("rb") as file:
                    data = file.read(self.max_bytes)
            except OSError as exc:
                raise MailboxError(f"Rückläufer {taken} nicht lesbar: {exc}") from exc
            given += 1
            yield taken.name, data

    def _pending(self) -> list[Path]:
        try:
            fresh = sorted(p for p in (self.root / "new").iterdir() if not p.name.startswith("."))
            halfway = sorted(
                p
                for p in (self.root / "cur").iterdir()
                if not p.name.startswith(".") and "S" not in _flags(p.name)
            )
        except OSError as exc:
            raise MailboxError(f"Rückläufer-Maildir {self.root} nicht lesbar: {exc}") from exc
        return halfway + fresh

    def _take(self, path: Path) -> Path | None:
        """Move a message from ``new/`` into ``cur/`` (no flags yet); None if gone."""
        if path.parent.name == "cur":
            return path
        target = self.root / "cur" / f"{path.name}:2,"
        try:
            path.rename(target)
        except FileNotFoundError:  # another process took it
            return None
        return target

    def done(self, key: str, understood: bool) -> None:
        base = key.split(":2,", 1)[0]
        flags = "S" if understood else "FS"
        with contextlib.suppress(FileNotFoundError):  # a person moved it meanwhile
            (self.root / "cur" / key).rename(self.root / "cur" / f"{base}:2,{flags}")

    def close(self) -> None:
        pass


def _flags(name: str) -> str:
    return name.split(":2,", 1)[1] if ":2," in name else ""


class ImapMailbox:
    """An IMAP folder over implicit TLS (port 993), read by UID."""

    def __init__(self, config: Config, context: ssl.SSLContext | None = None) -> None:
        bounces = config.bounces
        self.max_bytes, self.folder = bounces.max_message_bytes, bounces.imap_folder
        try:
            self.conn = imaplib.IMAP4_SSL(
                bounces.imap_host,
                bounces.imap_port,
                ssl_context=context or ssl.create_default_context(),
                timeout=60,
            )
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailboxError(
                f"IMAP-Server {bounces.imap_host}:{bounces.imap_port} nicht erreichbar "
                f"(Verbindung oder TLS-Zertifikat): {exc}"
            ) from exc
        try:
            self.conn.login(bounces.imap_username, bounces.imap_password)
            status, _ = self.conn.select(_quoted(self.folder))
        except (OSError, imaplib.IMAP4.error) as exc:
            self.close()
            raise MailboxError(f"IMAP-Anmeldung fehlgeschlagen: {exc}") from exc
        if status != "OK":
            self.close()
            raise ConfigError(
                f"IMAP-Ordner »{self.folder}« nicht gefunden", key="bounces.imap_folder"
            )

    def messages(self, limit: int) -> Iterator[tuple[str, bytes]]:
        status, found = self.conn.uid("SEARCH", "UNSEEN")
        if status != "OK" or not found or not found[0]:
            return
        for uid in found[0].split()[:limit]:
            data = self._fetch(uid.decode())
            if data is not None:
                yield uid.decode(), data

    def _fetch(self, uid: str) -> bytes | None:
        status, parts = self.conn.uid("FETCH", uid, f"(BODY.PEEK[]<0.{self.max_bytes}>)")
        if status != "OK":
            return None
        for part in parts:
            if isinstance(part, tuple) and len(part) == 2:
                return bytes(part[1])[: self.max_bytes]
        return None

    def done(self, key: str, understood: bool) -> None:
        flags = r"(\Seen)" if understood else r"(\Seen \Flagged)"
        self.conn.uid("STORE", key, "+FLAGS", flags)

    def close(self) -> None:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            self.conn.logout()


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def open_mailbox(config: Config) -> Mailbox | None:
    """The configured bounce mailbox, or None for ``bounces.mailbox = "none"``."""
    bounces = config.bounces
    if bounces.mailbox == "maildir":
        return MaildirMailbox(config.path(bounces.maildir), bounces.max_message_bytes)
    if bounces.mailbox == "imap":
        return ImapMailbox(config)
    return None
