"""A segment's preview says how many of its contacts a message would reach, and why not the others."""

from __future__ import annotations

from typing import Any

import pytest

from contacts.models import Consent
from tests.contacts.factories import SegmentFactory
from tests.providers.factories import contact_make

pytestmark = pytest.mark.django_db


def test_segment_preview_counts_the_reachable_contacts(marketer_api: Any) -> None:
    segment = SegmentFactory.create()  # the test profiles
    for consent in (Consent.SUBSCRIBED, Consent.SUBSCRIBED, Consent.UNSUBSCRIBED, Consent.UNTRACKED):
        contact_make(is_test_profile=True, whatsapp_consent=consent)
    contact_make(is_test_profile=True, whatsapp_consent=Consent.SUBSCRIBED, phone="not a number")

    preview = marketer_api.get(f"/api/v1/segments/{segment.pk}/preview/").json()

    assert preview["count"] == 5
    assert preview["reachable"] == 2
    assert {item["reason"]: item["count"] for item in preview["left_out"]} == {
        "opted_out": 1,
        "unsubscribed": 1,
        "invalid": 1,
    }
