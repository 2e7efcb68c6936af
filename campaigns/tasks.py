"""django-q2 tasks: take ids, load the row, call one service."""

from __future__ import annotations

from campaigns.models import Campaign
from campaigns.services import campaign_run as campaign_run_service


def campaign_run(campaign_id: int) -> None:
    campaign = Campaign.objects.select_related("provider", "template", "segment").filter(pk=campaign_id).first()
    if campaign is None:
        return
    campaign_run_service(campaign=campaign)
