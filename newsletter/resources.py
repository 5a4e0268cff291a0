"""Where the files beside the code live: ``templates/`` and ``migrations/``.

In a checkout they stand at the top of the repository (DESIGN.md's layout). A built wheel
carries them inside the package as ``newsletter/_files/`` (``force-include`` in
pyproject.toml), so an installed copy finds them next to its own code, whatever the
installation prefix — nothing guesses at ``sys.prefix``. ``tests/test_wheel.py`` installs
the built wheel into a fresh virtual environment and runs the service from it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from newsletter.errors import ConfigError

_PACKAGE = Path(__file__).resolve().parent


@cache
def resource_dir(name: str) -> Path:
    """The folder ``name`` (``templates`` or ``migrations``), installed or in a checkout."""
    for candidate in (_PACKAGE / "_files" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise ConfigError(
        f"Ordner {name}/ fehlt: weder im installierten Paket ({_PACKAGE / '_files'})"
        f" noch im Quellverzeichnis ({_PACKAGE.parent}) – Installation unvollständig"
    )
