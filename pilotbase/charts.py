"""Server-rendered SVG charts: the geometry here, drawn by ``BarChart.svg`` and the burn-up macro in
``templates/dashboard/_charts.html``.

No JavaScript and no chart library. A chart is a dataclass of coordinates (in the SVG's own
user units; the SVG scales to its box) drawn as inline SVG with a title, a description and,
beside it, a data table that says the same in numbers. The burn-up is drawn by a Jinja macro;
bar charts (a dozen a page, four elements a bar) by ``BarChart.svg``, where every text (labels
are data) goes through ``html.escape`` before ``markup.joined`` makes the whole ``Markup``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Callable, Iterable, Sequence

from markupsafe import Markup

from .markup import escape, joined

Formatter = Callable[[float], str]


def plain(value: float) -> str:
    """A count as a whole number, anything else with one decimal."""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _r(value: float) -> float:
    return round(value, 1)


# --- horizontal bars --------------------------------------------------------------------------

@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str  # the value as printed at the end of the bar
    label_y: float  # baseline of the label, above its bar
    y: float  # top of the bar
    width: float
    text_x: float
    text_y: float


@dataclass(frozen=True)
class BarChart:
    width: float
    height: float
    bar_height: float
    bars: tuple[Bar, ...]
    max_value: float

    @property
    def empty(self) -> bool:
        return not any(bar.value for bar in self.bars)

    def svg(self, id: str, title: str, desc: str) -> Markup:
        """The chart as inline SVG: ``role="img"`` named by its ``<title>`` and ``<desc>``; each bar
        a label above it, the bar (none for zero), a base line and the value at its end."""
        i, h = escape(str(id)), self.bar_height
        parts = [f'<svg class="chart bar-chart" role="img" aria-labelledby="{i}-title {i}-desc"\n'
                 f'     viewBox="0 0 {self.width} {self.height}" width="{self.width}" height="{self.height}">\n'
                 f'  <title id="{i}-title">{escape(str(title))}</title>\n  <desc id="{i}-desc">{escape(str(desc))}</desc>']
        for bar in self.bars:
            rect = (f'<rect class="bar" x="0" y="{bar.y}" width="{bar.width}" height="{h}"/>\n    '
                    if bar.width > 0 else "")
            parts.append(f'    <text class="bar-label" x="0" y="{bar.label_y}">{escape(bar.label)}</text>\n    {rect}'
                         f'<line class="bar-base" x1="0" x2="0" y1="{bar.y}" y2="{bar.y + h}"/>\n'
                         f'    <text class="bar-value" x="{bar.text_x}" y="{bar.text_y}">{escape(bar.text)}</text>')
        parts.append("</svg>")
        return joined(parts, "\n")


def bar_chart(items: Iterable[tuple[str, float]], *, fmt: Formatter = plain, max_value: float | None = None,
              width: float = 480, bar_height: float = 14, label_height: float = 16, gap: float = 10,
              value_width: float = 72) -> BarChart:
    """Horizontal bars, one per ``(label, value)``, scaled to the largest value (or ``max_value``,
    e.g. 100 for percentages). Each label sits above its bar, so long labels need no truncation.
    Negative values draw as empty bars; an all-zero chart has no bars to scale (and no division)."""
    rows = [(str(text), max(0.0, float(value or 0))) for text, value in items]
    scale_to = max(max_value or 0.0, max((v for _, v in rows), default=0.0))
    plot = width - value_width
    bars, y = [], 0.0
    for text, value in rows:
        length = plot * min(value, scale_to) / scale_to if scale_to > 0 else 0.0
        top = y + label_height
        bars.append(Bar(label=text, value=value, text=fmt(value), label_y=_r(y + label_height - 4), y=_r(top),
                        width=_r(length), text_x=_r(length + 4), text_y=_r(top + bar_height - 3)))
        y += label_height + bar_height + gap
    return BarChart(width=width, height=_r(max(y - gap, 1.0)), bar_height=bar_height, bars=tuple(bars),
                    max_value=scale_to)


# --- the burn-up line chart -------------------------------------------------------------------

@dataclass(frozen=True)
class Point:
    x: float
    y: float


@dataclass(frozen=True)
class Tick:
    at: float  # x for the date axis, y for the value axis
    text: str


def path(points: Sequence[Point]) -> str:
    """An SVG path through ``points`` ("" for none)."""
    return " ".join(f"{'M' if i == 0 else 'L'}{p.x} {p.y}" for i, p in enumerate(points))


@dataclass(frozen=True)
class LineChart:
    width: float
    height: float
    left: float
    top: float
    right: float
    bottom: float
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    actual: tuple[Point, ...]
    required: tuple[Point, ...]
    projection: tuple[Point, ...]  # empty, or from today's value towards the goal on the projected date
    goal_y: float | None
    today_x: float | None

    @property
    def actual_path(self) -> str:
        return path(self.actual)

    @property
    def required_path(self) -> str:
        return path(self.required)

    @property
    def projection_path(self) -> str:
        return path(self.projection)


def nice_step(span: float, ticks: int = 5) -> float:
    """A round step (1, 2 or 5 × 10ⁿ) that divides ``span`` into the number of parts nearest ``ticks``."""
    if span <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(span / ticks))
    steps = [factor * power for factor in (1, 2, 5, 10)]
    return min(steps, key=lambda step: (abs(math.ceil(span / step) - ticks), -step))


def _month_starts(first: date, last: date) -> list[date]:
    out, month = [], first.replace(day=1)
    if month < first:
        month = (month + timedelta(days=32)).replace(day=1)
    while month <= last:
        out.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return out


def burn_up(points: Sequence[tuple[date, float | None, float]], *, start: tuple[date, float] | None = None,
            goal: float | None = None, today: tuple[date, float] | None = None, projected: date | None = None,
            fmt: Formatter = plain, width: float = 560, height: float = 260, max_x_ticks: int = 6) -> LineChart:
    """Actual against required over dates: ``points`` are ``(day, actual or None, required)`` in date
    order (actual stops at today: None after). ``start`` adds the trajectory's first point
    (start date, baseline); ``today`` and ``projected`` draw a dashed projection from today's value
    towards ``goal`` on the projected date, clipped at the right edge when it lies far beyond the
    deadline (the axis stretches by at most half its span to show it)."""
    left, top, right_margin, bottom_margin = 48.0, 12.0, 12.0, 28.0
    right, bottom = width - right_margin, height - bottom_margin
    days = [d for d, _, _ in points] + ([start[0]] if start else []) + ([today[0]] if today else [])
    if not days:  # nothing to draw: axes over an arbitrary day
        days = [date(2000, 1, 1)]
    lo, hi = min(days), max(days)
    if projected is not None and today is not None and goal is not None and projected > hi:
        hi = min(projected, hi + timedelta(days=max(1, (hi - lo).days // 2)))
    span = max((hi - lo).days, 1)

    values = [v for _, v, _ in points if v is not None] + [r for _, _, r in points]
    values += [goal or 0.0] + ([start[1]] if start else []) + ([today[1]] if today else [])
    step = max(nice_step(max(max(values, default=0.0), 1.0)), 1.0)  # counts never need fractional ticks
    top_value = step * math.ceil(max(max(values, default=0.0), 1.0) / step)

    def x(day: date) -> float:
        return _r(left + (right - left) * (day - lo).days / span)

    def y(value: float) -> float:
        return _r(bottom - (bottom - top) * max(0.0, min(value, top_value)) / top_value)

    actual = tuple(Point(x(d), y(v)) for d, v, _ in points if v is not None)
    required = tuple(([Point(x(start[0]), y(start[1]))] if start else []) + [Point(x(d), y(r)) for d, _, r in points])
    projection: tuple[Point, ...] = ()
    if today is not None and projected is not None and goal is not None and projected > today[0]:
        end_day, end_value = projected, goal
        if projected > hi:  # clip the straight line at the right edge
            share = (hi - today[0]).days / (projected - today[0]).days
            end_day, end_value = hi, today[1] + (goal - today[1]) * share
        projection = (Point(x(today[0]), y(today[1])), Point(x(end_day), y(end_value)))

    months = _month_starts(lo, hi)
    every = max(1, math.ceil(len(months) / max_x_ticks))
    x_ticks = tuple(Tick(x(m), m.strftime("%Y-%m")) for m in months[::every])
    y_ticks = tuple(Tick(y(step * i), fmt(step * i)) for i in range(int(round(top_value / step)) + 1))
    return LineChart(width=width, height=height, left=left, top=top, right=right, bottom=bottom, x_ticks=x_ticks,
                     y_ticks=y_ticks, actual=actual, required=required, projection=projection,
                     goal_y=y(goal) if goal is not None else None, today_x=x(today[0]) if today else None)
