"""The over-time chart drawn as a small inline SVG on the server: geometry here, markup in a template include.

Each time bucket gets a group of bars (sent, delivered, read, failed in that bucket), so a send that finished reads
as bars that stop, not as a line falling towards zero like a decline; the unit ("messages per minute") is on the
axis."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

WIDTH, HEIGHT = 640, 180
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 44, 8, 8, 22
SERIES = (("sent", "Sent"), ("delivered", "Delivered"), ("read", "Read"), ("failed", "Failed"))
# The share of a bucket's width its bars fill (the rest separates the buckets).
GROUP_FILL = 0.8
MAX_BAR_WIDTH = 14


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: int
    when: str


@dataclass(frozen=True)
class Series:
    key: str
    label: str
    bars: list[Bar]  # only the buckets with a non-zero count
    total: int


@dataclass(frozen=True)
class TimelineChart:
    width: int
    height: int
    series: list[Series]
    peak: int
    bucket_label: str
    first_label: str
    last_label: str
    baseline: float
    left: float
    right: float

    @property
    def empty(self) -> bool:
        return not self.series

    @property
    def unit(self) -> str:
        return f"messages {self.bucket_label}"


def _bucket_label(seconds: int) -> str:
    if seconds % 86400 == 0:
        days = seconds // 86400
        return "per day" if days == 1 else f"per {days} days"
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return "per hour" if hours == 1 else f"per {hours} hours"
    minutes = seconds // 60
    return "per minute" if minutes == 1 else f"per {minutes} minutes"


def _time_label(iso: str, seconds: int) -> str:
    moment = timezone.localtime(datetime.fromisoformat(iso))
    return moment.strftime("%d %b %H:%M" if seconds < 86400 else "%d %b")


def timeline_chart(timeline: dict[str, Any] | None) -> TimelineChart:
    """Bars per bucket for each series of `campaigns.selectors.campaign_timeline`'s result, scaled to the busiest."""
    points = (timeline or {}).get("points") or []
    seconds = int((timeline or {}).get("bucket_seconds") or 60)
    left, right = PAD_LEFT, WIDTH - PAD_RIGHT
    top, bottom = PAD_TOP, HEIGHT - PAD_BOTTOM
    if not points:
        return TimelineChart(WIDTH, HEIGHT, [], 0, _bucket_label(seconds), "", "", bottom, left, right)
    peak = max(max(int(p.get(key, 0)) for p in points) for key, _ in SERIES)
    scale_y = (bottom - top) / max(peak, 1)
    slot = (right - left) / len(points)
    # Thin bars however few the buckets: one minute of sending is not a wall across the chart.
    bar_width = min(slot * GROUP_FILL / len(SERIES), MAX_BAR_WIDTH)
    offset = (slot - bar_width * len(SERIES)) / 2
    series = []
    for index, (key, label) in enumerate(SERIES):
        bars = []
        for i, point in enumerate(points):
            value = int(point.get(key, 0))
            if not value:
                continue
            height = value * scale_y
            x = left + i * slot + offset + index * bar_width
            when = _time_label(point["at"], seconds)
            bars.append(Bar(round(x, 1), round(bottom - height, 1), round(bar_width, 1), round(height, 1), value, when))
        series.append(Series(key, label, bars, sum(int(p.get(key, 0)) for p in points)))
    return TimelineChart(
        width=WIDTH,
        height=HEIGHT,
        series=series,
        peak=peak,
        bucket_label=_bucket_label(seconds),
        first_label=_time_label(points[0]["at"], seconds),
        last_label=_time_label(points[-1]["at"], seconds),
        baseline=bottom,
        left=left,
        right=right,
    )
