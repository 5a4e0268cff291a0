"""The house rules of DESIGN.md's layout, checked on the imports of the code itself.

Imports point inward: views never import views, the API never imports the admin pages,
the pure deciders touch neither the store nor the network, only ``store/`` speaks SQL,
only ``sources/`` fetches over HTTP and only ``mail/transports`` speaks SMTP.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "newsletter"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> Iterator[str]:
    """Every module ``path`` imports, at the top or inside a function, resolved to a dotted name."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = (
        _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    )
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


MODULES = {_module_name(p): set(_imports(p)) for p in PACKAGE.rglob("*.py")}


def _importers(prefix: str) -> dict[str, set[str]]:
    return {m: i for m, i in MODULES.items() if m == prefix or m.startswith(prefix + ".")}


def _offending(importers: dict[str, set[str]], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{module} imports {target}"
        for module, targets in importers.items()
        for target in targets
        if any(target == f or target.startswith(f + ".") for f in forbidden)
    )


def test_the_layout_is_what_the_design_names() -> None:
    for package in (
        "mail",
        "subscriptions",
        "store",
        "sources",
        "gazetteer",
        "web",
        "web.admin",
        "web.api",
        "cli",
    ):
        assert f"newsletter.{package}" in MODULES, package


def test_the_api_never_imports_the_admin_pages() -> None:
    assert _offending(_importers("newsletter.web.api"), ("newsletter.web.admin",)) == []


def test_admin_pages_import_no_other_page() -> None:
    pages = [
        m
        for m in _importers("newsletter.web.admin")
        if m.rpartition(".")[2] not in {"admin", "common"}
    ]
    bad = []
    for page in pages:
        others = tuple(p for p in pages if p != page)
        bad += _offending({page: MODULES[page]}, others)
    assert bad == []


@pytest.mark.parametrize(
    "layer",
    [
        "newsletter.models",
        "newsletter.errors",
        "newsletter.config",
        "newsletter.store",
        "newsletter.mail",
        "newsletter.subscriptions",
        "newsletter.sources",
        "newsletter.regions",
        "newsletter.feeds",
        "newsletter.digests",
        "newsletter.collect",
        "newsletter.dedup",
    ],
)
def test_inner_layers_never_import_the_web_or_the_cli(layer: str) -> None:
    assert (
        _offending(_importers(layer), ("newsletter.web", "newsletter.cli", "newsletter.server"))
        == []
    )


@pytest.mark.parametrize(
    "pure",
    [
        "newsletter.regions",
        "newsletter.feeds",
        "newsletter.digests",
        "newsletter.teasers",
        "newsletter.dedup",
        "newsletter.subscriptions.rules",
        "newsletter.models",
        "newsletter.editorial",
        "newsletter.archive",
        "newsletter.history",
    ],
)
def test_pure_modules_touch_neither_store_nor_network(pure: str) -> None:
    forbidden = (
        "newsletter.store",
        "newsletter.sources.http",
        "newsletter.mail.transports",
        "httpx",
        "smtplib",
        "sqlalchemy",
    )
    assert _offending(_importers(pure), forbidden) == []


def test_only_the_store_writes_sql() -> None:
    outside = {m: i for m, i in MODULES.items() if not m.startswith("newsletter.store")}
    assert (
        _offending(
            outside,
            (
                "sqlalchemy.sql",
                "sqlalchemy.text",
                "sqlalchemy.select",
                "sqlalchemy.insert",
                "sqlalchemy.update",
                "sqlalchemy.delete",
            ),
        )
        == []
    )


def test_only_sources_fetch_and_only_transports_speak_smtp() -> None:
    assert (
        _offending(
            {m: i for m, i in MODULES.items() if not m.startswith("newsletter.sources")},
            ("httpx", "httpcore"),
        )
        == []
    )
    assert (
        _offending(
            {m: i for m, i in MODULES.items() if m != "newsletter.mail.transports"}, ("smtplib",)
        )
        == []
    )
