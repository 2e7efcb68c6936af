"""Reads for providers and the message log."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from providers.models import InboundMessage, Message, ProviderConfig


def provider_list() -> QuerySet[ProviderConfig]:
    return ProviderConfig.objects.all()


def message_list(*, filters: dict[str, Any] | None = None) -> QuerySet[Message]:
    """Messages newest first, filtered by status, provider, origin and a search over number/uuid/client_ref."""
    filters = filters or {}
    messages = Message.objects.select_related("provider", "contact")
    if filters.get("status"):
        messages = messages.filter(status=filters["status"])
    if filters.get("provider"):
        messages = messages.filter(provider=filters["provider"])
    if filters.get("origin"):
        messages = messages.filter(origin=filters["origin"])
    if filters.get("q"):
        term = str(filters["q"]).strip()
        messages = messages.filter(
            Q(to__icontains=term) | Q(message_uuid=term) | Q(client_ref=term) | Q(contact__name__icontains=term)
        )
    return messages


def inbound_list() -> QuerySet[InboundMessage]:
    return InboundMessage.objects.select_related("provider", "contact")
