"""The one SVG chart toolkit of the HTML pages: a chart is data, the templates draw it.

A ``Frame`` maps data to pixels in one plot area and draws its axes; ``line``, ``band``,
``bars``, ``span`` and ``rule`` turn data into ``Shape``s (SVG elements in pixels); a ``Chart``
is the finished picture (size, label, shapes, legend). ``templates/charts.html`` renders it with
Jinja's autoescaping, so no label, title or tooltip reaches the page unescaped, and nothing is
fetched from anywhere: the pages stay self-contained.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
           "#17becf", "#7f7f7f", "#bcbd22")
GRID = "#eee"


@dataclass(frozen=True)
class Shape:
    """One SVG element: ``<tag attrs><title>tip</title>text children</tag>``."""

    tag: str
    attrs: dict[str, Any] = field(default_factory=dict)
    text: str = ""
    tip: str = ""
    children: tuple[Shape, ...] = ()


@dataclass(frozen=True)
class Swatch:
    """One legend entry: a coloured swatch and what it stands for."""

    label: str
    colour: str
    opacity: float = 1.0


@dataclass
class Chart:
    """An SVG picture: ``width`` x ``height`` pixels, ``label`` for screen readers.
    ``responsive``: drawn at the page's width (the picture scales, text with it)."""

    width: int
    height: int
    label: str
    shapes: list[Shape]
    legend: list[Swatch] = field(default_factory=list)
    responsive: bool = False


def px(value: float) -> str:
    return f"{value:.1f}"


def text(x: float, y: float, content: str, *, size: int = 10, anchor: str = "start",
         bold: bool = False, rotate: bool = False, fill: str | None = None) -> Shape:
    """A label at (x, y) pixels; ``rotate`` turns it to read upwards (a y-axis label)."""
    attrs: dict[str, Any] = {"x": px(x), "y": px(y), "font-size": size, "text-anchor": anchor}
    if bold:
        attrs["font-weight"] = "bold"
    if rotate:
        attrs["transform"] = f"rotate(-90 {px(x)} {px(y)})"
    if fill:
        attrs["fill"] = fill
    return Shape("text", attrs, text=content)


def polyline(points: str, colour: str, **attrs: Any) -> Shape:
    return Shape("polyline", {"points": points, "stroke": colour, **attrs})


class Frame:
    """One plot area of a ``width`` x ``height`` chart, inside the given margins: x from
    ``x_lo`` to ``x_hi``, y from 0 to ``y_max`` (values above it are drawn at the top edge)."""

    def __init__(self, width: int, height: int, x_lo: float, x_hi: float, y_max: float, *,
                 left: int, right: int, top: int, bottom: int) -> None:
        self.width, self.height = width, height
        self.x_lo, self.x_hi, self.y_max = x_lo, max(x_hi, x_lo + 1e-9), y_max
        self.left, self.right = left, width - right  # pixel edges of the plot area
        self.top, self.bottom = top, height - bottom

    def x(self, value: float) -> float:
        return self.left + (value - self.x_lo) / (self.x_hi - self.x_lo) * (self.right - self.left)

    def y(self, value: float) -> float:
        return self.bottom - min(value, self.y_max) / self.y_max * (self.bottom - self.top)

    def point(self, x: float, y: float) -> str:
        return f"{px(self.x(x))},{px(self.y(y))}"

    def axes(self, title: str, ylabel: str, *, xticks: Sequence[tuple[float, str]],
             yticks: Sequence[tuple[float, str]], xlabel: str = "") -> list[Shape]:
        """The plot area's box, a grid line and a label at every tick, the title and the axis
        labels."""
        out = [Shape("rect", {"x": self.left, "y": self.top, "width": self.right - self.left,
                              "height": self.bottom - self.top, "fill": "#fff",
                              "stroke": "#999"})]
        for value, label in yticks:
            y = px(self.y(value))
            out.append(polyline(f"{self.left},{y} {self.right},{y}", GRID))
            out.append(text(self.left - 5, self.y(value) + 3, label, anchor="end"))
        for value, label in xticks:
            x = px(self.x(value))
            out.append(polyline(f"{x},{self.top} {x},{self.bottom}", GRID))
            out.append(text(self.x(value), self.bottom + 13, label, anchor="middle"))
        out.append(text(self.left, 16, title, size=12, bold=True))
        out.append(text(12, (self.top + self.bottom) / 2, ylabel, size=11, anchor="middle",
                        rotate=True))
        if xlabel:
            out.append(text((self.left + self.right) / 2, self.height - 6, xlabel, size=11,
                            anchor="middle"))
        return out

    def chart(self, label: str, shapes: list[Shape], legend: Sequence[Swatch] = (), *,
              responsive: bool = False) -> Chart:
        return Chart(self.width, self.height, label, shapes, list(legend), responsive)


def _runs(points: Sequence[tuple[float, Any]]) -> list[list[tuple[float, Any]]]:
    """Runs of consecutive defined points (a None value breaks the line)."""
    runs: list[list[tuple[float, Any]]] = [[]]
    for x, y in points:
        if y is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((x, y))
    return [r for r in runs if r]


def downsample(points: Sequence[tuple[float, float]], most: int) -> list[tuple[float, float]]:
    """At most ``most`` + 1 evenly spaced points of a long curve, the last one kept."""
    if len(points) <= most:
        return list(points)
    step = len(points) / most
    return [points[int(i * step)] for i in range(most)] + [points[-1]]


def line(frame: Frame, points: Sequence[tuple[float, float | None]], colour: str, label: str,
         *, dash: str = "", markers: bool = False, most: int | None = None) -> list[Shape]:
    """A line through ``points`` (a missing y breaks it; a lone point is a dot, so it is not
    lost), with ``label`` as its tooltip; ``markers`` adds a dot at every point, ``most`` thins
    a long line to that many points."""
    out = []
    for run in _runs(points):
        if len(run) == 1:
            x, y = run[0]
            out.append(Shape("circle", {"class": "series", "cx": px(frame.x(x)),
                                        "cy": px(frame.y(y)), "r": 2.5, "fill": colour},
                             tip=label))
            continue
        shown = downsample(run, most) if most else run
        attrs: dict[str, Any] = {"class": "series", "fill": "none", "stroke-width": 1.6}
        if dash:
            attrs["stroke-dasharray"] = dash
        out.append(Shape("polyline", {"points": " ".join(frame.point(x, y) for x, y in shown),
                                      "stroke": colour, **attrs}, tip=label))
        if markers:
            out += [Shape("circle", {"cx": px(frame.x(x)), "cy": px(frame.y(y)), "r": 2.5,
                                     "fill": colour}) for x, y in run]
    return out


def band(frame: Frame, points: Sequence[tuple[float, float | None, float | None]], colour: str,
         label: str, opacity: float) -> list[Shape]:
    """A shaded band between the lower and upper values (a missing bound breaks it; a lone
    point is a short vertical bar)."""
    out = []
    for run in _runs([(x, (lo, hi) if lo is not None and hi is not None else None)
                      for x, lo, hi in points]):
        if len(run) == 1:
            x, (lo, hi) = run[0]
            out.append(Shape("rect", {"class": "band", "x": px(frame.x(x) - 2),
                                      "y": px(frame.y(hi)), "width": 4,
                                      "height": px(max(frame.y(lo) - frame.y(hi), 0.5)),
                                      "fill": colour, "fill-opacity": opacity}))
            continue
        upper = [frame.point(x, hi) for x, (lo, hi) in run]
        lower = [frame.point(x, lo) for x, (lo, hi) in reversed(run)]
        out.append(Shape("polygon", {"class": "band", "points": " ".join(upper + lower),
                                     "fill": colour, "fill-opacity": opacity, "stroke": "none"},
                         tip=label))
    return out


def bars(frame: Frame, rows: Sequence[tuple[float, float, float, str]], colour: str
         ) -> list[Shape]:
    """A bar from x0 to x1 up to ``value`` for each (x0, x1, value, tooltip)."""
    out = []
    for x0, x1, value, tip in rows:
        left, top = frame.x(x0), frame.y(value)
        out.append(Shape("rect", {"class": "bar", "x": px(left), "y": px(top),
                                  "width": px(max(frame.x(x1) - left - 0.5, 0.6)),
                                  "height": px(frame.bottom - top), "fill": colour}, tip=tip))
    return out


def span(frame: Frame, lo: float, hi: float, colour: str, opacity: float, tip: str, *,
         cls: str) -> Shape | None:
    """The full-height region from x ``lo`` to ``hi``, clipped to the frame (None outside)."""
    lo, hi = max(lo, frame.x_lo), min(hi, frame.x_hi)
    if hi < lo:
        return None
    x0, x1 = frame.x(lo), frame.x(hi)
    return Shape("rect", {"class": cls, "x": px(x0), "y": frame.top,
                          "width": px(max(x1 - x0, 2)), "height": frame.bottom - frame.top,
                          "fill": colour, "fill-opacity": opacity}, tip=tip)


def rule(frame: Frame, at: float, colour: str, tip: str, *, cls: str) -> Shape | None:
    """A dashed full-height line at x ``at`` (None outside the frame)."""
    if not frame.x_lo <= at <= frame.x_hi:
        return None
    x = px(frame.x(at))
    return Shape("g", {"class": cls}, tip=tip, children=(polyline(
        f"{x},{frame.top} {x},{frame.bottom}", colour, **{"stroke-width": 1.2,
                                                          "stroke-dasharray": "5 3"}),))


# -- time axes -----------------------------------------------------------------------------------

EPOCH = date(1970, 1, 1)


def days(value: date | datetime) -> float:
    """A date or naive datetime as days since 1970-01-01 (the x of a time axis)."""
    if isinstance(value, datetime):
        return (value - datetime(1970, 1, 1)).total_seconds() / 86400
    return float((value - EPOCH).days)


def nice_max(value: float) -> float:
    """The top of a share axis: the first round number at or above ``value``, at most 1."""
    for top in (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0):
        if value <= top:
            return top
    return 1.0


def _month_steps() -> Iterator[int]:
    """Tick steps in months: 1, 2, 3, 6, then 1, 2, 5, 10, 20, 50... years (no end)."""
    yield from (1, 2, 3, 6)
    scale = 1
    while True:
        for years in (1, 2, 5):
            yield 12 * years * scale
        scale *= 10


def time_ticks(lo: float, hi: float, most: int = 8) -> list[tuple[float, str]]:
    """Ticks of a time axis from day ``lo`` to ``hi``: Mondays over a few weeks, else the first
    days of months or years, every 1, 2, 3 or 6 months or 1, 2, 5, 10... years, at most
    ``most`` of them (any span: a review dated 1970 stretches the axis over decades)."""
    first = EPOCH + timedelta(days=int(lo))
    last = EPOCH + timedelta(days=int(hi) + 1)
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    if months <= 2:  # a few weeks: Mondays
        start = first - timedelta(days=first.weekday())
        mondays = [start + timedelta(weeks=k) for k in range(int((hi - lo) / 7) + 2)]
        return [(days(d), d.isoformat()) for d in mondays if lo <= days(d) <= hi]
    step = next(s for s in _month_steps() if months / s <= most)
    ticks, y, m = [], first.year, first.month
    while (y, m) <= (last.year, last.month):
        if (y * 12 + m - 1) % step == 0:
            d = date(y, m, 1)
            if lo <= days(d) <= hi:
                ticks.append((days(d), str(y) if step >= 12 else f"{y}-{m:02d}"))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return ticks
