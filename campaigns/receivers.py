"""Signal receivers: they only hand ids to a task, so the sender's request or task stays short."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver
from django_q.tasks import async_task

from templates_app.signals import template_unusable


@receiver(template_unusable, dispatch_uid="campaigns.template_unusable")
def on_template_unusable(sender: Any, *, template: Any, reason: str, **kwargs: Any) -> None:
    async_task("campaigns.tasks.campaigns_pause_for_template", template.pk, reason)
