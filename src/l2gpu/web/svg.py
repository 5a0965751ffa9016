"""Charts as inline SVG, drawn on the server: no script, nothing to download.

    line_chart   lines (or dots) over a numeric x axis, shaded bands, labelled markers
    bar_chart    one bar per category, on a linear or a log scale

Every text (titles, axis labels, series names, tick labels) is escaped here, so a
name read from a data file cannot become markup. Colours and strokes come from the
console's stylesheet by class (``c0`` .. ``c5``), so a chart weighs only its points;
lines are thinned to at most ``MAX_POINTS`` points each, bounding a page's size.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 280
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 40, 48
MAX_POINTS = 400  # per line: a screen is ~600 px wide, more points draw nothing new
CHAR_PX = 6.5  # rough width of one character at the charts' 11 px font, for layout


@dataclass(frozen=True)
class Line:
    """One series: ``ys`` over ``xs``; ``dots``: draw points, not a line."""

    name: str
    xs: Iterable[float]
    ys: Iterable[float]
    dots: bool = False
    dashed: bool = False


@dataclass(frozen=True)
class Band:
    """A shaded interval from ``lo`` to ``hi`` over ``xs`` (a prediction interval)."""

    name: str
    xs: Iterable[float]
    lo: Iterable[float]
    hi: Iterable[float]


@dataclass(frozen=True)
class Marker:
    """A labelled vertical line at ``x`` (where a Rogers segment starts)."""

    x: float
    label: str


@dataclass(frozen=True)
class Axes:
    """What the axes say: the labels, and tick labels for chosen x positions (None:
    round numbers)."""

    x_label: str
    y_label: str
    x_ticks: Sequence[tuple[float, str]] | None = None
    y_floor: float | None = None  # draw the y axis from here (0 for counts and shares)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick positions covering [low, high]: steps of 1, 2 or 5 times a power of ten."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low] if math.isfinite(low) else []
    raw = (high - low) / max(count, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9) * step
    ticks = []
    tick = first
    while tick <= high + step * 1e-9:
        ticks.append(0.0 if abs(tick) < step * 1e-9 else tick)
        tick += step
    return ticks


def number(value: float) -> str:
    """A tick's number, short: 1.5k, 2M, 0.25."""
    size = abs(value)
    for limit, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if size >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}"


def thin(
    xs: Iterable[float], ys: Iterable[float], limit: int = MAX_POINTS
) -> list[tuple[float, float]]:
    """At most ``limit`` points of a series, evenly spaced, the last one kept; points
    that are not finite (a gap in the data) are dropped."""
    pairs = [(float(x), float(y)) for x, y in zip(xs, ys, strict=True)]
    pairs = [(x, y) for x, y in pairs if math.isfinite(x) and math.isfinite(y)]
    if len(pairs) <= limit:
        return pairs
    stride = len(pairs) / (limit - 1)
    return [pairs[int(i * stride)] for i in range(limit - 1)] + [pairs[-1]]


class _Frame:
    """Maps data coordinates to the drawing's pixels."""

    def __init__(
        self, x_range: tuple[float, float], y_range: tuple[float, float], log: bool = False
    ) -> None:
        self.x0, self.x1 = x_range if x_range[1] > x_range[0] else (x_range[0], x_range[0] + 1)
        self.y0, self.y1 = y_range if y_range[1] > y_range[0] else (y_range[0], y_range[0] + 1)
        self.log = log

    def px(self, x: float) -> float:
        return LEFT + (x - self.x0) / (self.x1 - self.x0) * (WIDTH - LEFT - RIGHT)

    def py(self, y: float) -> float:
        if self.log:
            y, low, high = math.log10(max(y, 1e-300)), math.log10(self.y0), math.log10(self.y1)
        else:
            low, high = self.y0, self.y1
        return HEIGHT - BOTTOM - (y - low) / (high - low) * (HEIGHT - TOP - BOTTOM)


def _svg(title: str, body: list[str], legend: Sequence[str], axes: Axes, css: str) -> Markup:
    items, x = [], float(WIDTH - RIGHT)
    for index, name in reversed(list(enumerate(legend))):
        x -= CHAR_PX * len(name) + 22
        items.append(
            f'<g class="legend-item c{index % 6}"><rect x="{x:.0f}" y="8" width="10" '
            f'height="10"/><text x="{x + 14:.0f}" y="17">{escape(name)}</text></g>'
        )
    plot_bottom, mid_y = HEIGHT - BOTTOM, (TOP + HEIGHT - BOTTOM) / 2
    parts = [
        f'<svg class="chart {css}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<text class="chart-title" x="{LEFT}" y="17">{escape(title)}</text>',
        *items,
        f'<line class="axis" x1="{LEFT}" y1="{plot_bottom}" x2="{WIDTH - RIGHT}" '
        f'y2="{plot_bottom}"/>',
        f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{plot_bottom}"/>',
        *body,
        f'<text class="axis-label x-label" x="{(LEFT + WIDTH - RIGHT) / 2:.0f}" '
        f'y="{HEIGHT - 8}" text-anchor="middle">{escape(axes.x_label)}</text>',
        f'<text class="axis-label y-label" x="14" y="{mid_y:.0f}" text-anchor="middle" '
        f'transform="rotate(-90 14 {mid_y:.0f})">{escape(axes.y_label)}</text>',
        "</svg>",
    ]
    return Markup("\n".join(parts))  # noqa: S704 - every text above went through escape()


def _y_ticks(frame: _Frame, ticks: list[float]) -> list[str]:
    out = []
    for tick in ticks:
        y = frame.py(tick)
        out.append(
            f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" '
            f'y2="{y:.1f}"/><text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" '
            f'text-anchor="end">{escape(number(tick))}</text>'
        )
    return out


def _x_ticks(frame: _Frame, ticks: Sequence[tuple[float, str]]) -> list[str]:
    out = []
    for position, label in ticks:
        if not frame.x0 <= position <= frame.x1:
            continue
        x = frame.px(position)
        half = CHAR_PX * len(label) / 2  # a label at an edge reads inward, not off the chart
        anchor = "end" if x + half > WIDTH else "start" if x - half < 0 else "middle"
        out.append(
            f'<line class="tick-mark" x1="{x:.1f}" y1="{HEIGHT - BOTTOM}" x2="{x:.1f}" '
            f'y2="{HEIGHT - BOTTOM + 4}"/><text class="tick" x="{x:.1f}" '
            f'y="{HEIGHT - BOTTOM + 16}" text-anchor="{anchor}">{escape(label)}</text>'
        )
    return out


def line_chart(
    title: str,
    axes: Axes,
    lines: Sequence[Line],
    bands: Sequence[Band] = (),
    markers: Sequence[Marker] = (),
) -> Markup:
    """Lines (or dots) and shaded bands over a shared numeric x axis, with vertical
    markers; the legend names the lines, then the bands."""
    thinned = [thin(line.xs, line.ys) for line in lines]
    shaded = [(thin(b.xs, b.lo), thin(b.xs, b.hi)) for b in bands]
    xs = [x for points in thinned for x, _ in points] + [x for lo, _ in shaded for x, _ in lo]
    ys = [y for points in thinned for _, y in points]
    ys += [y for lo, hi in shaded for _, y in lo + hi]
    if not xs or not ys:
        return _svg(title, ['<text class="empty" x="200" y="140">no data</text>'], [], axes, "line")
    y_low = min(ys) if axes.y_floor is None else min(axes.y_floor, min(ys))
    y_ticks = nice_ticks(y_low, max(ys))
    frame = _Frame((min(xs), max(xs)), (min(y_ticks[0], y_low), max(y_ticks[-1], max(ys))))
    x_ticks = axes.x_ticks
    if x_ticks is None:
        x_ticks = [(t, number(t)) for t in nice_ticks(frame.x0, frame.x1, 6)]
    body = _y_ticks(frame, y_ticks) + _x_ticks(frame, x_ticks)
    for index, (lo, hi) in enumerate(shaded):
        points = [*lo, *reversed(hi)]
        path = " ".join(f"{frame.px(x):.1f},{frame.py(y):.1f}" for x, y in points)
        body.append(f'<polygon class="band c{(len(lines) + index) % 6}" points="{path}"/>')
    for index, (line, points) in enumerate(zip(lines, thinned, strict=True)):
        css = f"c{index % 6}"
        if line.dots:
            body.append(
                f'<g class="dots {css}">'
                + "".join(
                    f'<circle cx="{frame.px(x):.1f}" cy="{frame.py(y):.1f}" r="2.2"/>'
                    for x, y in points
                )
                + "</g>"
            )
        else:
            path = " ".join(f"{frame.px(x):.1f},{frame.py(y):.1f}" for x, y in points)
            dash = " dashed" if line.dashed else ""
            body.append(f'<polyline class="series {css}{dash}" fill="none" points="{path}"/>')
    for marker in markers:
        if frame.x0 <= marker.x <= frame.x1:
            x = frame.px(marker.x)
            body.append(
                f'<g class="marker"><line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" '
                f'y2="{HEIGHT - BOTTOM}"/><text x="{x - 3:.1f}" y="{TOP + 4}" '
                f'transform="rotate(-90 {x - 3:.1f} {TOP + 4})" text-anchor="end">'
                f"{escape(marker.label)}</text></g>"
            )
    legend = [line.name for line in lines] + [band.name for band in bands]
    return _svg(title, body, legend, axes, "line")


def bar_chart(
    title: str, axes: Axes, labels: Sequence[str], values: Sequence[float], *, log: bool = False
) -> Markup:
    """One bar per label; ``log``: on a log scale (values spanning powers of ten),
    where a value at or below zero has no bar."""
    shown = [float(v) for v in values]
    if not shown:
        return _svg(title, ['<text class="empty" x="200" y="140">no data</text>'], [], axes, "bar")
    if log:
        positive = [v for v in shown if v > 0] or [1.0]
        low = 10.0 ** math.floor(math.log10(min(positive)))
        high = 10.0 ** math.ceil(math.log10(max(positive)))
        frame = _Frame((0, len(shown)), (low, high), log=True)
        y_ticks = [10.0**p for p in range(round(math.log10(low)), round(math.log10(high)) + 1)]
    else:
        y_ticks = nice_ticks(min(0.0, min(shown)), max(shown))
        frame = _Frame((0, len(shown)), (y_ticks[0], max(y_ticks[-1], max(shown))))
    body = _y_ticks(frame, y_ticks)
    width = (WIDTH - LEFT - RIGHT) / len(shown)
    base = frame.py(frame.y0 if log else max(frame.y0, 0.0))
    for index, (label, value) in enumerate(zip(labels, shown, strict=True)):
        x = LEFT + index * width
        centre = x + width / 2
        body.append(
            f'<text class="tick" x="{centre:.1f}" y="{HEIGHT - BOTTOM + 16}" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
        if log and value <= 0:
            continue
        top = frame.py(value)
        y, height = min(top, base), abs(base - top)
        body.append(
            f'<rect class="bar c0" x="{x + width * 0.15:.1f}" y="{y:.1f}" '
            f'width="{width * 0.7:.1f}" height="{height:.1f}"><title>'
            f"{escape(label)}: {escape(f'{value:,.6g}')}</title></rect>"
        )
    return _svg(title, body, [], axes, "bar")
