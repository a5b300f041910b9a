"""Chart geometry for inline SVG.

This module only computes coordinates, ticks and labels; the SVG markup itself is
written by ``templates/_charts.html.j2`` so every piece of text goes through
jinja's autoescaping. Time axes are seconds relative to an anchor (the fault
injection, else the drill start), so the timeline and the metric charts line up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from harness.report.figures import as_utc, fmt_number


@dataclass(frozen=True)
class Box:
    """The plotting area inside the SVG, in pixels."""

    left: float
    top: float
    right: float
    bottom: float

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top


@dataclass(frozen=True)
class Scale:
    lo: float
    hi: float
    px_lo: float
    px_hi: float

    def __call__(self, value: float) -> float:
        span = self.hi - self.lo
        frac = 0.5 if span == 0 else (value - self.lo) / span
        return round(self.px_lo + frac * (self.px_hi - self.px_lo), 1)


@dataclass(frozen=True)
class Tick:
    pos: float
    label: str


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    title: str
    css: str = ""
    label: str = ""


@dataclass(frozen=True)
class Line:
    points: str  # "x,y x,y ..." for <polyline>
    css: str
    label: str


@dataclass(frozen=True)
class Band:
    x0: float
    x1: float
    label: str
    css: str = "band-fault"


@dataclass(frozen=True)
class Rule:
    """A threshold or event line, drawn dashed, with its label at (label_x, label_y)."""

    x1: float
    y1: float
    x2: float
    y2: float
    label: str
    css: str
    label_x: float
    label_y: float
    anchor: str = "start"


@dataclass(frozen=True)
class LegendItem:
    label: str
    css: str


@dataclass
class LineChart:
    title: str
    unit: str
    width: int
    height: int
    box: Box
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    bands: list[Band] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    legend: list[LegendItem] = field(default_factory=list)
    x_label: str = ""
    note: str = ""

    @property
    def point_count(self) -> int:
        return sum(len(line.points.split()) for line in self.lines)


@dataclass(frozen=True)
class SeriesInput:
    label: str
    points: Sequence[tuple[float, float]]
    css: str
    point_titles: Sequence[str] = ()
    failing: Sequence[bool] = ()


@dataclass(frozen=True)
class Threshold:
    value: float
    label: str


@dataclass(frozen=True)
class EventLine:
    x: float
    label: str
    css: str = "rule-event"


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values from at or below ``lo`` to at or above ``hi``."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(count, 1)
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * magnitude >= raw)
    first = math.floor(lo / step + 1e-9)
    last = math.ceil(hi / step - 1e-9)
    return [round(i * step, 10) for i in range(first, last + 1)][:60]


def fmt_offset(seconds: float) -> str:
    """``T+12s`` / ``T-5s`` relative to the anchor."""
    sign = "+" if seconds >= 0 else "\u2212"  # minus sign
    value = abs(float(seconds))
    text = f"{value:.0f}" if value >= 100 or value.is_integer() else f"{value:.1f}"
    return f"T{sign}{text}s"


def line_chart(
    title: str,
    unit: str,
    series: Sequence[SeriesInput],
    *,
    x_domain: tuple[float, float] | None = None,
    x_tick_labels: dict[float, str] | None = None,
    bands: Sequence[tuple[float, float, str]] = (),
    thresholds: Sequence[Threshold] = (),
    events: Sequence[EventLine] = (),
    gap: float | None = None,
    x_label: str = "seconds from fault injection",
    width: int = 760,
    height: int = 260,
    max_markers: int = 80,
) -> LineChart:
    """Lay out a line chart. ``gap``: a break in x larger than this splits the line (missing samples)."""
    box = Box(left=64, top=28, right=width - 16, bottom=height - 44)
    chart = LineChart(title=title, unit=unit, width=width, height=height, box=box, x_label=x_label)
    xs = [x for s in series for x, _ in s.points]
    ys = [y for s in series for _, y in s.points] + [t.value for t in thresholds]
    if not xs:
        chart.note = "No data points in this window."
    if x_domain is None:
        x_domain = (min(xs), max(xs)) if xs else (0.0, 1.0)
    x_lo, x_hi = x_domain
    if x_hi <= x_lo:
        x_hi = x_lo + 1.0
    y_hi = max([0.0, *ys]) or 1.0
    y_ticks = nice_ticks(0.0, y_hi * 1.08)
    y_top = y_ticks[-1] if y_ticks else y_hi
    sx = Scale(x_lo, x_hi, box.left, box.right)
    sy = Scale(0.0, y_top, box.bottom, box.top)
    if x_tick_labels is not None:
        chart.x_ticks = [Tick(sx(x), text) for x, text in x_tick_labels.items()]
    else:
        chart.x_ticks = [Tick(sx(x), fmt_offset(x)) for x in nice_ticks(x_lo, x_hi, 8) if x_lo <= x <= x_hi]
    chart.y_ticks = [Tick(sy(y), fmt_number(y, 2)) for y in y_ticks]
    for x0, x1, label in bands:
        a, b = max(x0, x_lo), min(x1, x_hi)
        if b > a:
            chart.bands.append(Band(sx(a), sx(b), label))
    for t in thresholds:
        y = sy(t.value)
        chart.rules.append(
            Rule(box.left, y, box.right, y, t.label, "rule-threshold", box.right - 4, y - 4, "end")
        )
    for e in events:
        if x_lo <= e.x <= x_hi:
            x = sx(e.x)
            chart.rules.append(Rule(x, box.top, x, box.bottom, e.label, e.css, x + 3, box.top + 10))
    total_points = len(xs)
    for s in series:
        for segment in _segments(s.points, gap):
            coords = " ".join(f"{sx(x)},{sy(y)}" for x, y in segment)
            chart.lines.append(Line(coords, s.css, s.label))
        if total_points <= max_markers:
            for i, (x, y) in enumerate(s.points):
                title_text = (
                    s.point_titles[i] if i < len(s.point_titles) else f"{s.label}: {fmt_number(y, 3)}"
                )
                failing = i < len(s.failing) and s.failing[i]
                css = f"{s.css} fail" if failing else s.css
                chart.markers.append(Marker(sx(x), sy(y), title_text, css, "✗" if failing else ""))
        chart.legend.append(LegendItem(s.label, s.css))
    for t in thresholds:
        chart.legend.append(LegendItem(t.label, "rule-threshold"))
    return chart


def _segments(points: Sequence[tuple[float, float]], gap: float | None) -> list[list[tuple[float, float]]]:
    segments: list[list[tuple[float, float]]] = []
    current: list[tuple[float, float]] = []
    for point in sorted(points):
        if current and gap is not None and point[0] - current[-1][0] > gap:
            segments.append(current)
            current = []
        current.append(point)
    if current:
        segments.append(current)
    return segments


def relative(when: datetime, anchor: datetime) -> float:
    """Seconds from ``anchor`` to ``when`` (naive datetimes are taken as UTC)."""
    return (as_utc(when) - as_utc(anchor)).total_seconds()
