"""What templates_app announces to higher apps (campaigns, journeys), which connect receivers without us importing them.

template_unusable(sender=Template, template, reason) — sent after the sync's transaction committed, once per
template that WhatsApp rejected, paused, disabled or deleted since the last sync.
    template: templates_app.models.Template, as stored now
    reason:   in words, for the pages that show it ("WhatsApp paused it: …")
"""

from django.dispatch import Signal

template_unusable = Signal()
