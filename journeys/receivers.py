"""Signal receivers: they only hand ids to a task, so the sender's request or task stays short."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver
from django_q.tasks import async_task

from contacts.signals import events_recorded
from providers.signals import inbound_message_received, message_status_changed

# Events handed to one task at most: a batch posted to the events API enters its journeys in one go.
EVENTS_PER_TASK = 1000


@receiver(events_recorded, dispatch_uid="journeys.events_recorded")
def on_events_recorded(sender: Any, *, events: list[tuple[Any, Any]], **kwargs: Any) -> None:
    ids = [event.pk for event, _contact in events]
    for start in range(0, len(ids), EVENTS_PER_TASK):
        async_task("journeys.tasks.events_react", ids[start : start + EVENTS_PER_TASK])


@receiver(inbound_message_received, dispatch_uid="journeys.inbound_message_received")
def on_inbound(sender: Any, *, inbound: Any, contact: Any, keyword: str | None = None, **kwargs: Any) -> None:
    if contact is not None:
        async_task("journeys.tasks.inbound_react", inbound.pk, keyword)


@receiver(message_status_changed, dispatch_uid="journeys.message_status_changed")
def on_status(sender: Any, *, message: Any, **kwargs: Any) -> None:
    # Only journey messages can be waited on by a branch.
    if message.origin == "journey":
        async_task("journeys.tasks.status_react", message.pk)
