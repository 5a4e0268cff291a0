"""The size of the largest digest at 50 items, against Gmail's clipping limit.

Not timed: bytes. Builds a region's digest of 50 items whose teasers are all at the
bounds of the teaser rule (``tests/digestfixtures.longest_items``), sends it to one
subscriber through the in-memory transport, and prints the bytes of the HTML part
(what Gmail clips at about 102 KB; our budget is 90 KB, STANDARDS §5) decoded and as
quoted-printable on the wire, of the text part and of the whole message, each also as a
ratio of 102 KB. A typical digest (50 items with a 250-character summary) for comparison.

Usage: ``.venv/bin/python bench/bench_digest_size.py [--items 50]``
"""

from __future__ import annotations

import argparse
import email
import sys
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsletter.context import Context  # noqa: E402
from newsletter.mail import sending  # noqa: E402
from newsletter.mail.transports import MemoryTransport  # noqa: E402
from newsletter.models import Item  # noqa: E402
from tests.configs import service_config  # noqa: E402
from tests.delivery_helpers import add_subscriber  # noqa: E402
from tests.digestfixtures import longest_items  # noqa: E402
from tests.feedfixtures import sample_items, store_items  # noqa: E402

GMAIL_CLIP = 102 * 1024
NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def typical_items(count: int) -> list[Item]:
    base = sample_items()[1]
    summary = "<p>" + "Ein Absatz mit Hinweisen zur Prävention. " * 6 + "</p>"
    return [
        replace(
            base, id=f"t{n:02d}", title=f"Meldung {n}: Prävention in Zwickau", summary_html=summary
        )
        for n in range(count)
    ]


def sent_message(items: list[Item]) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        ctx = Context(service_config(Path(folder)))
        ctx.init_db()
        try:
            store_items(ctx, items)
            add_subscriber(ctx, "koordination@stadt-zwickau.example", {"zwickau": "confirmed"})
            transport = MemoryTransport()
            sending.send_region(ctx, "zwickau", now=NOW, transport=transport)
            ((_, _, data),) = transport.sent
            return data
        finally:
            ctx.close()


def report(name: str, data: bytes) -> None:
    message = email.message_from_bytes(data, policy=default)
    assert isinstance(message, EmailMessage)
    html_part = message.get_body(("html",))
    text_part = message.get_body(("plain",))
    assert html_part is not None and text_part is not None
    sizes = (
        ("HTML part", len(html_part.get_content().encode())),
        ("HTML QP", len(str(html_part.get_payload(decode=False)).encode())),
        ("text part", len(text_part.get_content().encode())),
        ("message", len(data)),
    )
    print(f"{name}:")
    for label, size in sizes:
        print(f"  {label:10} {size:7,} bytes  {size / GMAIL_CLIP:.2f} of 102 KB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=50)
    args = parser.parse_args()
    report(f"largest digest, {args.items} items", sent_message(longest_items(args.items)))
    report(f"typical digest, {args.items} items", sent_message(typical_items(args.items)))


if __name__ == "__main__":
    main()
