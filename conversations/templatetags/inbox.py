"""How the inbox says time: what is left of the 24-hour window."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def window_left(expires: datetime | None) -> str:
    """ "5 h 12 min left", "12 min left", or "closed" once the window has passed (or never opened)."""
    if expires is None:
        return "closed"
    seconds = int((expires - timezone.now()).total_seconds())
    if seconds <= 0:
        return "closed"
    hours, minutes = divmod(seconds // 60, 60)
    return f"{hours} h {minutes} min left" if hours else f"{max(minutes, 1)} min left"
