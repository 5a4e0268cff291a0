"""``newsletter feeds export DIR``: every feed and the OPML as static files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from newsletter.cli.base import app, console, get_config, open_context
from newsletter.cli.german import App, ParameterError

if TYPE_CHECKING:
    from newsletter.context import Context

feeds_app = App(help="Feeds als Dateien ausgeben.", no_args_is_help=True)
app.add_typer(feeds_app, name="feeds")


@feeds_app.command("export")
def export(
    directory: Annotated[
        Path | None,
        typer.Argument(metavar="VERZEICHNIS", help="Zielverzeichnis (Standard: feeds.static_dir)."),
    ] = None,
) -> None:
    """Alle Feeds (RSS, Atom, JSON, je mit .gz) und die OPML-Datei schreiben; unveränderte bleiben."""
    config = get_config()
    target = directory or config.feeds.static_dir
    if target is None:
        raise ParameterError("Bitte ein Zielverzeichnis angeben (oder feeds.static_dir setzen).")
    with open_context() as ctx:
        files = render_all(ctx)
    written = write_files(config.path(target), files)
    console.print(f"{len(written)} von {len(files)} Dateien geändert in {target}")
    for name in written:
        console.print(f"  {name}")


def render_all(ctx: Context) -> dict[str, bytes]:
    """File name -> bytes for every feed and the OPML (plus gzip siblings); the same
    bytes as the web server sends."""
    import gzip

    from newsletter import feeds
    from newsletter.store import items as item_store
    from newsletter.store.db import transaction

    config = ctx.config
    files: dict[str, bytes] = {"feeds.opml": feeds.render_opml(config)}
    with transaction(ctx.engine) as conn:
        for info in feeds.all_feeds(config):
            region = None if info.key == feeds.SAXONY else info.key
            items = item_store.latest(conn, region, limit=config.feeds.max_items)
            for kind in feeds.EXTENSIONS:
                files[f"{info.key}.{kind}"] = feeds.feed_body(config, info.key, kind, items)
    for name in list(files):
        files[name + ".gz"] = gzip.compress(files[name], 9, mtime=0)
    return files


def write_files(directory: Path, files: dict[str, bytes]) -> list[str]:
    """Write each file atomically (temp file + rename); skip files whose bytes are unchanged."""
    import os
    import tempfile

    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, body in sorted(files.items()):
        path = directory / name
        if path.exists() and path.read_bytes() == body:
            continue
        handle, temp = tempfile.mkstemp(dir=directory, prefix=f".{name}.")
        with os.fdopen(handle, "wb") as out:
            out.write(body)
        Path(temp).chmod(0o644)
        Path(temp).replace(path)
        written.append(name)
    return written
