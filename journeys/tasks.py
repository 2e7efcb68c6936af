"""django-q2 entry points: each takes ids, loads rows and calls one service."""

from __future__ import annotations

from journeys import services
from providers.models import InboundMessage, Message


def enrollments_run(enrollment_ids: list[int]) -> int:
    return services.enrollments_run(enrollment_ids=list(enrollment_ids))


def journeys_tick() -> int:
    """The minute schedule: segment entries, then the clock (which returns at once when one is running)."""
    from providers.messaging.outbox import outbox_sweep

    services.segment_entries_check()
    outbox_sweep()
    return services.journeys_clock()


def journeys_clock() -> int:
    return services.journeys_clock()


def events_react(event_ids: list[int]) -> int:
    from contacts.models import Event

    events = list(Event.objects.select_related("contact").filter(pk__in=event_ids).order_by("id"))
    return services.events_react(events=events)


def event_react(event_id: int) -> None:
    """One event (tasks enqueued before events were handed over in batches)."""
    events_react([event_id])


def inbound_react(inbound_id: int, keyword: str | None) -> None:
    inbound = InboundMessage.objects.select_related("contact").filter(pk=inbound_id).first()
    if inbound is not None:
        services.inbound_react(inbound=inbound, contact=inbound.contact, keyword=keyword)


def status_react(message_id: int) -> None:
    message = Message.objects.filter(pk=message_id).first()
    if message is not None:
        services.status_react(message=message)
