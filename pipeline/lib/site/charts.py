"""Trend charts as plain geometry, drawn into inline SVG by the stats template.

No JavaScript and nothing fetched: the build computes coordinates; the template only writes
`<polyline>`s and labels (autoescaped like everything else). Long histories are averaged per
week or month so a chart keeps at most ~60 points however many days there are.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 14, 30
MAX_POINTS = 60
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


@dataclass(frozen=True)
class Series:
    name: str
    css: str  # class of the line: "photo" or "lookalike" or "measure"
    values: dict[str, float | None]  # bucket label → mean (None: no data that bucket)


def bucket_of(day: str, grain: str) -> str:
    d = date.fromisoformat(day)
    if grain == "week":
        return (d - timedelta(days=d.weekday())).isoformat()
    if grain == "month":
        return d.replace(day=1).isoformat()
    return day


def choose_grain(days: Sequence[str]) -> str:
    if len(days) <= MAX_POINTS:
        return "day"
    first, last = date.fromisoformat(days[0]), date.fromisoformat(days[-1])
    return "week" if (last - first).days / 7 <= MAX_POINTS else "month"


def bucket_means(per_day: dict[str, Sequence[float]], grain: str) -> dict[str, float | None]:
    """Mean per bucket from each day's (sum, count): a day with more pairs weighs more."""
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for day, (total, count) in per_day.items():
        bucket = sums[bucket_of(day, grain)]
        bucket[0] += total
        bucket[1] += count
    return {b: (total / count if count else None) for b, (total, count) in sums.items()}


def bucket_label(bucket: str, grain: str, *, with_year: bool = True) -> str:
    d = date.fromisoformat(bucket)
    if grain == "month":
        return f"{MONTHS[d.month - 1]} {d.year}"
    return f"{d.day} {MONTHS[d.month - 1]}" + (f" {d.year}" if with_year else "")


def nice_ticks(lo: float, hi: float, count: int = 4) -> list[float]:
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    # 1-2-5 steps only: a 2.5 step needs one more decimal than its neighbours (0.25, 0.5, 0.75)
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    start = math.floor(lo / step) * step
    ticks, value = [], start
    while value <= hi + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < hi:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _fmt(value: float, step: float) -> str:
    decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    return f"{value:.{decimals}f}"


def line_chart(
    title: str,
    buckets: Sequence[str],
    grain: str,
    series: Iterable[Series],
    *,
    unit: str = "",
    floor: float | None = None,
    ceiling: float | None = None,
) -> dict[str, Any] | None:
    """A chart model: lines, axis ticks and a text summary for screen readers, or None."""
    series = [s for s in series if any(v is not None for v in s.values.values())]
    if not buckets or not series:
        return None
    values = [v for s in series for v in s.values.values() if v is not None]
    ticks = _value_ticks(values, floor, ceiling)
    ordinals = tuple(date.fromisoformat(b).toordinal() for b in buckets)
    plot = _Plot(buckets, ordinals, ticks[0], ticks[-1])
    lines = [_line(s, plot) for s in series]
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    per = {"day": "per day", "week": "weekly means", "month": "monthly means"}[grain]
    summary = "; ".join(f"{line['name']} latest {line['last']}{unit}" for line in lines)
    return {
        "title": title,
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "top": TOP,
        "bottom": HEIGHT - BOTTOM,
        "lines": lines,
        "y_ticks": [{"y": round(plot.y(t), 1), "label": _fmt(t, step) + unit} for t in ticks],
        "x_ticks": _bucket_ticks(plot, grain),
        "description": (
            f"{title}, {per}, {bucket_label(buckets[0], grain)} to "
            f"{bucket_label(buckets[-1], grain)}: {summary}."
        ),
    }


def _value_ticks(values: list[float], floor: float | None, ceiling: float | None) -> list[float]:
    """The value axis: the values with a margin, from `floor` if given (a share from 0) and
    never above `ceiling` (a share stops at 100 %)."""
    lo, hi = min(values), max(values)
    if floor is not None:
        lo = min(lo, floor)
    pad = (hi - lo) * 0.08 or abs(hi) * 0.1 or 1.0
    top = hi + pad if ceiling is None else min(hi + pad, ceiling)
    return nice_ticks(lo - (0 if floor is not None and lo == floor else pad), top)


@dataclass(frozen=True)
class _Plot:
    """Where a bucket and a value fall in the plot area: buckets by date (a missing week
    leaves its gap), values between the axis' first and last tick."""

    buckets: Sequence[str]
    ordinals: tuple[int, ...]  # each bucket's date
    y0: float
    y1: float

    def x(self, i: int) -> float:
        plot_w = WIDTH - LEFT - RIGHT
        if len(self.buckets) == 1:
            return LEFT + plot_w / 2
        first, last = self.ordinals[0], self.ordinals[-1]
        return LEFT + plot_w * (self.ordinals[i] - first) / ((last - first) or 1)

    def y(self, v: float) -> float:
        return TOP + (HEIGHT - TOP - BOTTOM) * (1 - (v - self.y0) / (self.y1 - self.y0))


def _line(s: Series, plot: _Plot) -> dict[str, Any]:
    """One series: a polyline per run of buckets with a value, and its latest value."""
    buckets = plot.buckets
    segments: list[list[str]] = [[]]
    dots = []
    for i, b in enumerate(buckets):
        v = s.values.get(b)
        if v is None:
            if segments[-1]:
                segments.append([])
            continue
        segments[-1].append(f"{plot.x(i):.1f},{plot.y(v):.1f}")
        dots.append({"x": round(plot.x(i), 1), "y": round(plot.y(v), 1)})
    last = next((s.values[b] for b in reversed(buckets) if s.values.get(b) is not None), None)
    return {
        "name": s.name,
        "css": s.css,
        "segments": [" ".join(seg) for seg in segments if seg],
        "dots": dots if len(buckets) <= 40 else [],
        "last": _fmt(last, (plot.y1 - plot.y0) / 40) if last is not None else "",
    }


def _bucket_ticks(plot: _Plot, grain: str) -> list[dict[str, Any]]:
    """About six labelled buckets (the last too, if there are few), the year only where the
    chart spans more than one."""
    buckets = plot.buckets
    label_every = max(1, math.ceil(len(buckets) / 6))
    one_year = buckets[0][:4] == buckets[-1][:4]
    return [
        {"x": round(plot.x(i), 1), "label": bucket_label(b, grain, with_year=not one_year)}
        for i, b in enumerate(buckets)
        if i % label_every == 0 or (i == len(buckets) - 1 and len(buckets) <= 6)
    ]
