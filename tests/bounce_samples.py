"""The sample bounce messages of ``tests/data/bounces/`` with their placeholders filled."""

from __future__ import annotations

from pathlib import Path

SAMPLES = Path(__file__).resolve().parent / "data" / "bounces"
NAMES = sorted(p.name for p in SAMPLES.glob("*.eml"))


def sample(name: str, *, verp: str, recipient: str, message_id: str) -> bytes:
    """The sample ``name`` about ``recipient``, sent back to ``verp``, of ``message_id``."""
    text = (SAMPLES / name).read_text(encoding="utf-8")
    text = text.replace("%%VERP%%", verp).replace("%%RCPT%%", recipient)
    return text.replace("%%MSGID%%", message_id).encode("utf-8")
