"""django-q2 tasks: take ids, load the row, call one service."""

from __future__ import annotations

from campaigns.models import Campaign
from campaigns.services import campaign_run as campaign_run_service
from campaigns.services import campaigns_pause_for_template as campaigns_pause_for_template_service
from templates_app.models import Template


def campaign_run(campaign_id: int) -> None:
    campaign = Campaign.objects.select_related("provider", "template", "segment").filter(pk=campaign_id).first()
    if campaign is None:
        return
    campaign_run_service(campaign=campaign)


def campaigns_pause_for_template(template_id: int, reason: str) -> None:
    template = Template.objects.filter(pk=template_id).first()
    if template is not None:
        campaigns_pause_for_template_service(template=template, reason=reason)
