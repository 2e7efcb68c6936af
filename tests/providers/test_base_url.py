"""Where sends may go: Vonage's https API hosts and NEXMO_ALLOWED_BASE_URLS only, checked on save and at send time;
a base URL or key that cannot be used ends the send `failed` with its reason, never a 500 or a stuck `sending`."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from providers.content import TemplateContent
from providers.messaging.dispatch import dispatch_run
from providers.messaging.sending import message_prepare, message_send
from providers.models import Message, MessageStatus, ProviderConfig
from tests.providers.factories import FakeNexmo, provider_make, rsa_pem, window_open_contact

pytestmark = pytest.mark.django_db

REFUSED_URLS = [
    "http://127.0.0.1:18500/admin/x?x=",
    "ftp://api.nexmo.com",
    "http://api.nexmo.com",
    "https://evil.example.com",
    "https://api.nexmo.com.evil.example",
    "http://☃.net",
    "http://xn--zz.com",
]


def _form(**overrides: Any) -> dict[str, Any]:
    return {
        "phone_number": "+44 7700 900000",
        "application_id": "app-1",
        "private_key": rsa_pem(),
        "nickname": "Main",
        "api_version": "v0.1",
        "is_active": "on",
        **overrides,
    }


@pytest.fixture
def strict(settings: Any) -> None:
    """Production's allow-list: nothing besides Vonage's hosts and the simulator of `make run`."""
    settings.NEXMO_ALLOWED_BASE_URLS = ["http://127.0.0.1:8025"]


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_form_refuses_a_base_url_outside_the_allow_list(strict: None, staff_user: Any, url: str) -> None:
    client = Client()
    client.force_login(staff_user)
    response = client.post("/settings/channels/whatsapp/add/nexmo/", _form(api_base_url=url))
    assert response.status_code == 200
    assert response.context["form"].errors.get("api_base_url")
    assert not ProviderConfig.objects.exists()


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_api_refuses_a_base_url_outside_the_allow_list(strict: None, staff_api: Any, url: str) -> None:
    data = {"nickname": "Main", "phone_number": "+447700900000", "application_id": "a", "private_key": rsa_pem()}
    response = staff_api.post("/api/v1/providers/", {**data, "api_base_url": url}, format="json")
    assert response.status_code == 400, response.content
    assert "api_base_url" in response.json()
    assert not ProviderConfig.objects.exists()


@pytest.mark.parametrize(
    "url",
    ["https://api.nexmo.com", "https://api-eu.vonage.com", "https://api-us.vonage.com", "http://127.0.0.1:8025"],
)
def test_vonage_hosts_and_listed_origins_are_accepted(strict: None, staff_api: Any, url: str) -> None:
    data = {"nickname": "Main", "phone_number": "+447700900000", "application_id": "a", "private_key": rsa_pem()}
    response = staff_api.post("/api/v1/providers/", {**data, "api_base_url": url}, format="json")
    assert response.status_code == 201, response.content


def test_an_entry_without_a_port_allows_every_port_of_its_host(settings: Any, staff_api: Any) -> None:
    settings.NEXMO_ALLOWED_BASE_URLS = ["http://127.0.0.1"]
    data = {"nickname": "Main", "phone_number": "+447700900000", "application_id": "a", "private_key": rsa_pem()}
    response = staff_api.post("/api/v1/providers/", {**data, "api_base_url": "http://127.0.0.1:18500"}, format="json")
    assert response.status_code == 201
    settings.NEXMO_ALLOWED_BASE_URLS = ["http://127.0.0.1:8025"]
    response = staff_api.patch(
        f"/api/v1/providers/{response.json()['id']}/", {"api_base_url": "http://127.0.0.1:18501"}, format="json"
    )
    assert response.status_code == 400 and "api_base_url" in response.json()


def _send(provider: ProviderConfig) -> Message:
    contact = window_open_contact()
    result = message_send(
        provider=provider,
        to=contact.phone,
        content=TemplateContent(name="hello", language="en_GB"),
        origin="test",
        origin_ref="t",
    )
    return result.message


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_a_row_written_by_hand_is_refused_at_send_time(strict: None, nexmo: FakeNexmo, url: str) -> None:
    provider = provider_make(api_base_url=url)
    message = _send(provider)
    assert not nexmo.requests
    assert message.status == MessageStatus.FAILED
    assert message.error_code == "base_url" and "API base URL refused" in message.error_reason


def test_bulk_sends_to_a_refused_host_fail_without_a_request(strict: None, nexmo: FakeNexmo) -> None:
    provider = provider_make(api_base_url="http://127.0.0.1:18500/admin/x")
    message, _ = message_prepare(
        provider=provider,
        to=window_open_contact().phone,
        content=TemplateContent(name="hello", language="en_GB"),
        origin="test",
        origin_ref="b",
    )
    ids = [message.pk]
    report = dispatch_run(provider=provider, next_ids=lambda limit: [ids.pop()] if ids else [])
    assert not nexmo.requests
    assert report.failed == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED and message.error_code == "base_url"


def test_a_key_that_cannot_sign_fails_the_send_with_its_reason(nexmo: FakeNexmo) -> None:
    provider = provider_make()
    ProviderConfig.objects.filter(pk=provider.pk).update(private_key="-----BEGIN PRIVATE KEY-----\nbroken\n")
    provider.refresh_from_db()
    message = _send(provider)
    assert not nexmo.requests
    assert message.status == MessageStatus.FAILED
    assert message.error_code == "private_key" and "cannot sign" in message.error_reason
    assert "broken" not in message.error_reason


def test_test_message_with_an_unusable_base_url_answers_502_not_500(
    strict: None, nexmo: FakeNexmo, staff_api: Any
) -> None:
    provider = provider_make(api_base_url="http://☃.net")
    contact = window_open_contact()
    response = staff_api.post(
        f"/api/v1/providers/{provider.pk}/test-message/", {"to": contact.phone, "text": "hi"}, format="json"
    )
    assert response.status_code == 502
    assert response.json()["message"]["status"] == "failed"
    assert not Message.objects.filter(status=MessageStatus.SENDING).exists()
