"""End to end against the simulator: submit → pending → review → sync → approved → a campaign sends; WhatsApp pauses
the template during a campaign → the next sync pauses the campaign with the reason."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest
from django.db import connections

from campaigns.models import Campaign, CampaignStatus
from campaigns.services import campaign_run, campaign_schedule
from providers.simulator import SimulatorHandle
from templates_app.models import Status, Template
from templates_app.sync import template_submit, templates_sync
from tests.campaigns.factories import campaign_make, subscribed
from tests.simulated import simulated_provider

WABA = "102290129340398"
QUIET = {"callbacks": False, "enforce_window": False}


def sim_post(simulator: SimulatorHandle, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = httpx.post(f"{simulator.base_url}{path}", json=body, timeout=5.0)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def sent_count(simulator: SimulatorHandle, name: str) -> int:
    return sum(1 for m in simulator.messages(limit=1000) if m["template_name"].endswith(name))


@pytest.mark.django_db(transaction=True)
def test_submit_review_sync_send_then_a_pause_at_whatsapp_pauses_the_running_campaign() -> None:
    with simulated_provider(waba_id=WABA, simulator=QUIET) as (provider, simulator):
        sim_post(simulator, "/_sim/templates/config", {"review_delay_s": 0.5})
        template = Template.objects.create(
            provider=provider, name="spring_sale", language="en_US", status="draft", body="Hi {{1}}, use code {{2}}."
        )

        template_submit(template=template, examples={"1": "Ann", "2": "SPRING"})
        assert template.status == Status.PENDING
        templates_sync(provider=provider)
        template.refresh_from_db()
        assert template.status == Status.PENDING  # still in review
        time.sleep(0.6)
        assert templates_sync(provider=provider).as_dict() == {"created": 0, "updated": 1, "unchanged": 0, "removed": 0}
        template.refresh_from_db()
        assert template.status == Status.APPROVED

        subscribed(3)
        first = campaign_make(provider=provider, template=template)
        campaign_schedule(campaign=first)  # runs inline (tasks are synchronous in tests)
        first.refresh_from_db()
        assert first.status == CampaignStatus.COMPLETED
        assert sent_count(simulator, "spring_sale") == 3

        subscribed(40)
        second = campaign_make(provider=provider, template=template, name="Slow", throttle_per_second=10)
        Campaign.objects.filter(pk=second.pk).update(status=CampaignStatus.RUNNING)
        second.refresh_from_db()

        def run() -> None:
            try:
                campaign_run(campaign=second, batch_size=5)
            finally:
                connections.close_all()

        runner = threading.Thread(target=run)
        runner.start()
        deadline = time.monotonic() + 10
        while sent_count(simulator, "spring_sale") < 6 and time.monotonic() < deadline:
            time.sleep(0.05)

        sim_post(
            simulator,
            "/_sim/templates/status",
            {"name": "spring_sale", "language": "en_US", "status": "PAUSED", "reason": "Customers blocked it"},
        )
        report = templates_sync(provider=provider)
        runner.join(15)

        assert report.unusable == [template.pk]
        second.refresh_from_db()
        assert second.status == CampaignStatus.PAUSED
        assert "WhatsApp paused it: Customers blocked it" in second.pause_reason
        assert sent_count(simulator, "spring_sale") < 3 + 43  # it stopped before reaching everyone
        template.refresh_from_db()
        assert (template.status, template.quality_rating) == (Status.PAUSED, "red")
