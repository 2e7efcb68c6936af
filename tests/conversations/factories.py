"""Inbox test helpers: a customer's message received as Nexmo would deliver it (v0.1 inbound payload)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.utils import timezone

from contacts.models import Contact
from conversations.models import Conversation
from providers.messaging.inbound import inbound_receive
from providers.models import InboundMessage, ProviderConfig
from providers.nexmo.webhooks import inbound_parse


def customer_writes(
    provider: ProviderConfig,
    phone: str,
    text: str = "Hello",
    *,
    at: datetime | None = None,
    content: dict[str, Any] | None = None,
    name: str = "Ann",
) -> InboundMessage:
    """Receive one inbound message from `phone` (E.164) to `provider`'s number, through the real inbound handling."""
    raw = {
        "message_uuid": str(uuid.uuid4()),
        "from": {"type": "whatsapp", "number": phone.lstrip("+")},
        "to": {"type": "whatsapp", "number": provider.phone_number.lstrip("+")},
        "timestamp": (at or timezone.now()).isoformat().replace("+00:00", "Z"),
        "message": {"content": content or {"type": "text", "text": text}},
        "profile": {"name": name},
    }
    inbound = inbound_receive(provider=provider, event=inbound_parse(raw), raw=raw)
    assert inbound is not None
    return inbound


def conversation_of(provider: ProviderConfig, contact: Contact) -> Conversation:
    return Conversation.objects.get(provider=provider, contact=contact)
