"""A test service's configuration, shared by the fixtures and the benchmarks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from newsletter.config import Config, load_config

ROOT = Path(__file__).resolve().parent.parent


def service_config(
    tmp_path: Path, database_url: str | None = None, **sections: dict[str, Any]
) -> Config:
    """The repo's config.toml with storage, mail and sources pointed into ``tmp_path``."""
    base = load_config(ROOT / "config.toml", environ={})
    data = base.model_dump()
    data["base_dir"] = tmp_path
    data["storage"] = {
        "data_dir": str(tmp_path / "var"),
        "database_url": database_url or f"sqlite:///{tmp_path / 'test.db'}",
    }
    data["mail"] = data["mail"] | {"maildir": str(tmp_path / "mail")}
    data["sources"] = []
    data["web"] = data["web"] | {"secret_key": "test-secret-key-not-for-production"}
    for section, values in sections.items():
        data[section] = data[section] | values if isinstance(data.get(section), dict) else values
    return Config.model_validate(data)
