"""Test sends (templates and providers, UI and API) refuse opted-out recipients and take at most 20 (issue 15,
point 10)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from contacts.models import Consent
from providers.models import Message
from tests.providers.factories import FakeNexmo, contact_make, provider_make, window_open_contact
from tests.templates_app.factories import template_make

pytestmark = pytest.mark.django_db


def _numbers(count: int) -> list[str]:
    return [f"+4477009{10000 + n:05d}" for n in range(count)]


@pytest.fixture
def staff(client: Client, staff_user: Any) -> Client:
    client.force_login(staff_user)
    return client


def test_template_test_send_refuses_an_opted_out_contact_with_a_reason(nexmo: FakeNexmo, staff_api: Any) -> None:
    template = template_make(provider=provider_make(), body="Hello there")
    out = contact_make(phone="+447700900444", whatsapp_consent=Consent.UNSUBSCRIBED)
    response = staff_api.post(
        f"/api/v1/templates/{template.pk}/test-send/", {"to": [out.phone, "+447700900555"]}, format="json"
    )
    assert response.status_code == 200, response.content
    results = {row["to"]: row for row in response.json()["results"]}
    assert not results[out.phone]["ok"] and "opted out" in results[out.phone]["error"]
    assert results["+447700900555"]["ok"]
    assert [body["to"]["number"] for body in nexmo.bodies()] == ["447700900555"]


def test_template_test_send_refuses_more_than_20_recipients(nexmo: FakeNexmo, staff_api: Any, staff: Client) -> None:
    template = template_make(provider=provider_make(), body="Hello there")
    response = staff_api.post(f"/api/v1/templates/{template.pk}/test-send/", {"to": _numbers(21)}, format="json")
    assert response.status_code == 400 and "20" in str(response.json())
    ok = staff_api.post(f"/api/v1/templates/{template.pk}/test-send/", {"to": _numbers(20)}, format="json")
    assert ok.status_code == 200
    nexmo.requests.clear()
    page = staff.post(f"/templates/{template.pk}/test/", {"to": ", ".join(_numbers(21))})
    assert page.status_code == 200 and "at most 20" in page.content.decode()
    assert not nexmo.requests


def test_template_test_send_page_shows_the_opt_out_per_recipient(nexmo: FakeNexmo, staff: Client) -> None:
    template = template_make(provider=provider_make(), body="Hello there")
    out = contact_make(phone="+447700900444", whatsapp_consent=Consent.UNSUBSCRIBED)
    page = staff.post(f"/templates/{template.pk}/test/", {"to": out.phone}).content.decode()
    assert "opted out" in page and not nexmo.requests


def test_provider_test_message_refuses_an_opted_out_contact(nexmo: FakeNexmo, staff_api: Any, staff: Client) -> None:
    provider = provider_make()
    out = window_open_contact(phone="+447700900444", whatsapp_consent=Consent.UNSUBSCRIBED)
    response = staff_api.post(
        f"/api/v1/providers/{provider.pk}/test-message/", {"to": out.phone, "text": "hi"}, format="json"
    )
    assert response.status_code == 400 and "opted out" in response.json()["detail"]
    page = staff.post(
        f"/settings/channels/whatsapp/{provider.pk}/test/",
        {"country_code": "+44", "number": "7700900444", "text": "hi"},
    )
    assert "opted out" in page.content.decode()
    assert not nexmo.requests and not Message.objects.exists()


def test_campaign_test_send_takes_at_most_20_test_profiles(nexmo: FakeNexmo, marketer_api: Any) -> None:
    from tests.campaigns.factories import campaign_make, setup_provider

    provider, template = setup_provider()
    campaign = campaign_make(provider=provider, template=template)
    for number in _numbers(21):
        contact_make(phone=number, is_test_profile=True, whatsapp_consent=Consent.SUBSCRIBED)
    response = marketer_api.post(f"/api/v1/campaigns/{campaign.pk}/test-send/", {}, format="json")
    assert response.status_code == 400 and "at most 20" in str(response.json())
    assert not nexmo.requests
