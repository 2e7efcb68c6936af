"""A marketer builds a template with an image header and two quick replies, watches the preview, sends a test."""

from __future__ import annotations

from typing import Any

import pytest

from templates_app.models import Template
from tests.templates_app.conftest import RecordingSend
from tests.templates_app.factories import contact_make, provider_make


@pytest.mark.django_db(transaction=True)
def test_create_image_template_with_quick_replies_preview_and_send_test(
    page: Any, login: Any, marketer_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The live server runs in this process, so the recording send replaces message_send for its requests too.
    fake = RecordingSend()
    monkeypatch.setattr("templates_app.services.message_send", fake)
    provider = provider_make(nickname="Demo WhatsApp")
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
    assert '"message_uuid": "uuid-1"' in page.locator("#payload-1").inner_text()
    assert result.get_by_role("button", name="Copy").is_visible()
    assert [call["to"] for call in fake.calls] == [profile.phone]
    sent = fake.calls[0]["content"]
    assert sent.components[0] == {
        "type": "header",
        "parameters": [{"type": "image", "image": {"link": "https://cdn.example.com/spring.jpg"}}],
    }
    assert sent.components[1] == {"type": "body", "parameters": [{"type": "text", "text": "Ann"}]}
