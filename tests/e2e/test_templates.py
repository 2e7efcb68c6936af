"""A marketer builds a template with an image header and two quick replies, watches the preview, sends a test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from providers.models import Message, ProviderConfig
from providers.simulator import SimulatorHandle
from templates_app.models import Template
from tests.simulated import simulated_provider
from tests.templates_app.factories import contact_make


@pytest.fixture
def simulated(live_server: Any, settings: Any) -> Iterator[tuple[ProviderConfig, SimulatorHandle]]:
    settings.PUBLIC_BASE_URL = live_server.url
    with simulated_provider(nickname="Demo WhatsApp") as wired:
        yield wired


@pytest.mark.django_db(transaction=True)
def test_create_image_template_with_quick_replies_preview_and_send_test(
    page: Any, login: Any, marketer_user: Any, simulated: tuple[ProviderConfig, SimulatorHandle]
) -> None:
    provider, simulator = simulated
    profile = contact_make(name="Tess Tester", is_test_profile=True)
    login(marketer_user, "pw-teammate-123")

    page.goto("/templates/")
    page.get_by_role("link", name="New template").click()
    page.select_option("#id_provider", str(provider.pk))
    page.fill("#id_name", "spring_sale")
    page.select_option("#id_status", "approved")
    page.select_option("#id_header_type", "image")
    preview = page.locator("#wa-preview")
    assert "Image" in preview.locator("[data-part=header]").inner_text()
    assert page.locator("#id_header_text").is_hidden()
    page.fill("#id_header_media_url", "https://cdn.example.com/spring.jpg")
    page.fill("#id_body", "Hi {{1}}, the spring sale starts today!")
    assert preview.locator("[data-part=body]").inner_text() == "Hi {{1}}, the spring sale starts today!"
    page.locator("#preview-samples input").fill("Ann")
    assert preview.locator("[data-part=body]").inner_text() == "Hi Ann, the spring sale starts today!"
    page.fill("#id_footer", "Reply STOP to opt out")
    page.select_option("#id_button_1_type", "quick_reply")
    page.fill("#id_button_1_text", "Show me")
    page.select_option("#id_button_2_type", "quick_reply")
    page.fill("#id_button_2_text", "Not now")
    buttons = page.locator("[data-part=buttons] .wa-button")
    assert buttons.count() == 2
    assert "Not now" in buttons.nth(1).inner_text()
    assert preview.locator("[data-part=footer]").inner_text() == "Reply STOP to opt out"
    page.get_by_role("button", name="Save template").click()
    page.wait_for_url("**/templates/")

    template = Template.objects.get(name="spring_sale")
    assert template.header_type == "image" and len(template.buttons) == 2
    page.locator(f"tr[data-template='{template.pk}']").get_by_role("link", name="Send Test").click()
    page.get_by_label("Tess Tester").check()
    page.fill("#id_param_1", "Ann")
    page.get_by_role("button", name="Send test").click()

    result = page.locator("[data-testid=test-result]")
    assert "Accepted" in result.inner_text() and "HTTP 202" in result.inner_text()
    message = Message.objects.get(to=profile.phone)
    assert f'"message_uuid": "{message.message_uuid}"' in page.locator("#payload-1").inner_text()
    assert result.get_by_role("button", name="Copy").is_visible()
    # The simulator checked the body against Nexmo's shapes and accepted it as a custom template.
    [sent] = simulator.messages(to=profile.phone.lstrip("+"))
    assert sent["message_type"] == "custom"
    assert message.request_body is not None
    components = message.request_body["message"]["content"]["custom"]["template"]["components"]
    assert components[0] == {
        "type": "header",
        "parameters": [{"type": "image", "image": {"link": "https://cdn.example.com/spring.jpg"}}],
    }
    assert components[1] == {"type": "body", "parameters": [{"type": "text", "text": "Ann"}]}

    # Nexmo's status callbacks reach the site: the message log shows it delivered, then read.
    page.goto("/messages/")
    row = page.locator("table.list tbody tr").first
    for _ in range(50):
        if row.locator(".badge").inner_text().strip() in {"delivered", "read"}:
            break
        page.wait_for_timeout(200)
        page.reload()
    assert row.locator(".badge").inner_text().strip() in {"delivered", "read"}
    assert "spring_sale" in row.inner_text() and "Tess Tester" in row.inner_text()
