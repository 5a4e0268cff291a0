"""Local transport faults (a full disk, a read-only Maildir) pause sending and cost no
recipient an attempt; the admin sees the cause in German on each delivery."""

from __future__ import annotations

import errno
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsletter.config import Config
from newsletter.context import Context
from newsletter.errors import TransportUnavailableError
from newsletter.mail.outbox import drain
from newsletter.mail.transports import MaildirTransport, open_transport
from tests.delivery_helpers import add_subscriber, deliveries, drain_until_done, enqueue_only
from tests.feedfixtures import sample_items, store_items

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounts need root")


def _mount(*args: str) -> None:
    result = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.skip(f"cannot mount here: {result.stderr.strip()}")


@contextmanager
def mounted(target: Path) -> Iterator[Path]:
    try:
        yield target
    finally:
        subprocess.run(["umount", str(target)], check=False)


def maildir_context(make_config: Callable[..., Config], maildir: Path) -> Context:
    config = make_config(
        mail={"transport": "maildir", "maildir": str(maildir), "retry_base_seconds": 0.001,
              "max_attempts": 2, "rate_per_second": 1000.0}
    )  # fmt: skip
    ctx = Context(config)
    ctx.init_db()
    store_items(ctx, sample_items())
    for n in range(3):
        add_subscriber(ctx, f"p{n}@example.org", {"zwickau": "confirmed"})
    enqueue_only(ctx, "zwickau", NOW)
    return ctx


def drain_rounds(ctx: Context, rounds: int) -> list[str | None]:
    """The worker's loop, several rounds (the pause is a millisecond here)."""
    causes = []
    for _ in range(rounds):
        time.sleep(0.01)
        transport = open_transport(ctx.config)
        try:
            causes.append(drain(ctx, transport, "test-worker").unavailable)
        finally:
            transport.close()
    return causes


def assert_paused_not_counted(ctx: Context, cause: str) -> None:
    rows = deliveries(ctx)
    assert [r.status for r in rows] == ["queued"] * 3
    assert [r.attempts for r in rows] == [0, 0, 0]  # max_attempts is 2: none used
    assert all(cause in (r.last_reply or "") for r in rows), rows


def test_full_disk_pauses_without_using_attempts(
    tmp_path: Path, make_config: Callable[..., Config]
) -> None:
    disk = tmp_path / "klein"
    disk.mkdir()
    _mount("-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk))
    with mounted(disk):
        ctx = maildir_context(make_config, disk / "mail")
        MaildirTransport(disk / "mail").close()  # tmp/, new/, cur/ exist
        filler = disk / "filler"
        with filler.open("wb", buffering=0) as out, pytest.raises(OSError) as full:
            while True:
                out.write(b"x" * 4096)
        assert full.value.errno == errno.ENOSPC
        causes = drain_rounds(ctx, 4)
        assert (
            causes
            == ["Maildir nicht beschreibbar: kein Platz mehr auf dem Datenträger (ENOSPC)"] * 4
        )
        assert_paused_not_counted(ctx, "Datenträger")
        filler.unlink()
        drain_until_done(ctx)
        rows = deliveries(ctx)
        assert [(r.status, r.attempts) for r in rows] == [("sent", 1)] * 3
        ctx.close()


def test_read_only_maildir_pauses_without_using_attempts(
    tmp_path: Path, make_config: Callable[..., Config]
) -> None:
    """chmod does not stop root: a read-only bind mount does (EROFS)."""
    box = tmp_path / "mail"
    MaildirTransport(box).close()
    _mount("--bind", str(box), str(box))
    with mounted(box):
        _mount("-o", "remount,bind,ro", str(box))
        ctx = maildir_context(make_config, box)
        assert drain_rounds(ctx, 3)[-1] == (
            "Maildir nicht beschreibbar: Dateisystem ist schreibgeschützt (EROFS)"
        )
        assert_paused_not_counted(ctx, "schreibgeschützt")
        ctx.close()


def test_injected_permission_error_names_the_cause(tmp_path: Path) -> None:
    class Refusing(MaildirTransport):
        def __init__(self, directory: Path) -> None:
            super().__init__(directory)
            self.box.add = self._refuse  # type: ignore[method-assign]

        def _refuse(self, _message: object) -> str:
            raise PermissionError(errno.EACCES, "Permission denied")

    with pytest.raises(TransportUnavailableError) as caught:
        Refusing(tmp_path / "mail").send("a@example.org", "b@example.org", b"Subject: x\r\n\r\n")
    assert caught.value.reply == "Maildir: keine Schreibrechte im Verzeichnis (EACCES)"
