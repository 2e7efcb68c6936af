"""A marketer submits a draft for approval, syncs with WhatsApp to see it approved, then sees a pause and its reason."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from campaigns.models import Campaign, CampaignStatus
from providers.models import ProviderConfig
from providers.simulator import SimulatorHandle
from templates_app.models import Template
from tests.campaigns.factories import campaign_make
from tests.e2e.conftest import ARTIFACTS
from tests.simulated import simulated_provider

WABA = "102290129340398"


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture
def simulated(live_server: Any, settings: Any) -> Iterator[tuple[ProviderConfig, SimulatorHandle]]:
    settings.PUBLIC_BASE_URL = live_server.url
    with simulated_provider(nickname="Demo WhatsApp", waba_id=WABA, simulator={"callbacks": False}) as wired:
        httpx.post(f"{wired[1].base_url}/_sim/templates/config", json={"review_delay_s": 0.3}, timeout=5)
        yield wired


@pytest.mark.django_db(transaction=True)
def test_submit_for_approval_then_sync_now_shows_approved_then_paused_with_the_reason(
    page: Any, login: Any, marketer_user: Any, simulated: tuple[ProviderConfig, SimulatorHandle]
) -> None:
    provider, simulator = simulated
    template = Template.objects.create(
        provider=provider,
        name="spring_sale",
        language="en_US",
        status="draft",
        body="Hi {{1}}, use code {{2}} for 20% off.",
        footer="Acme Shoes",
    )
    login(marketer_user, "pw-teammate-123")

    page.goto(f"/templates/{template.pk}/edit/")
    assert "Draft" in page.locator("#whatsapp-status").inner_text()
    page.get_by_role("link", name="Submit for approval").click()
    page.get_by_label("Example of {{1}}").fill("Ann")
    page.get_by_role("button", name="Submit for approval").click()
    missing = page.locator(".field", has=page.locator("#id_example_2"))
    assert "This field is required" in missing.inner_text()
    shot(page, "submit-form-missing-example")
    page.get_by_label("Example of {{2}}").fill("SPRING")
    page.get_by_role("button", name="Submit for approval").click()

    page.wait_for_url(f"**/templates/{template.pk}/edit/")
    assert "sent to WhatsApp for review" in page.locator(".flash-success").inner_text()
    assert "Pending review" in page.locator("#whatsapp-status").inner_text()
    shot(page, "template-pending")

    time.sleep(0.4)  # WhatsApp's (simulated) review
    page.goto("/templates/")
    page.locator(f"#whatsapp-sync [data-provider='{provider.pk}']").get_by_role("button", name="Sync now").click()
    page.wait_for_load_state()
    notice = page.get_by_text("Synced Demo WhatsApp with WhatsApp")
    assert "1 updated" in notice.inner_text()
    row = page.locator(f"tr[data-template='{template.pk}']")
    assert "Approved" in row.inner_text()
    shot(page, "templates-synced")

    # A campaign is sending it when WhatsApp pauses it.
    running = campaign_make(provider=provider, template=Template.objects.get(pk=template.pk), name="Spring promo")
    Campaign.objects.filter(pk=running.pk).update(status=CampaignStatus.RUNNING)
    httpx.post(
        f"{simulator.base_url}/_sim/templates/status",
        json={"name": "spring_sale", "language": "en_US", "status": "PAUSED", "reason": "Customers reported it"},
        timeout=5,
    )
    page.locator(f"#whatsapp-sync [data-provider='{provider.pk}']").get_by_role("button", name="Sync now").click()
    page.wait_for_load_state()
    row = page.locator(f"tr[data-template='{template.pk}']")
    assert "Paused by WhatsApp" in row.inner_text() and "Customers reported it" in row.inner_text()
    assert "running campaigns using it are paused" in page.locator(".flash-warning").inner_text()
    shot(page, "templates-paused")

    page.goto(f"/campaigns/{running.pk}/")
    assert "Paused" in page.locator("#campaign-status").inner_text()
    reason = page.locator("#pause-reason").inner_text()
    assert "spring_sale" in reason and "WhatsApp paused it: Customers reported it" in reason
    shot(page, "campaign-paused-by-whatsapp")


@pytest.mark.django_db(transaction=True)
def test_sync_now_without_an_account_id_says_what_is_missing(page: Any, login: Any, staff_user: Any) -> None:
    from tests.providers.factories import provider_make

    provider = provider_make(nickname="No account", waba_id="")
    login(staff_user, "pw-owner-123")
    page.goto("/templates/")
    item = page.locator(f"#whatsapp-sync [data-provider='{provider.pk}']")
    assert "no WhatsApp Business Account id yet" in item.inner_text()
    assert item.get_by_role("button", name="Sync now").count() == 0
    item.get_by_role("link", name="Add it").click()
    page.wait_for_url(f"**/settings/channels/whatsapp/{provider.pk}/edit/")
    page.get_by_label("WhatsApp Business Account id").fill("12ab")
    page.get_by_role("button", name="Save").click()
    assert "digits only" in page.locator(".field", has=page.locator("#id_waba_id")).inner_text()
    shot(page, "provider-waba-id-error")
