"""Signal receivers: small and quick; the real work stays in services and tasks."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from providers.models import ProviderConfig
from templates_app.sync import templates_sync_schedule_ensure


@receiver(post_save, sender=ProviderConfig, dispatch_uid="templates_app.provider_saved")
def on_provider_saved(sender: Any, *, instance: ProviderConfig, **kwargs: Any) -> None:
    # A number that gets a WhatsApp Business Account id is synced periodically from then on: the schedule is made
    # once (by name), here rather than at every start-up.
    if instance.waba_id:
        templates_sync_schedule_ensure()
