"""Golden files: compare a JSON-able value with ``<name>.expected.json``.

``UPDATE_GOLDEN=1`` rewrites the expected files; review the diff before committing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from newsletter.dedup import Candidate


def check_golden(actual: Any, expected_file: Path) -> None:
    text = json.dumps(actual, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_GOLDEN") == "1" or not expected_file.exists():
        expected_file.write_text(text, encoding="utf-8")
        if os.environ.get("UPDATE_GOLDEN") != "1":
            raise AssertionError(f"{expected_file.name} was missing and has been written")
    assert json.loads(text) == json.loads(expected_file.read_text(encoding="utf-8"))


def candidate_json(candidate: Candidate) -> dict[str, Any]:
    item = candidate.parsed
    return {
        "id": candidate.id,
        "guid": item.guid,
        "url": item.url,
        "canonical_url": candidate.canonical_url,
        "title": item.title,
        "summary_html": item.summary_html,
        "content_html": item.content_html,
        "author": item.author,
        "published_at": candidate.published_at.isoformat(),
        "published_estimated": candidate.published_estimated,
        "regions": list(item.regions) if item.regions is not None else None,
    }


def check_golden_bytes(actual: bytes, expected_file: Path) -> None:
    """Compare exact bytes (feeds, rendered mail) with a golden file."""
    if os.environ.get("UPDATE_GOLDEN") == "1" or not expected_file.exists():
        expected_file.parent.mkdir(parents=True, exist_ok=True)
        expected_file.write_bytes(actual)
        if os.environ.get("UPDATE_GOLDEN") != "1":
            raise AssertionError(f"{expected_file.name} was missing and has been written")
    assert actual == expected_file.read_bytes(), f"{expected_file.name} differs (UPDATE_GOLDEN=1)"
