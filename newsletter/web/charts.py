"""Small server-rendered SVG charts for the dashboard (pure: numbers in, shapes out).

No JavaScript: ``templates/web/admin/_chart.html`` draws a :class:`Drawing` as an
``<svg role="img">`` with a ``<title>`` and a ``<desc>`` that say in words what it shows,
and puts the same numbers in a table beside it.
Colours are the Okabe–Ito palette (distinguishable with colour-vision deficiencies); every
series is also named in a legend, so colour is never the only cue.
"""

from __future__ import annotations

from dataclasses import dataclass

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#6b6b6b")
WIDTH, HEIGHT = 360, 200
LEFT, RIGHT, TOP, BOTTOM = 36, 8, 10, 28


@dataclass(frozen=True)
class Series:
    name: str
    values: tuple[int, ...]
    color: str


@dataclass(frozen=True)
class Chart:
    """``labels`` along the x axis, one value per label in each series."""

    id: str
    title: str
    summary: str
    labels: tuple[str, ...]
    series: tuple[Series, ...]
    axis: str = ""  # what the labels are (the data table's first column)
    ticks: tuple[str, ...] = ()  # shorter labels for the x axis (default: the labels)

    @property
    def rows(self) -> list[tuple[str, list[int]]]:
        """The data table: one row per label, one column per series."""
        return [(label, [s.values[i] for s in self.series]) for i, label in enumerate(self.labels)]


def series_of(named: list[tuple[str, list[int]]]) -> tuple[Series, ...]:
    """Name/value pairs with the palette's colours in order."""
    return tuple(
        Series(name, tuple(values), PALETTE[i % len(PALETTE)])
        for i, (name, values) in enumerate(named)
    )


def nice_max(value: int) -> int:
    """The axis top: 1, 2 or 5 times a power of ten, at least ``value`` (and at least 1)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if factor * step >= value:
                return factor * step
        step *= 10


@dataclass(frozen=True)
class Shape:
    """A ``polyline`` (``points``), a ``circle`` (x, y) or a ``rect`` (x, y, w, h)."""

    kind: str
    color: str
    points: str = ""
    x: float = 0.0
    y: float = 0.0
    w: float = 0.0
    h: float = 0.0
    tip: str = ""


@dataclass(frozen=True)
class Drawing:
    chart: Chart
    top: int  # the y axis' top value
    xlabels: tuple[tuple[float, str], ...]
    shapes: tuple[Shape, ...]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    base: int = HEIGHT - BOTTOM  # the y of the x axis
    ceiling: int = TOP
    right: int = WIDTH - RIGHT


def _step(chart: Chart) -> float:
    return (WIDTH - LEFT - RIGHT) / max(len(chart.labels), 1)


def _xlabels(chart: Chart) -> tuple[tuple[float, str], ...]:
    """At most about six labels, counted back from the last one (always shown)."""
    every = max(1, -(-len(chart.labels) // 6))
    last = len(chart.labels) - 1
    return tuple(
        (LEFT + _step(chart) * (i + 0.5), label)
        for i, label in enumerate(chart.ticks or chart.labels)
        if (last - i) % every == 0
    )


def line_chart(chart: Chart) -> Drawing:
    """One polyline per series, with a dot per value (a single week still shows)."""
    top = nice_max(max((v for s in chart.series for v in s.values), default=0))
    plot_h = HEIGHT - TOP - BOTTOM
    shapes: list[Shape] = []
    for s in chart.series:
        points = [
            (LEFT + _step(chart) * (i + 0.5), TOP + plot_h - plot_h * v / top)
            for i, v in enumerate(s.values)
        ]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        shapes.append(Shape("polyline", s.color, points=path, tip=s.name))
        shapes += [
            Shape("circle", s.color, x=x, y=y, tip=f"{label}: {s.name} {v}")
            for (x, y), label, v in zip(points, chart.labels, s.values, strict=True)
        ]
    return Drawing(chart, top, _xlabels(chart), tuple(shapes))


def stacked_bars(chart: Chart) -> Drawing:
    """One bar per label, the series stacked bottom-up."""
    totals = [sum(s.values[i] for s in chart.series) for i in range(len(chart.labels))]
    top = nice_max(max(totals, default=0))
    plot_h = HEIGHT - TOP - BOTTOM
    step = _step(chart)
    bar = min(step * 0.7, 40.0)
    shapes: list[Shape] = []
    for i, label in enumerate(chart.labels):
        y = float(TOP + plot_h)
        for s in chart.series:
            h = plot_h * s.values[i] / top
            if h > 0:
                y -= h
                tip = f"{label}: {s.name} {s.values[i]}"
                x = LEFT + step * (i + 0.5) - bar / 2
                shapes.append(Shape("rect", s.color, x=x, y=y, w=bar, h=h, tip=tip))
    return Drawing(chart, top, _xlabels(chart), tuple(shapes))
