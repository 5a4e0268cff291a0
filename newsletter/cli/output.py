"""What commands print: tables that fit an 80-column terminal, local times that say so,
German counts, outside text made harmless. rich's table module is imported when a table
is made, not on ``--help``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from newsletter.config import Config


def table(*headers: str, long: tuple[str, ...] = ()) -> Table:
    """A table whose cells never wrap: a cell too wide for the terminal is cut with »…«.
    Columns named in ``long`` (put them last) give way; the others keep their width."""
    from rich import box
    from rich.table import Table

    made = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for header in headers:
        made.add_column(header, no_wrap=True, overflow="ellipsis")
    made.long_columns = long  # type: ignore[attr-defined]  # read by show
    return made


def show(console: Console, made: Table) -> None:
    """Print a table from :func:`table`: short columns at their full width, long ones
    share the rest of the line."""
    long = getattr(made, "long_columns", ())
    natural = [
        max([len(str(c.header)), *(len(str(cell)) for cell in c.cells)]) for c in made.columns
    ]
    rest = (
        console.width
        - 3 * (len(natural) - 1)
        - sum(width for width, c in zip(natural, made.columns, strict=True) if c.header not in long)
    )
    wanted = [w for w, c in zip(natural, made.columns, strict=True) if c.header in long]
    shares = iter(fit(wanted, rest))
    for width, column in zip(natural, made.columns, strict=True):
        column.width = next(shares) if column.header in long else width
    console.print(made, highlight=False)


def fit(wanted: list[int], room: int, least: int = 6) -> list[int]:
    """Widths for columns that want ``wanted`` in ``room``: the narrow ones get what they
    want, the wide ones share what is left equally (each at least ``least``)."""
    widths = list(wanted)
    left, open_ = room, sorted(range(len(wanted)), key=wanted.__getitem__)
    while open_:
        share = left // len(open_)
        index = open_[0]
        if wanted[index] > share:
            for index in open_:
                widths[index] = max(share, least)
            break
        left -= wanted[index]
        open_.pop(0)
    return widths


def shown(value: str) -> Text:
    """Stored or uploaded text for the terminal: no rich markup, control characters,
    bidi and line-separator characters as visible escapes (``\\x1b``, ``\\u202e``)."""
    from rich.text import Text

    if value.isprintable():  # no control, format or separator character: nothing to escape
        return Text(value)
    from newsletter.subscriptions.rules import unsafe_char

    return Text("".join(_escaped(ch) if unsafe_char(ch) else ch for ch in value))


def _escaped(ch: str) -> str:
    return f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"


def local(value: datetime | None, tz: ZoneInfo, shape: str = "%d.%m.%Y %H:%M") -> str:
    """A stored time (UTC, naive from SQLite) in local time; »–« for none."""
    if value is None:
        return "–"
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(tz).strftime(shape)


def time_note(tz: ZoneInfo) -> str:
    """Said under every table with times."""
    return f"Zeiten in Ortszeit ({tz.key})."


def count(number: int, one: str, many: str) -> str:
    """»1 Meldung«, »15 Meldungen«."""
    return f"{number} {one if number == 1 else many}"


def zone(config: Config) -> ZoneInfo:
    """The site's timezone (``site.timezone``), in which people read times."""
    from zoneinfo import ZoneInfo

    return ZoneInfo(config.site.timezone)


def duration(seconds: float) -> str:
    """»9 s«, »4 min«, »1,5 h«."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h".replace(".", ",")


def estimate(done: int, total: int | None, elapsed: float) -> str:
    """»noch ca. 9 s« at the pace so far; empty before the first unit and at the end."""
    if not total or done <= 0 or done >= total:
        return ""
    return f"noch ca. {duration((total - done) * elapsed / done)}"


def progress_line(done: int, total: int | None, unit: str, elapsed: float) -> str:
    """»3 von 10 Quellen · noch ca. 20 s«."""
    counted = f"{done} von {total} {unit}" if total else f"{done} {unit}"
    return " · ".join(part for part in (counted, estimate(done, total, elapsed)) if part)


def send_line(sent: int, total: int, handled: int, elapsed: float) -> str:
    """»gesendet 101 von 201 · 11 Mails/s · noch ca. 9 s« (the pace counts every mail
    handled, sent or not)."""
    rate = f"{handled / elapsed:.0f} Mails/s" if elapsed > 0 and handled else ""
    parts = (f"gesendet {sent} von {total}", rate, estimate(handled, total, elapsed))
    return " · ".join(part for part in parts if part)


@contextmanager
def bar(title: str) -> Iterator[Callable[[int, int | None, str], None]]:
    """A progress bar on standard error, gone when done: ``show(done, total, line)``
    moves it. Log lines written meanwhile appear above the bar, not inside it."""
    from rich.progress import BarColumn, Progress, TextColumn

    from newsletter.cli.base import consoles

    columns = (
        TextColumn("{task.description}"),
        BarColumn(bar_width=20),
        TextColumn("{task.fields[line]}"),
    )
    with Progress(*columns, console=consoles.err(), transient=True) as progress, logs_above():
        task = progress.add_task(title, total=None, line="")

        def show(done: int, total: int | None, line: str) -> None:
            progress.update(task, completed=done, total=total, line=line)

        yield show


@contextmanager
def logs_above() -> Iterator[None]:
    """Point the log handlers at the current ``sys.stderr`` — while a bar is live, rich's
    stand-in that prints each line above the bar — and back afterwards."""
    import logging
    import sys

    handlers = [
        h
        for h in logging.getLogger().handlers
        if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
    ]
    before = [h.stream for h in handlers]
    for handler in handlers:
        handler.setStream(sys.stderr)
    try:
        yield
    finally:
        for handler, stream in zip(handlers, before, strict=True):
            handler.setStream(stream)
