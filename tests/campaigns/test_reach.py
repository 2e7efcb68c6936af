"""Who a launch would reach, counted before launch by planning's own skip rules."""

from __future__ import annotations

from typing import Any

import pytest

from campaigns.models import AudienceList, AudienceListMember, CampaignRecipient, SkipReason
from campaigns.selectors import campaign_reach
from campaigns.services import campaign_plan
from contacts.models import Consent
from contacts.selectors import UNREACHABLE
from tests.campaigns.factories import campaign_make, setup_provider, subscribed
from tests.providers.factories import contact_make

pytestmark = pytest.mark.django_db


def test_reach_counts_what_planning_would_skip_in_one_query(django_assert_num_queries: Any) -> None:
    provider, template = setup_provider()
    people = [
        *subscribed(3),
        *(contact_make(whatsapp_consent=Consent.UNSUBSCRIBED) for _ in range(2)),
        contact_make(whatsapp_consent=Consent.UNTRACKED),
    ]
    listed = AudienceList.objects.create(name="vip.csv", rows=len(people), matched=len(people))
    AudienceListMember.objects.bulk_create(AudienceListMember(audience_list=listed, contact=c) for c in people)
    campaign = campaign_make(provider=provider, template=template, audience="uploaded_list", audience_list=listed)

    with django_assert_num_queries(1):
        reach = campaign_reach(campaign=campaign)

    assert reach["text"] == "6 match · 3 reachable (2 opted out, 1 not subscribed)"
    campaign_plan(campaign=campaign)
    planned = CampaignRecipient.objects.filter(campaign=campaign)
    assert planned.filter(state="planned").count() == reach["reachable"] == 3
    assert planned.filter(skip_reason="opted_out").count() == 2


def test_skip_reasons_of_contacts_and_campaigns_agree() -> None:
    assert {reason for reason, _, _ in UNREACHABLE} <= set(SkipReason.values)


def test_launch_is_disabled_with_whatsapps_reason_when_the_template_was_paused(client: Any, marketer_user: Any) -> None:
    provider, template = setup_provider()
    campaign = campaign_make(provider=provider, template=template)
    client.force_login(marketer_user)
    assert 'id="launch" disabled' not in client.get(f"/campaigns/{campaign.pk}/").content.decode()
    template.__class__.objects.filter(pk=template.pk).update(status="paused", rejected_reason="Customers reported it")
    page = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert 'id="launch" disabled title="Template' in page
    assert "paused by WhatsApp for low quality (Customers reported it)" in page
