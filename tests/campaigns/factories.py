"""Factories for campaign tests: a provider, an approved template, subscribed contacts, a campaign."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from campaigns.models import Campaign
from campaigns.services import campaign_create
from contacts.models import Consent, Contact
from providers.models import InboundMessage, Message, ProviderConfig
from templates_app.models import Template
from tests.providers.factories import contact_make, provider_make
from tests.templates_app.factories import template_make

VARIABLES = {"1": {"property": "name", "fallback": "there"}, "2": {"value": "SPRING"}}


def setup_provider(**fields: Any) -> tuple[ProviderConfig, Template]:
    provider = provider_make(**fields)
    template = template_make(provider=provider, body="Hi {{1}}, use code {{2}}.")
    return provider, template


def subscribed(count: int, **fields: Any) -> list[Contact]:
    return [contact_make(whatsapp_consent=Consent.SUBSCRIBED, **fields) for _ in range(count)]


def campaign_make(*, provider: ProviderConfig, template: Template, **data: Any) -> Campaign:
    values: dict[str, Any] = {
        "name": "Spring sale",
        "provider": provider,
        "template": template,
        "audience": "all_subscribed",
        "variables": VARIABLES,
        "throttle_per_second": 1000,
        **data,
    }
    return campaign_create(data=values)


def answer_make(message: Message, text: str, *, after: timedelta = timedelta(minutes=5)) -> InboundMessage:
    """The customer's answer to a sent message, `after` its submission."""
    assert message.contact is not None and message.submitted_at is not None
    return InboundMessage.objects.create(
        provider=message.provider,
        contact=message.contact,
        message_uuid=str(uuid.uuid4()),
        from_number=message.contact.phone.lstrip("+"),
        content_type="text",
        text=text,
        raw={},
        received_at=message.submitted_at + after,
    )
