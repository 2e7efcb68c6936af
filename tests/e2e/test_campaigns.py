"""A marketer builds a campaign in the wizard from an uploaded list, launches it, and watches it reach 100 % with
delivered and read, the over-time chart drawing its bars as the receipts come in."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from contacts.models import Consent
from providers.simulator import Channel, SimulatorConfig, run_in_thread
from tests.providers.factories import contact_make, provider_make, public_pem, rsa_pem
from tests.templates_app.factories import template_make


@pytest.mark.django_db(transaction=True)
def test_wizard_launch_reaches_full_progress_with_delivered_and_read(
    page: Any, login: Any, live_server: Any, marketer_user: Any, settings: Any
) -> None:
    settings.PUBLIC_BASE_URL = live_server.url
    key = rsa_pem()
    provider = provider_make(private_key=key, api_base_url="http://127.0.0.1:1")
    template = template_make(provider=provider, name="spring_sale", body="Hi {{1}}, use code {{2}}.")
    listed = [contact_make(whatsapp_consent=Consent.SUBSCRIBED, name=f"Ann {n}") for n in range(5)]
    contact_make(whatsapp_consent=Consent.SUBSCRIBED, name="Not on the list")
    csv_rows = ["phone", *(c.phone for c in listed), "+447700999999", "not a number"]
    channel = Channel(
        application_id=provider.application_id,
        public_key_pem=public_pem(key).decode(),
        number=provider.phone_number.lstrip("+"),
        status_url=provider.status_callback_url,
    )
    simulator = run_in_thread(SimulatorConfig(channels=(channel,), seed=1), enforce_window=False, callback_retries=2)
    try:
        provider.api_base_url = simulator.base_url
        provider.save()
        login(marketer_user, "pw-teammate-123")
        page.goto("/campaigns/new/")
        page.fill("input[name=name]", "Spring sale")
        page.select_option("select[name=template]", str(template.pk))
        page.select_option("select[name=audience]", "uploaded_list")
        page.set_input_files(
            "input[name=audience_file]",
            files=[{"name": "vip.csv", "mimeType": "text/csv", "buffer": "\n".join(csv_rows).encode()}],
        )
        page.click("#step-audience button[type=submit]")
        report = page.locator("#audience-list-report")
        assert report.locator("[data-list=matched]").inner_text() == "5"
        assert report.locator("[data-list=unmatched]").inner_text() == "2"
        assert "not a number" in page.inner_text("#audience-list-problems")
        page.select_option("select[name=var_1_source]", "property")
        page.fill("input[name=var_1_name]", "name")
        page.fill("input[name=var_1_fallback]", "there")
        page.select_option("select[name=var_2_source]", "value")
        page.fill("input[name=var_2_name]", "SPRING")
        page.click("#section-limits summary")
        page.fill("input[name=throttle_per_second]", "200")
        expect(page.locator("#wa-preview")).to_contain_text("use code SPRING")
        page.click("#step-details button.btn-primary")
        asked: list[str] = []

        def accept(dialog: Any) -> None:
            asked.append(dialog.message)
            dialog.accept()

        page.once("dialog", accept)
        page.click("#launch")
        # Locator expectations, not wait_for_function: the page's Content-Security-Policy forbids evaluating strings.
        expect(page.locator("#progress-text")).to_have_text("100 %")
        assert asked == ["Send to 5 people now?"]
        expect(page.locator("[data-stat=delivered]")).to_have_text("5", timeout=20_000)
        expect(page.locator("[data-stat=read]")).to_have_text("5", timeout=20_000)
        assert page.inner_text("#campaign-status") == "Completed"
        assert page.inner_text("[data-stat=audience]") == "5"
        # The chart is redrawn by the poll: the read bars only add up to 5 once the receipts have come in.
        expect(page.locator("#timeline-chart [data-series=read]")).to_have_attribute("data-total", "5")
        sent = page.locator("#timeline-chart [data-series=sent]")
        assert sent.get_attribute("data-total") == "5"
        heights = [float(bar.get_attribute("height") or 0) for bar in sent.locator("rect").all()]
        assert heights and max(heights) > 0  # a bar is drawn for the busy minute
        expect(page.locator("#timeline-unit")).to_have_text("Messages per minute:")
    finally:
        simulator.stop()
