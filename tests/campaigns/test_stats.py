"""The campaign funnel: what counts as a reply, what a campaign not launched shows, who a launch would reach."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from campaigns.models import (
    AudienceList,
    AudienceListMember,
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    SkipReason,
)
from campaigns.selectors import campaign_reach, campaign_stats_refresh
from campaigns.services import campaign_plan, campaign_run
from contacts.models import Consent
from contacts.selectors import UNREACHABLE
from providers.models import InboundMessage, Message, Origin
from providers.nexmo.client import transport_override
from tests.campaigns.factories import campaign_make, setup_provider, subscribed
from tests.providers.factories import FakeNexmo, contact_make

pytestmark = pytest.mark.django_db


def _answer(message: Message, text: str, *, after: timedelta = timedelta(minutes=5)) -> None:
    assert message.contact is not None and message.submitted_at is not None
    InboundMessage.objects.create(
        provider=message.provider,
        contact=message.contact,
        message_uuid=str(uuid.uuid4()),
        from_number=message.contact.phone.lstrip("+"),
        content_type="text",
        text=text,
        raw={},
        received_at=message.submitted_at + after,
    )


def _sent(count: int, **provider_fields: str) -> tuple[Campaign, list[Message]]:
    provider, template = setup_provider(**provider_fields)
    subscribed(count)
    campaign = campaign_make(provider=provider, template=template)
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SCHEDULED)
    campaign.refresh_from_db()
    with transport_override(FakeNexmo().transport):
        campaign_run(campaign=campaign)
    messages = list(
        Message.objects.filter(origin=Origin.CAMPAIGN, origin_ref=str(campaign.pk)).select_related("contact")
    )
    assert len(messages) == count
    return campaign, messages


def test_a_stop_counts_as_an_opt_out_not_a_reply() -> None:
    campaign, messages = _sent(4)
    _answer(messages[0], "Yes please")
    _answer(messages[1], " stop ")
    _answer(messages[2], "UNSUBSCRIBE")

    stats = campaign_stats_refresh(campaign=campaign)

    assert stats["replied"] == 1
    assert stats["opted_out"] == 2


def test_opt_out_keywords_are_the_numbers_own() -> None:
    campaign, messages = _sent(2, opt_out_keywords="ARRET, HALT")
    _answer(messages[0], "arret")
    _answer(messages[1], "STOP")  # not a keyword of this number: an ordinary reply

    stats = campaign_stats_refresh(campaign=campaign)

    assert (stats["replied"], stats["opted_out"]) == (1, 1)


def test_a_draft_has_no_progress() -> None:
    provider, template = setup_provider()
    subscribed(3)
    campaign = campaign_make(provider=provider, template=template)

    stats = campaign_stats_refresh(campaign=campaign)

    assert stats["progress_percent"] is None
    assert stats["audience"] == 0


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
