"""The campaign funnel: what counts as a reply, and what a campaign not launched shows."""

from __future__ import annotations

import pytest

from campaigns.models import Campaign, CampaignStatus
from campaigns.selectors import campaign_stats_refresh
from campaigns.services import campaign_run
from providers.models import Message, Origin
from providers.nexmo.client import transport_override
from tests.campaigns.factories import answer_make, campaign_make, setup_provider, subscribed
from tests.providers.factories import FakeNexmo

pytestmark = pytest.mark.django_db


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
    answer_make(messages[0], "Yes please")
    answer_make(messages[1], " stop ")
    answer_make(messages[2], "UNSUBSCRIBE")

    stats = campaign_stats_refresh(campaign=campaign)

    assert stats["replied"] == 1
    assert stats["opted_out"] == 2


def test_opt_out_keywords_are_the_numbers_own() -> None:
    campaign, messages = _sent(2, opt_out_keywords="ARRET, HALT")
    answer_make(messages[0], "arret")
    answer_make(messages[1], "STOP")  # not a keyword of this number: an ordinary reply

    stats = campaign_stats_refresh(campaign=campaign)

    assert (stats["replied"], stats["opted_out"]) == (1, 1)


def test_a_draft_has_no_progress() -> None:
    provider, template = setup_provider()
    subscribed(3)
    campaign = campaign_make(provider=provider, template=template)

    stats = campaign_stats_refresh(campaign=campaign)

    assert stats["progress_percent"] is None
    assert stats["audience"] == 0
