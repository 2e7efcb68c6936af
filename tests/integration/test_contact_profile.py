from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from providers.models import InboundMessage, Message
from tests.providers.factories import contact_make, provider_make

pytestmark = pytest.mark.django_db


def test_the_profile_shows_the_contacts_messages_both_ways(client: Client, marketer_user: Any) -> None:
    provider = provider_make()
    contact, other = contact_make(name="Ann"), contact_make(name="Bob")
    Message.objects.create(
        provider=provider,
        contact=contact,
        to=contact.phone,
        status="read",
        client_ref="tl-1",
        origin="campaign",
        content_type="template",
        content_summary="spring_sale(Ann)",
    )
    Message.objects.create(
        provider=provider,
        contact=other,
        to=other.phone,
        status="read",
        client_ref="tl-2",
        origin="campaign",
        content_type="template",
        content_summary="for someone else",
    )
    InboundMessage.objects.create(
        provider=provider,
        contact=contact,
        message_uuid="in-1",
        from_number=contact.phone,
        content_type="text",
        text="Yes please",
        received_at=timezone.now(),
        raw={},
    )
    client.force_login(marketer_user)

    page = client.get(f"/contacts/{contact.pk}/").content.decode()

    section = page[page.index('id="profile-messages"') :]
    assert "spring_sale(Ann)" in section and "Yes please" in section
    assert "for someone else" not in section
    assert section.index("Yes please") < section.index("spring_sale(Ann)")  # newest first
