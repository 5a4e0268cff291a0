"""One parser for region arguments: a key or the display name, in any case.

``--region Zwickau``, ``--region "leipzig/nordsachsen"`` and ``--region zwickau`` all
mean a region; an unknown value is a usage error (exit 2) that names the valid keys, with
the same wording in every command."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from newsletter.cli.german import ParameterError

if TYPE_CHECKING:
    from newsletter.models import Region


def _folded(text: str) -> str:
    return " ".join(text.split()).casefold()


def find_region(regions: Sequence[Region], value: str) -> Region | None:
    """The region whose key or display name is ``value`` (any case, spaces trimmed)."""
    wanted = _folded(value)
    return next((r for r in regions if wanted in (_folded(r.key), _folded(r.name))), None)


def unknown_region(regions: Sequence[Region], value: str) -> str:
    """The one German line for a value that names no region."""
    valid = ", ".join(
        f"{r.key} ({r.name})" if r.name.casefold() != r.key else r.key for r in regions
    )
    return f"Unbekannte Region »{value}«. Gültig sind: {valid}."


def region_key(regions: Sequence[Region], value: str, option: str = "--region") -> str:
    """The key of the region ``value`` names, or a usage error naming the valid keys."""
    found = find_region(regions, value)
    if found is None:
        raise ParameterError(unknown_region(regions, value), param_hint=option)
    return found.key


def region_keys(
    regions: Sequence[Region], values: Iterable[str], option: str = "--region"
) -> list[str]:
    """Each value's key, in order, without repeats."""
    return list(dict.fromkeys(region_key(regions, value, option) for value in values))


def configured_key(value: str, option: str = "--region") -> str:
    """:func:`region_key` against the configured regions."""
    from newsletter.cli.base import get_config

    return region_key(get_config().region_list(), value, option)


def configured_keys(values: Iterable[str], option: str = "--region") -> list[str]:
    """:func:`region_keys` against the configured regions."""
    from newsletter.cli.base import get_config

    return region_keys(get_config().region_list(), values, option)


def region_names(keys: Iterable[str]) -> str:
    """Display names of region keys, comma-separated (unknown keys as they are)."""
    from newsletter.cli.base import get_config

    config = get_config()
    return ", ".join(getattr(config.region(key), "name", key) for key in keys)
