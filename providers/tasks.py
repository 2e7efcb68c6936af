"""Background work for callbacks: enqueued on commit, take ids, load rows, call one service."""

from __future__ import annotations

from datetime import datetime

from providers import services
from providers.models import InboundMessage


def inbound_process(inbound_id: int) -> None:
    inbound = InboundMessage.objects.select_related("provider", "contact").filter(pk=inbound_id).first()
    if inbound is not None:
        services.inbound_process(inbound=inbound)


def status_announce(provider_id: int, message_uuid: str, status: str, timestamp: str) -> None:
    services.status_announce(
        provider_id=provider_id, message_uuid=message_uuid, status=status, timestamp=datetime.fromisoformat(timestamp)
    )
