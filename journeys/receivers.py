"""Signal receivers: they only hand ids to a task, so the sender's request or task stays short."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver
from django_q.tasks import async_task

from contacts.signals import event_recorded
from providers.signals import inbound_message_received, message_status_changed


@receiver(event_recorded, dispatch_uid="journeys.event_recorded")
def on_event_recorded(sender: Any, *, event: Any, contact: Any, **kwargs: Any) -> None:
    async_task("journeys.tasks.event_react", event.pk)


@receiver(inbound_message_received, dispatch_uid="journeys.inbound_message_received")
def on_inbound(sender: Any, *, inbound: Any, contact: Any, keyword: str | None = None, **kwargs: Any) -> None:
    if contact is not None:
        async_task("journeys.tasks.inbound_react", inbound.pk, keyword)


@receiver(message_status_changed, dispatch_uid="journeys.message_status_changed")
def on_status(sender: Any, *, message: Any, **kwargs: Any) -> None:
    # Only journey messages can be waited on by a branch.
    if message.origin == "journey":
        async_task("journeys.tasks.status_react", message.pk)
