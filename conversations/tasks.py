"""Background work of the inbox: thin wrappers, ids in, one service call."""

from __future__ import annotations

import logging

from conversations import services
from providers.models import InboundMessage

logger = logging.getLogger(__name__)


def inbound_mark_read(inbound_id: int) -> bool:
    inbound = InboundMessage.objects.select_related("provider").filter(pk=inbound_id).first()
    if inbound is None:
        return False
    done = services.inbound_mark_read(inbound=inbound)
    if not done:
        logger.warning("Nexmo did not mark inbound message %s read", inbound.message_uuid)
    return done
