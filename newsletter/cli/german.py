"""The German frame of the ``newsletter`` command: help screens and usage errors.

Typer (0.29) vendors click as ``typer._click`` with its help frame and error texts written
in English, not taken through gettext, so there is no catalogue to ship. Instead
:class:`GermanGroup` and :class:`GermanCommand` write every help screen themselves
(»Aufruf«, »Optionen«, »Befehle«, »Standard«, »Pflicht«) with click's plain
:class:`HelpFormatter`, and :func:`usage_message` turns each usage error into one German
line that says what was wrong and what is right. :class:`App` is the Typer app that uses
both for every command and sub-app.

Speed trick: the plain formatter keeps ``--help`` off Typer's rich help (``rich_utils``
imports rich.markdown, markdown-it, rich.traceback …: 2.2 × ``import typer, rich`` for a
two-command app). Invariant: a help screen or usage error imports neither
``typer.rich_utils`` nor ``rich.console`` — ``tests/test_cli_german.py`` fails when it does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import typer
from typer._click import exceptions as click_errors
from typer._click.core import Command, Context, Parameter
from typer._click.formatting import HelpFormatter, join_options
from typer.core import TyperCommand, TyperGroup

UsageError = click_errors.UsageError
USAGE_EXIT = 2  # the usual code of a usage error (BSD sysexits EX_USAGE is 64)
HELP_TEXT = "Diese Hilfe zeigen."
OPTIONS_METAVAR = "[OPTIONEN]"
COMMAND_METAVAR = "BEFEHL [ARGUMENTE]..."
TYPE_NAMES = {
    "str": "TEXT",
    "int": "ZAHL",
    "int range": "ZAHL",
    "float": "ZAHL",
    "float range": "ZAHL",
    "path": "PFAD",
    "bool": "JA|NEIN",
    "datetime": "DATUM",
}
EXPECTED = {"ZAHL": "eine ganze Zahl", "PFAD": "ein Pfad", "DATUM": "ein Datum"}


class ParameterError(click_errors.BadParameter):
    """A bad value whose message is German already (raised by our own parsers)."""


def _type_name(param: Parameter, ctx: Context) -> str:
    shown = str(getattr(param, "display_type", lambda _ctx: "str")(ctx)).strip("<>")
    if shown.startswith("list[") and shown.endswith("]"):
        shown = shown[5:-1]
    return TYPE_NAMES.get(shown, shown.upper())


def _metavar(param: Parameter, ctx: Context) -> str:
    return param.metavar or _type_name(param, ctx)


def _argument_name(param: Parameter) -> str:
    return param.metavar or (param.name or "").upper()


def _range(param: Parameter) -> str:
    low, high = getattr(param, "min", None), getattr(param, "max", None)
    if low is not None and high is not None:
        return f"{low} bis {high}"
    if low is not None:
        return f"≥ {low}"
    return f"≤ {high}" if high is not None else ""


def _extras(param: Parameter) -> list[str]:
    extras = []
    default = param.default
    shows = getattr(param, "show_default", True) and not getattr(param, "is_flag", False)
    if shows and default not in (None, "", [], ()) and not callable(default):
        extras.append(f"Standard: {default}")
    if _range(param):
        extras.append(_range(param))
    if param.required:
        extras.append("Pflicht")
    return extras


def help_record(param: Parameter, ctx: Context) -> tuple[str, str] | None:
    """The two columns of a parameter in a help screen, in German."""
    if getattr(param, "hidden", False):
        return None
    if param.param_type_name == "argument":
        name = _argument_name(param) + ("..." if param.nargs != 1 else "")
    else:
        name = join_options(param.opts)[0]
        if not getattr(param, "is_flag", False):
            name += f" {_metavar(param, ctx)}"
        if param.secondary_opts:
            name += " / " + join_options(param.secondary_opts)[0]
    text = HELP_TEXT if param.name == "help" else (getattr(param, "help", None) or "")
    extras = _extras(param)
    if extras:
        text = f"{text}  [{'; '.join(extras)}]".strip()
    return name, text


class _German:
    """Help-screen parts shared by commands and groups."""

    def collect_usage_pieces(self: Any, ctx: Context) -> list[str]:
        pieces = [OPTIONS_METAVAR]
        for param in self.params:
            if param.param_type_name == "argument":
                name = _argument_name(param)
                name = name if param.required else f"[{name}]"
                pieces.append(name + ("..." if param.nargs != 1 else ""))
        return pieces

    def parse_args(self: Any, ctx: Context, args: list[str]) -> list[str]:
        try:
            rest: list[str] = super().parse_args(ctx, args)  # type: ignore[misc]
        except UsageError as error:  # the parser's errors come without the command
            if error.ctx is None:
                error.ctx, error.cmd = ctx, ctx.command
            raise
        return rest

    def format_help(self: Any, ctx: Context, formatter: HelpFormatter) -> None:
        Command.format_help(self, ctx, formatter)  # the plain frame, never Typer's rich one

    def format_usage(self: Any, ctx: Context, formatter: HelpFormatter) -> None:
        pieces = self.collect_usage_pieces(ctx)
        formatter.write_usage(ctx.command_path, " ".join(pieces), prefix="Aufruf: ")

    def format_options(self: Any, ctx: Context, formatter: HelpFormatter) -> None:
        records: dict[str, list[tuple[str, str]]] = {"argument": [], "option": []}
        for param in self.get_params(ctx):
            record = help_record(param, ctx)
            if record is not None:
                records[param.param_type_name].append(record)
        for kind, title in (("argument", "Argumente"), ("option", "Optionen")):
            if records[kind]:
                with formatter.section(title):
                    formatter.write_dl(records[kind])


class GermanCommand(_German, TyperCommand):
    """A command whose help screen is German."""


class GermanGroup(_German, TyperGroup):
    """A group whose help screen is German and whose unknown commands get a suggestion."""

    def collect_usage_pieces(self, ctx: Context) -> list[str]:
        return [*super().collect_usage_pieces(ctx), COMMAND_METAVAR]

    def format_options(self, ctx: Context, formatter: HelpFormatter) -> None:
        super().format_options(ctx, formatter)
        shown = {name: c for name, c in self.commands.items() if not c.hidden}
        if shown:
            room = formatter.width - formatter.current_indent - max(map(len, shown)) - 4
            rows = [(name, short_help(command, room)) for name, command in shown.items()]
            with formatter.section("Befehle"):
                formatter.write_dl(rows)

    def resolve_command(self, ctx: Context, args: list[str]) -> tuple[str | None, Any, list[str]]:
        name = args[0]
        if name in self.commands or name.startswith("-") or ctx.resilient_parsing:
            return super().resolve_command(ctx, args)
        raise UsageError(
            f"Unbekannter Befehl »{name}«. " + _suggest(name, self.commands, "»{}«", "Befehle"),
            ctx,
        )

    def invoke(self, ctx: Context) -> Any:
        if not ctx._protected_args and not self.invoke_without_command:
            known = ", ".join(self.commands)
            raise UsageError(f"Es fehlt ein Befehl; möglich: {known}.", ctx)
        return super().invoke(ctx)


def short_help(command: Command, room: int) -> str:
    """The first sentence of a command's help, cut with »…« to fit one line."""
    text = command.short_help or (command.help or "").strip().split("\n\n")[0]
    text = " ".join(text.split())
    first = re.split(r"(?<=[a-zäöüß)]\.)\s(?=[A-ZÄÖÜ])", text, maxsplit=1)[0]
    return first if len(first) <= room else first[: room - 1].rstrip() + "…"


def _suggest(wrong: str, known: Iterable[str], shape: str, plural: str) -> str:
    from difflib import get_close_matches

    names = sorted(known)
    close = get_close_matches(wrong, names, n=1)
    if close:
        return f"Meinten Sie {shape.format(close[0])}?"
    return f"Mögliche {plural}: {', '.join(shape.format(n) for n in names)}."


class App(typer.Typer):
    """A Typer app whose commands and sub-apps use the German frame."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("cls", GermanGroup)
        kwargs.setdefault("rich_markup_mode", None)
        kwargs.setdefault("add_completion", False)
        kwargs.setdefault("pretty_exceptions_enable", False)
        kwargs.setdefault("no_args_is_help", True)
        super().__init__(**kwargs)

    def command(  # type: ignore[override]
        self, name: str | None = None, *, cls: type[TyperCommand] | None = None, **kwargs: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return super().command(name, cls=cls or GermanCommand, **kwargs)


def _option_names(ctx: Context | None) -> list[str]:
    if ctx is None:
        return []
    return [o for p in ctx.command.get_params(ctx) for o in (*p.opts, *p.secondary_opts)]


def _hint(param: Parameter | None, fallback: Sequence[str] | str | None) -> str:
    if param is None:
        return fallback if isinstance(fallback, str) else " / ".join(fallback or ())
    if param.param_type_name == "argument":
        return f"Argument {_argument_name(param)}"
    return f"Option {join_options(param.opts)[0]}"


def _expected(param: Parameter | None, ctx: Context | None) -> str:
    if param is None or ctx is None:
        return ""
    wanted = EXPECTED.get(_metavar(param, ctx), "")
    bounds = _range(param)
    return " ".join(part for part in (wanted or ("eine Zahl" if bounds else ""), bounds) if part)


def usage_message(error: UsageError) -> str:
    """One German line for a usage error: what was wrong, and what is right."""
    if isinstance(error, click_errors.NoSuchOption):
        known = _option_names(error.ctx)
        return f"Unbekannte Option {error.option_name}. " + _suggest(
            error.option_name, known, "{}", "Optionen"
        )
    if isinstance(error, click_errors.MissingParameter):
        return f"Es fehlt {_missing(error.param, error.param_hint)}."
    if isinstance(error, ParameterError):
        return error.message
    if isinstance(error, click_errors.BadParameter):
        wanted = _expected(error.param, error.ctx)
        hint = _hint(error.param, error.param_hint)
        return f"Ungültiger Wert für {hint}" + (f": erwartet {wanted}." if wanted else ".")
    if isinstance(error, click_errors.BadOptionUsage):
        if "requires" in error.message:
            return f"Die Option {error.option_name} braucht einen Wert."
        return f"Die Option {error.option_name} nimmt keinen Wert."
    extra = re.fullmatch(r"Got unexpected extra argument\(s\) \((.*)\)", error.message)
    if extra:
        return f"Zu viele Argumente: {extra.group(1)}."
    return error.message


def _missing(param: Parameter | None, fallback: Sequence[str] | str | None) -> str:
    if param is None:
        return f"ein Wert: {_hint(param, fallback)}"
    help_text = getattr(param, "help", None)
    what = f" ({help_text.rstrip('.')})" if help_text else ""
    if param.param_type_name == "argument":
        return f"das Argument {_argument_name(param)}{what}"
    return f"die Option {join_options(param.opts)[0]}{what}"


def show_usage_error(error: UsageError, write: Callable[[str], None]) -> int:
    """Write the German line, the command's usage and where its help is; the exit code."""
    ctx = error.ctx
    if isinstance(error, click_errors.NoArgsIsHelpError) and ctx is not None:
        write(ctx.get_help())
        return USAGE_EXIT
    write(f"Fehler: {usage_message(error)}")
    if ctx is not None:
        write(ctx.get_usage())
        write(f"Hilfe: {ctx.command_path} --help")
    return USAGE_EXIT
