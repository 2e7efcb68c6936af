"""How the inbox says time: how long ago, and what is left of the 24-hour window."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

register = template.Library()


@register.filter
def ago(moment: datetime) -> str:
    """ "just now" under a minute, then Django's "5 minutes ago", "2 hours, 3 minutes ago"."""
    if (timezone.now() - moment).total_seconds() < 60:
        return "just now"
    return f"{timesince(moment, depth=1)} ago"


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
