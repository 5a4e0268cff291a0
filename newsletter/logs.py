"""Logging setup: one line per event, as text or JSON (``--log-format json``).

Link tokens never reach a log: subscribers' confirm, settings and unsubscribe links carry
a token that does not expire (``/bestaetigen/<token>``, ``/einstellungen/<token>``,
``/abmelden/<token>``); :class:`RedactTokens` replaces it with ``[token]`` in every
record, on our handler and on uvicorn's access log (installed by ``newsletter serve``).
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

_TOKEN_PATH = re.compile(r"(/(?:bestaetigen|einstellungen|abmelden)/)[^/?#\s\"']+")
_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload |= {k: v for k, v in record.__dict__.items() if k not in _RESERVED}
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False, default=str)


def redact(text: str) -> str:
    """``text`` with the token of every link path replaced by ``[token]``."""
    return _TOKEN_PATH.sub(r"\1[token]", text)


class RedactTokens(logging.Filter):
    """Redacts link tokens in a record's message and arguments (it changes the record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def redact_tokens(target: logging.Logger | logging.Handler) -> None:
    """Install :class:`RedactTokens` on a logger or handler (once)."""
    if not any(isinstance(f, RedactTokens) for f in target.filters):
        target.addFilter(RedactTokens())


def setup_logging(fmt: str = "text", level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    redact_tokens(handler)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "apscheduler.executors", "cssutils", "mail.log", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
