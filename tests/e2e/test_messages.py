"""The message log as a marketer reads it: both directions, templates as the customer saw them, button taps by
their label, and errors in full."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.utils import timezone

from contacts.models import Contact
from providers.models import Message
from providers.nexmo.client import transport_override
from templates_app.services import template_test_send
from tests.e2e.conftest import ARTIFACTS
from tests.providers.factories import FakeNexmo, provider_make
from tests.templates_app.factories import template_make

pytestmark = pytest.mark.django_db(transaction=True)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "vonage"
LONG_REASON = (
    "The recipient has not messaged this business in the last 24 hours, so WhatsApp only accepts an approved "
    "template; this free-form message was refused by the network and will not be retried. Reference "
    "a1b2c3d4-e5f6-4711-8899-aabbccddeeff, policy window-24h, upstream answer 470."
)


def test_the_message_log_shows_both_directions_rendered_templates_taps_and_whole_errors(
    page: Any, login: Any, marketer_user: Any, live_server: Any
) -> None:
    provider = provider_make(phone_number="+447700900100")
    ann = Contact.objects.create(phone="+447700900318", name="Ann")
    template = template_make(
        provider=provider,
        name="spring_sale",
        body="Hi {{1}}, your spring code is {{2}}.",
        header_type="image",
        header_media_url="https://cdn.example.com/spring.jpg",
        buttons=[{"type": "quick_reply", "text": "Yes, tell me"}],
    )
    fake = FakeNexmo(lambda request: httpx.Response(202, json={"message_uuid": "log-uuid-0001"}))
    with transport_override(fake.transport):
        template_test_send(template=template, contacts=[ann], parameters={"1": "Ann", "2": "SPRING"})
    Message.objects.create(
        provider=provider,
        contact=ann,
        to=ann.phone,
        status="rejected",
        client_ref="refused-1",
        origin="test",
        content_type="text",
        content_summary="Are you still interested?",
        error_code="1340",
        error_reason=LONG_REASON,
        failed_at=timezone.now(),
    )
    # The customer taps the template's quick reply: Nexmo's inbound callback, as it posts it.
    tap = json.loads((FIXTURES / "v0.1-inbound-button.json").read_text())
    tap["timestamp"] = timezone.now().isoformat().replace("+00:00", "Z")
    answer = httpx.post(f"{live_server.url}/callbacks/nexmo/{provider.callback_token}/inbound/", json=tap, timeout=10)
    assert answer.status_code == 200
    login(marketer_user, "pw-teammate-123")

    page.goto("/messages/")
    rows = page.locator("table.message-log tbody tr")
    assert rows.count() == 3
    received = page.locator("tr[data-direction=received]")
    assert received.locator("td").nth(1).inner_text() == "Received"
    assert "Tapped “Yes, tell me”" in received.inner_text()
    assert "+447700900318" in received.inner_text() and "Ann" in received.inner_text()

    sent_template = page.locator("tr[data-direction=sent]", has_text="spring_sale")
    content = sent_template.locator("td").nth(4).inner_text()
    assert "Hi Ann, your spring code is SPRING." in content and "[Yes, tell me]" in content
    assert "custom template" not in content

    refused = page.locator("tr[data-client-ref='refused-1']")
    error_cell = refused.locator("td").nth(7)
    assert "Outside the 24-hour window" in error_cell.inner_text()
    error_cell.get_by_text("Show all").click()
    full = error_cell.locator(".long-text-full")
    assert full.is_visible() and LONG_REASON in full.inner_text()
    page.screenshot(path=str(ARTIFACTS / "messages-both.png"), full_page=True)

    page.select_option("select[name=direction]", "in")
    page.get_by_role("button", name="Filter").click()
    assert page.locator("tr[data-direction]").count() == 1
    assert page.locator("tr[data-direction=received]").count() == 1

    page.select_option("select[name=direction]", "out")
    page.get_by_role("button", name="Filter").click()
    assert page.locator("tr[data-direction=sent]").count() == 2
    assert page.locator("tr[data-direction=received]").count() == 0
