from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from contacts.models import Contact
from providers.models import Message, ProviderConfig
from providers.selectors import contacts_over_frequency_cap
from tests.providers.factories import contact_make, provider_make

pytestmark = pytest.mark.django_db


def _messages(contact: Contact, provider: ProviderConfig, statuses: list[str], *, days_ago: float = 0) -> None:
    for index, status in enumerate(statuses):
        Message.objects.create(
            provider=provider,
            contact=contact,
            to=contact.phone,
            status=status,
            client_ref=f"cap-{contact.pk}-{status}-{index}-{days_ago}",
            origin="campaign" if index % 2 else "journey",
            content_type="template",
            created_at=timezone.now() - timedelta(days=days_ago),
        )


def test_counts_messages_across_origins_within_the_window() -> None:
    provider = provider_make()
    capped, under, old_only = contact_make(), contact_make(), contact_make()
    _messages(capped, provider, ["delivered", "read"])
    _messages(under, provider, ["delivered"])
    _messages(old_only, provider, ["delivered", "read", "submitted"], days_ago=8)

    over = contacts_over_frequency_cap(contact_ids=[capped.pk, under.pk, old_only.pk], limit=2, days=7)

    assert over == {capped.pk}


def test_messages_that_never_reached_the_customer_do_not_count() -> None:
    provider = provider_make()
    contact = contact_make()
    _messages(contact, provider, ["failed", "rejected", "delivered"])

    assert contacts_over_frequency_cap(contact_ids=[contact.pk], limit=2, days=7) == set()
