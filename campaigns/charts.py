"""The over-time chart drawn as a small inline SVG on the server: geometry here, markup in a template include."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

WIDTH, HEIGHT = 640, 180
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 44, 8, 8, 22
SERIES = (("sent", "Sent"), ("delivered", "Delivered"), ("read", "Read"), ("failed", "Failed"))


@dataclass(frozen=True)
class Line:
    key: str
    label: str
    points: str  # SVG polyline "x,y x,y ..."
    total: int


@dataclass(frozen=True)
class TimelineChart:
    width: int
    height: int
    lines: list[Line]
    peak: int
    bucket_label: str
    first_label: str
    last_label: str
    baseline: float
    left: float
    right: float

    @property
    def empty(self) -> bool:
        return not self.lines


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
    """Polylines for each series of `campaigns.selectors.campaign_timeline`'s result, scaled to the busiest bucket."""
    points = (timeline or {}).get("points") or []
    seconds = int((timeline or {}).get("bucket_seconds") or 60)
    left, right = PAD_LEFT, WIDTH - PAD_RIGHT
    top, bottom = PAD_TOP, HEIGHT - PAD_BOTTOM
    if not points:
        return TimelineChart(WIDTH, HEIGHT, [], 0, _bucket_label(seconds), "", "", bottom, left, right)
    peak = max(max(int(p.get(key, 0)) for p in points) for key, _ in SERIES)
    scale_y = (bottom - top) / max(peak, 1)
    step = (right - left) / max(len(points) - 1, 1)
    lines = []
    for key, label in SERIES:
        values = [int(p.get(key, 0)) for p in points]
        coords = [(left + i * step, bottom - v * scale_y) for i, v in enumerate(values)]
        if len(coords) == 1:
            # One bucket so far: a flat segment across the chart rather than an invisible dot.
            coords = [(left, coords[0][1]), (right, coords[0][1])]
        lines.append(Line(key, label, " ".join(f"{x:.1f},{y:.1f}" for x, y in coords), sum(values)))
    return TimelineChart(
        width=WIDTH,
        height=HEIGHT,
        lines=lines,
        peak=peak,
        bucket_label=_bucket_label(seconds),
        first_label=_time_label(points[0]["at"], seconds),
        last_label=_time_label(points[-1]["at"], seconds),
        baseline=bottom,
        left=left,
        right=right,
    )
