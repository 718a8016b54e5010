"""Small inline SVG charts for pages that must open offline without a script: grouped bars,
a sparkline, and a rep-against-the-team pair of bars. Formatting only."""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence

from engine.core.text import money

__all__ = ["BLUE", "GREEN", "GREY", "RED", "bar_chart", "sparkline", "versus"]


def _e(x: object) -> str:
    return html.escape(str(x), quote=True)


BLUE, GREY, GREEN, RED = "#0969da", "#8c959f", "#1a7f37", "#cf222e"


def _svg(width: int, height: int, body: str, title: str, cls: str = "chart") -> str:
    return (f'<svg class="{cls}" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{_e(title)}"><title>{_e(title)}</title>'
            f"{body}</svg>")


def bar_chart(labels: Sequence[str], series: Sequence[tuple[str, str, Sequence[float]]], title: str,
              fmt: Callable[[float], str], width: int = 520, height: int = 230,
              marks: Sequence[str] | None = None) -> str:
    """Grouped vertical bars: ``series`` is ``(name, colour, values)``; ``fmt`` formats a
    value for its tooltip (the axis shows whole numbers); ``marks`` are texts shown above each
    group (grades)."""
    left, right, top, bottom = 70, 12, 40, 44
    w, h = width - left - right, height - top - bottom
    values = [v for _, _, vs in series for v in vs if math.isfinite(v)]
    hi = max([0.0, *values]) or 1.0
    lo = min([0.0, *values])
    span = hi - lo or 1.0

    def y(v: float) -> float:
        return top + h * (hi - v) / span

    n, k = max(len(labels), 1), max(len(series), 1)
    group = w / n
    bar = min(group * 0.8 / k, 60)
    parts = [f'<text x="{left}" y="16" font-size="13" font-weight="600" fill="#1f2328">{_e(title)}</text>']
    for tick in (lo, (lo + hi) / 2, hi):
        parts.append(f'<line x1="{left}" x2="{left + w}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#eaeef2"/>'
                     f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" font-size="11" text-anchor="end" '
                     f'fill="#57606a">{_e(money(tick))}</text>')
    for i, label in enumerate(labels):
        x0 = left + group * i + (group - bar * k) / 2
        for j, (name, colour, vs) in enumerate(series):
            v = vs[i]
            if not math.isfinite(v):
                continue
            y0, y1 = sorted((y(0.0), y(v)))
            parts.append(f'<rect x="{x0 + j * bar:.1f}" y="{y0:.1f}" width="{bar - 2:.1f}" '
                         f'height="{max(y1 - y0, 1):.1f}" fill="{colour}"><title>{_e(name)} {_e(label)}: '
                         f"{_e(fmt(v))}</title></rect>")
        parts.append(f'<text x="{left + group * i + group / 2:.1f}" y="{top + h + 16}" font-size="12" '
                     f'text-anchor="middle" fill="#1f2328">{_e(label)}</text>')
        if marks:
            tops = [y(max(vs[i], 0.0)) for _, _, vs in series if math.isfinite(vs[i])]
            parts.append(f'<text x="{left + group * i + group / 2:.1f}" y="{min(tops, default=top) - 4:.1f}" '
                         'font-size="12" '
                         f'font-weight="700" text-anchor="middle" fill="#57606a">{_e(marks[i])}</text>')
    lx = left
    for name, colour, _ in series:
        parts.append(f'<rect x="{lx}" y="{height - 14}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{lx + 14}" y="{height - 5}" font-size="12" fill="#1f2328">{_e(name)}</text>')
        lx += 24 + 8 * len(name) if all(ord(c) < 256 for c in name) else 24 + 14 * len(name)
    parts.append(f'<line x1="{left}" x2="{left + w}" y1="{y(0.0):.1f}" y2="{y(0.0):.1f}" stroke="#57606a"/>')
    return _svg(width, height, "".join(parts), title)


def sparkline(values: Sequence[float], title: str, width: int = 110, height: int = 30) -> str:
    """The rep's values over the periods as a small line (gaps where unknown)."""
    pts = [(i, v) for i, v in enumerate(values) if math.isfinite(v)]
    body = ""
    if pts:
        lo, hi = min(v for _, v in pts), max(v for _, v in pts)
        span = hi - lo or 1.0
        step = (width - 8) / max(len(values) - 1, 1)

        def xy(i: int, v: float) -> tuple[float, float]:
            return 4 + i * step, height - 5 - (height - 10) * ((v - lo) / span if hi > lo else 0.5)

        coords = [xy(i, v) for i, v in pts]
        body = (f'<polyline fill="none" stroke="{BLUE}" stroke-width="2" points="'
                + " ".join(f"{x:.1f},{y:.1f}" for x, y in coords) + '"/>')
        body += "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{BLUE}"/>' for x, y in coords)
        x, y = coords[-1]
        body += f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{BLUE}"/>'
    return _svg(width, height, body, title, cls="chart spark")


def versus(value: float, median: float, good: bool | None, title: str, width: int = 160, height: int = 30) -> str:
    """Two horizontal bars: the rep (coloured by better/worse) and the team median (grey)."""
    vals = [v for v in (value, median) if math.isfinite(v)]
    top = max([abs(v) for v in vals] + [0.0]) or 1.0
    colour = BLUE if good is None else (GREEN if good else RED)

    def bar(v: float, y: float, c: str) -> str:
        if not math.isfinite(v):
            return ""
        return f'<rect x="2" y="{y}" width="{max(abs(v) / top * (width - 4), 1.5):.1f}" height="10" fill="{c}"/>'

    return _svg(width, height, bar(value, 3, colour) + bar(median, 17, GREY), title, cls="chart versus")
