"""Line and bar charts as inline SVG, drawn on the server: no script, no chart library, nothing fetched.

A line chart is a few series of points over the windows (x is the window's position, labelled by its end
time); a point may carry an interval (``lower``/``upper``), drawn as a band behind its line. Every series is
one ``<path class="series">`` with ``data-points`` (how many points it drew), so a test can tell a drawn
chart from an empty frame. A bar chart is one horizontal ``<rect class="bar">`` per label (with a whisker
when the bar has a spread), its ``<svg>`` saying ``data-bars``. Names come from the data, so they are
escaped.

>>> svg = line_chart([Series("accuracy", [Point(0, 0.9), Point(1, 0.8, 0.75, 0.85)])], ["w1", "w2"])
>>> 'data-points="2"' in svg, "<path" in svg
(True, True)
>>> "No data" in line_chart([], [])
True
>>> bars = bar_chart([Bar("age", 0.6), Bar("salary", -0.01, spread=0.02)], title="drop")
>>> 'data-bars="2"' in bars, bars.count('class="whisker"')
(True, 1)
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["PALETTE", "Bar", "Point", "Series", "bar_chart", "line_chart"]

PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#9d755d", "#bab0ac")


@dataclass(frozen=True)
class Point:
    x: int
    y: float
    lower: float | None = None
    upper: float | None = None


@dataclass
class Series:
    name: str
    points: list[Point] = field(default_factory=list)
    dashed: bool = False


@dataclass(frozen=True)
class Bar:
    """One bar: ``value`` from zero, and ``spread`` drawn as a whisker of plus or minus it."""

    label: str
    value: float
    spread: float | None = None


def _finite(v: float | None) -> bool:
    return v is not None and math.isfinite(v)


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1000 or abs(v) < 0.01:
        return f"{v:.2g}"
    return f"{v:.3g}"


def line_chart(
    series: Sequence[Series],
    labels: Sequence[str],
    *,
    title: str = "",
    width: int = 560,
    height: int = 220,
    y_range: tuple[float, float] | None = None,
    rule: float | None = None,
    rule_label: str = "",
) -> str:
    """An SVG line chart of ``series`` over ``labels`` (one per x position); ``rule`` draws a dashed
    horizontal line (a threshold). Returns markup ready to embed in a page."""
    esc = html.escape
    drawn = [s for s in series if any(_finite(p.y) for p in s.points)]
    if not drawn or not labels:
        return _empty(title, width)
    values = [
        v for s in drawn for p in s.points for v in (p.y, p.lower, p.upper) if v is not None and _finite(v)
    ]
    if rule is not None:
        values.append(rule)
    lo, hi = y_range if y_range is not None else (min(values), max(values))
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    left, right, top, bottom = 48, 12, 10, 34
    legend_h = 18 * ((len(drawn) + 2) // 3)
    plot_w, plot_h = width - left - right, height - top - bottom
    total_h = height + legend_h
    n = len(labels)

    def sx(x: int) -> float:
        return left + (plot_w * (x / (n - 1)) if n > 1 else plot_w / 2)

    def sy(y: float) -> float:
        y = min(max(y, lo), hi)
        return top + plot_h * (1 - (y - lo) / (hi - lo))

    out = [
        f'<svg class="chart" role="img" aria-label="{esc(title)}" width="{width}" height="{total_h}" '
        f'viewBox="0 0 {width} {total_h}" data-series="{len(drawn)}">'
    ]
    for i in range(5):  # grid and y ticks
        y = lo + (hi - lo) * i / 4
        out.append(
            f'<line x1="{left}" x2="{width - right}" y1="{sy(y):.1f}" y2="{sy(y):.1f}" class="grid"/>'
            f'<text x="{left - 4}" y="{sy(y) + 4:.1f}" class="tick" text-anchor="end">{_fmt(y)}</text>'
        )
    step = max(1, math.ceil(n / 6))
    for x in range(0, n, step):  # x ticks; the first and last stay inside the frame
        anchor = "start" if x == 0 and n > 1 else "end" if x == n - 1 and n > 1 else "middle"
        out.append(
            f'<text x="{sx(x):.1f}" y="{top + plot_h + 16}" class="tick" text-anchor="{anchor}">'
            f"{esc(labels[x])}</text>"
        )
    if rule is not None:
        out.append(
            f'<line x1="{left}" x2="{width - right}" y1="{sy(rule):.1f}" y2="{sy(rule):.1f}" class="rule"/>'
            f'<text x="{width - right}" y="{sy(rule) - 4:.1f}" class="tick" text-anchor="end">'
            f"{esc(rule_label)}</text>"
        )
    for i, s in enumerate(drawn):
        colour = PALETTE[i % len(PALETTE)]
        pts = [p for p in s.points if _finite(p.y)]
        band = [p for p in pts if _finite(p.lower) and _finite(p.upper)]
        if len(band) >= 2:
            upper = " ".join(f"{sx(p.x):.1f},{sy(p.upper or 0):.1f}" for p in band)
            lower = " ".join(f"{sx(p.x):.1f},{sy(p.lower or 0):.1f}" for p in reversed(band))
            out.append(f'<polygon class="band" points="{upper} {lower}" fill="{colour}"/>')
        d = " ".join(f"{'M' if j == 0 else 'L'}{sx(p.x):.1f},{sy(p.y):.1f}" for j, p in enumerate(pts))
        dash = ' stroke-dasharray="5 3"' if s.dashed else ""
        out.append(
            f'<path class="series" d="{d}" stroke="{colour}" data-name="{esc(s.name)}" '
            f'data-points="{len(pts)}"{dash}><title>{esc(s.name)}</title></path>'
        )
        for p in pts if len(drawn) <= 3 else ():  # a point's own tooltip; many series: the line's only
            interval = (
                f" [{_fmt(p.lower)}, {_fmt(p.upper)}]" if p.lower is not None and p.upper is not None else ""
            )
            out.append(
                f'<circle cx="{sx(p.x):.1f}" cy="{sy(p.y):.1f}" r="2.5" fill="{colour}">'
                f"<title>{esc(s.name)} @ {esc(labels[p.x])}: {_fmt(p.y)}{interval}</title></circle>"
            )
        lx, ly = 8 + (i % 3) * (width // 3), height + 12 + 18 * (i // 3)
        out.append(
            f'<rect x="{lx}" y="{ly - 9}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{lx + 14}" y="{ly}" class="legend">{esc(s.name[:40])}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _empty(title: str, width: int) -> str:
    return (
        f'<svg class="chart empty" role="img" aria-label="{html.escape(title)}: no data" width="{width}" '
        f'height="60" viewBox="0 0 {width} 60"><text x="8" y="34" class="muted">No data yet</text></svg>'
    )


def bar_chart(bars: Sequence[Bar], *, title: str = "", width: int = 560, percent: bool = False) -> str:
    """Horizontal bars from zero (a negative value goes left of the zero line), one per :class:`Bar` in the
    order given, each labelled with its value (``percent``: as a percentage) and its spread."""
    esc = html.escape
    shown = [b for b in bars if _finite(b.value)]
    if not shown:
        return _empty(title, width)
    label_w, value_w, row_h, top = 130, 96, 20, 6
    spreads = [b.spread if b.spread is not None and _finite(b.spread) else 0.0 for b in shown]
    lo = min(0.0, *(b.value - s for b, s in zip(shown, spreads, strict=True)))
    hi = max(0.0, *(b.value + s for b, s in zip(shown, spreads, strict=True)))
    if hi - lo < 1e-12:
        hi = lo + 1.0
    plot_w = width - label_w - value_w
    height = top * 2 + row_h * len(shown)

    def sx(v: float) -> float:
        return label_w + plot_w * (v - lo) / (hi - lo)

    def text(v: float) -> str:
        return f"{100 * v:.1f}%" if percent else _fmt(v)

    zero = sx(0.0)
    out = [
        f'<svg class="chart bars" role="img" aria-label="{esc(title)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" data-bars="{len(shown)}">'
    ]
    for i, (b, s) in enumerate(zip(shown, spreads, strict=True)):
        y = top + i * row_h
        x0, x1 = sorted((zero, sx(b.value)))
        spread = f" ± {text(s)}" if b.spread is not None and _finite(b.spread) else ""
        out.append(
            f'<text x="{label_w - 6}" y="{y + 14}" class="legend" text-anchor="end">{esc(b.label[:24])}</text>'
            f'<rect class="bar" x="{x0:.1f}" y="{y + 4}" width="{max(x1 - x0, 0.5):.1f}" height="12" '
            f'fill="{PALETTE[0]}" data-value="{b.value:.6g}"><title>{esc(b.label)}: {text(b.value)}{spread}'
            "</title></rect>"
        )
        if spread:
            a, c, m = sx(b.value - s), sx(b.value + s), y + 10
            out.append(
                f'<path class="whisker" d="M{a:.1f},{m - 4}V{m + 4}M{a:.1f},{m}H{c:.1f}M{c:.1f},{m - 4}V{m + 4}"/>'
            )
        out.append(
            f'<text x="{width - 4}" y="{y + 14}" class="tick" text-anchor="end">{text(b.value)}{spread}</text>'
        )
    out.append(f'<line class="axis" x1="{zero:.1f}" x2="{zero:.1f}" y1="{top}" y2="{height - top}"/>')
    out.append("</svg>")
    return "".join(out)
