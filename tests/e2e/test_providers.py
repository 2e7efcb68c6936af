"""The seed's steps in a real browser: add a Nexmo number, copy the callback URLs, send a test WhatsApp to a contact
whose window is open (Nexmo faked at the gateway), then watch status callbacks turn it delivered and read."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.utils import timezone

from contacts.models import Contact
from providers.models import Message, ProviderConfig
from providers.nexmo import client as nexmo_client
from tests.providers.factories import FakeNexmo, provider_make, rsa_pem

pytestmark = pytest.mark.django_db(transaction=True)


def test_connect_a_number_send_a_test_and_see_it_read(page: Any, login: Any, staff_user: Any, live_server: Any) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    Contact.objects.create(phone="+447700900123", name="Ann", last_inbound_at=timezone.now() - timedelta(minutes=5))
    fake = FakeNexmo(lambda request: httpx.Response(202, json={"message_uuid": "e2e-uuid-0001"}))
    login(staff_user, "pw-owner-123")

    page.goto("/settings/channels/whatsapp/")
    page.click("text=+ Add Provider")
    page.click("a:has-text('Nexmo')")
    page.fill("input[name=phone_number]", "+447700900000")
    page.fill("input[name=application_id]", "aaaaaaaa-bbbb-cccc-dddd-0123456789ab")
    page.fill("textarea[name=private_key]", rsa_pem())
    page.fill("input[name=nickname]", "Main number")
    page.check("input[name=auto_reply_enabled]")
    page.fill("textarea[name=auto_reply_text]", "Thanks, we will get back to you.")
    page.click("button:has-text('Save')")

    provider = ProviderConfig.objects.get()
    page.wait_for_url(f"**/settings/channels/whatsapp/{provider.pk}/")
    assert page.inner_text("#inbound-url") == provider.inbound_callback_url
    assert page.inner_text("#status-url") == provider.status_callback_url
    assert "payload version 0.1" in page.content()
    page.click("[data-copy-target=inbound-url]")
    assert page.evaluate("navigator.clipboard.readText()") == provider.inbound_callback_url
    page.click("[data-copy-target=status-url]")
    assert page.evaluate("navigator.clipboard.readText()") == provider.status_callback_url

    page.click("text=Send Test WhatsApp")
    assert page.inner_text("#wa-me") == "https://wa.me/447700900000"
    page.fill("input[name=country_code]", "+44")
    page.fill("input[name=number]", "7700900123")
    page.fill("textarea[name=text]", "Hello from the test page")
    with nexmo_client.transport_override(fake.transport):
        page.click("button:has-text('Send')")
        page.wait_for_selector("#response-payload")
    shown = json.loads(page.inner_text("#response-payload"))
    assert shown == {"status_code": 202, "body": {"message_uuid": "e2e-uuid-0001"}}
    assert "Sent: Nexmo accepted the message" in page.inner_text("#send-outcome")
    assert fake.bodies()[0]["message"]["content"]["text"] == "Hello from the test page"

    message = Message.objects.get()
    now = timezone.now()
    for status, at in [("delivered", now), ("read", now + timedelta(seconds=3))]:
        callback = {
            "message_uuid": "e2e-uuid-0001",
            "to": {"type": "whatsapp", "number": "447700900123"},
            "from": {"type": "whatsapp", "number": "447700900000"},
            "timestamp": at.isoformat().replace("+00:00", "Z"),
            "status": status,
            "client_ref": message.client_ref,
        }
        answer = httpx.post(
            provider.status_callback_url.replace("http://127.0.0.1:8000", live_server.url), json=callback, timeout=10
        )
        assert answer.status_code == 200

    page.goto("/messages/")
    row = page.locator(f"tr[data-client-ref='{message.client_ref}']")
    assert row.locator(".badge").inner_text() == "read"
    progress = row.locator("td.log-progress")
    assert re.fullmatch(r"Delivered \d\d:\d\d:\d\d", progress.locator("[data-step=delivered]").inner_text())
    assert re.fullmatch(r"Read \d\d:\d\d:\d\d", progress.locator("[data-step=read]").inner_text())


def test_the_provider_page_says_whether_callbacks_are_signed(page: Any, login: Any, staff_user: Any) -> None:
    unsigned = provider_make(nickname="Unsigned number")
    signed = provider_make(nickname="Signed number", signature_secret="s3cret-s3cret-s3cret-s3cret-s3cret")
    login(staff_user, "pw-owner-123")

    page.goto(f"/settings/channels/whatsapp/{unsigned.pk}/")
    shown = page.locator("dt:has-text('Signed callbacks') + dd").inner_text()
    assert shown.startswith("No") and "on file" not in shown
    assert page.locator("#unsigned-warning").is_visible()

    page.goto(f"/settings/channels/whatsapp/{signed.pk}/")
    assert page.locator("dt:has-text('Signed callbacks') + dd").inner_text() == "Yes: signature secret on file"
    assert page.locator("#unsigned-warning").count() == 0
