"""The root ``newsletter`` Typer app, global options and the one error handler.

Command modules register on :data:`app` (or add sub-apps to it); ``cli/__init__`` imports
them all. Commands stay thin: parse arguments, call the modules, print the result.

This module is on every command's path, ``--help`` included: it imports typer, rich, the
stdlib and :mod:`newsletter.errors` only. Logging is set up by the root callback, the
config (pydantic) loaded by :func:`get_config` and the :class:`~newsletter.context.Context`
(SQLAlchemy) built by :func:`open_context`, each when a command asks for it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from newsletter.cli.german import App, UsageError, show_usage_error
from newsletter.errors import NewsletterError

if TYPE_CHECKING:
    from rich.console import Console

    from newsletter.config import Config
    from newsletter.context import Context

app = App(
    name="newsletter",
    help="ASSKomm Nachrichten: Meldungen sammeln, Regionen zuordnen, Feeds und Newsletter.",
)


class _Consoles:
    """stdout and stderr consoles, made on first use (rich.console is not on ``--help``'s path)."""

    _out: Console | None = None
    _err: Console | None = None

    def out(self) -> Console:
        if self._out is None:
            from rich.console import Console

            self._out = Console()
        return self._out

    def err(self) -> Console:
        if self._err is None:
            from rich.console import Console

            self._err = Console(stderr=True)
        return self._err


consoles = _Consoles()


class _Lazy:
    """Stands for a console and makes it when a command first prints. Setting an
    attribute sets it on the console; deleting it puts back the console's value from
    before (so ``monkeypatch.setattr(console, "width", 200)`` is undone)."""

    def __init__(self, make: Callable[[], Console]) -> None:
        object.__setattr__(self, "_make", make)
        object.__setattr__(self, "_before", {})

    def __getattr__(self, name: str) -> Any:
        return getattr(self._make(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        real = self._make()
        self._before.setdefault(name, getattr(real, name))
        setattr(real, name, value)

    def __delattr__(self, name: str) -> None:
        setattr(self._make(), name, self._before.pop(name))


console: Console = _Lazy(consoles.out)  # type: ignore[assignment]
err_console: Console = _Lazy(consoles.err)  # type: ignore[assignment]


class _State:
    config_path: Path | None = None
    debug: bool = False
    config: Config | None = None


state = _State()


@app.callback()
def _root(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            metavar="DATEI",
            help="Konfigurationsdatei (sonst $NEWSLETTER_CONFIG oder ./config.toml).",
        ),
    ] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="Bei Fehlern den Traceback zeigen.")
    ] = False,
    log_format: Annotated[
        str,
        typer.Option("--log-format", metavar="FORMAT", help="Protokollformat: text oder json."),
    ] = "text",
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Ausführlich protokollieren.")
    ] = False,
) -> None:
    import logging

    from newsletter.logs import setup_logging

    state.config_path = config
    state.config = None
    state.debug = debug
    setup_logging(log_format, logging.DEBUG if verbose or debug else logging.INFO)


def get_config() -> Config:
    if state.config is None:
        from newsletter.config import load_config

        state.config = load_config(state.config_path)
    return state.config


@contextmanager
def open_context(*, init: bool = True, create: bool = False) -> Iterator[Context]:
    """A ready service context for one command: config loaded, database migrated (a
    missing database is created again only with ``create``, i.e. by ``init-db``)."""
    from newsletter.context import Context

    ctx = Context(get_config())
    try:
        if init:
            ctx.init_db(create=create)
        yield ctx
    finally:
        ctx.close()


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print a German error line and return the Exit to raise."""
    err_console.print(f"[bold red]Fehler:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def run_cli(entry: Callable[..., Any], args: list[str] | None = None) -> int:
    """Run the Typer app; turn our errors into one German line and an exit code."""
    try:
        result = entry(args=args, standalone_mode=False)
    except NewsletterError as exc:
        if state.debug:
            raise
        err_console.print(f"[bold red]Fehler:[/] {exc.message}", highlight=False, soft_wrap=True)
        return exc.exit_code
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except UsageError as exc:  # before the general case: a usage error is not a crash
        return show_usage_error(exc, lambda line: print(line, file=sys.stderr))
    except typer.Abort:
        err_console.print("Abgebrochen.")
        return 130
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the unexpected
        if state.debug:
            raise
        err_console.print(f"[bold red]Interner Fehler:[/] {exc!r} (mit --debug für Details)")
        return 70  # EX_SOFTWARE
    # without standalone mode, click returns the code of ``typer.Exit`` instead of raising
    return int(result) if isinstance(result, int) else 0


def is_interactive() -> bool:
    return sys.stderr.isatty()
