"""Background work for callbacks: enqueued on commit, take ids, load rows, call one service."""

from __future__ import annotations

from typing import Any

from providers.messaging import inbound as inbound_module
from providers.messaging import statuses
from providers.models import InboundMessage


def inbound_process(inbound_id: int) -> None:
    inbound = InboundMessage.objects.select_related("provider", "contact").filter(pk=inbound_id).first()
    if inbound is not None:
        inbound_module.inbound_process(inbound=inbound)


def status_announce_many(announcements: list[list[Any]]) -> None:
    statuses.status_announce(announcements=[(int(p), str(u), str(s), str(t)) for p, u, s, t in announcements])


def status_announce(provider_id: int, message_uuid: str, status: str, timestamp: str) -> None:
    """One change (tasks enqueued before changes were announced in batches)."""
    statuses.status_announce(announcements=[(provider_id, message_uuid, status, timestamp)])


def outbox_send(provider_id: int) -> None:
    from providers.messaging.outbox import outbox_send as send

    send(provider_id=provider_id)
