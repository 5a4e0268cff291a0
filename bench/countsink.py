"""An SMTP sink that records what it accepted: one line ``address size time`` per recipient,
appended to a file (flushed per mail), so a benchmark can count mails per address.

Runs in its own process (``sendkit.start_sink(port, record=FILE)``) until SIGTERM.
Usage: ``python bench/countsink.py PORT FILE``
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from typing import IO, Any

from aiosmtpd.controller import Controller


class Recorder:
    """aiosmtpd handler: accept every mail, record its recipients and size."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        size, now = len(envelope.original_content or b""), time.time()
        self.out.write("".join(f"{rcpt} {size} {now:.4f}\n" for rcpt in envelope.rcpt_tos))
        self.out.flush()
        return "250 OK"


def main(port: int, path: str) -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with open(path, "a", encoding="ascii") as out:
        controller = Controller(Recorder(out), hostname="127.0.0.1", port=port)
        controller.start()
        try:
            stop.wait()
        finally:
            controller.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
