"""message_send: refusals before Nexmo is called, outcomes recorded, nothing ever sent twice; auto-reply."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from django.test import Client, TestCase
from django.utils import timezone

from contacts.models import Consent
from providers.content import TemplateContent, TextContent
from providers.messaging.sending import SendRefused, message_send
from providers.models import Message, ProviderConfig
from tests.providers.factories import FakeNexmo, contact_make, provider_make, window_open_contact
from tests.vonage_fixtures import load

pytestmark = pytest.mark.django_db


def test_free_form_outside_the_window_is_refused_with_the_way_to_open_it(nexmo: FakeNexmo) -> None:
    provider = provider_make(phone_number="+447700900000")
    contact = contact_make(last_inbound_at=timezone.now() - timedelta(hours=25))
    with pytest.raises(SendRefused, match=r"https://wa\.me/447700900000"):
        message_send(
            provider=provider, to=contact.phone, content=TextContent(text="hi"), origin="test", origin_ref="t1"
        )
    assert not nexmo.requests and not Message.objects.exists()


@pytest.mark.parametrize(
    ("setup", "to", "origin", "match"),
    [
        ("inactive", None, "test", "switched off"),
        (None, "12", "test", "wrong number of digits|not a phone number"),
        ("opted_out", None, "campaign", "opted out"),
    ],
)
def test_other_refusals(nexmo: FakeNexmo, setup: str | None, to: str | None, origin: str, match: str) -> None:
    provider = provider_make(is_active=setup != "inactive")
    contact = window_open_contact(whatsapp_consent=Consent.UNSUBSCRIBED if setup == "opted_out" else "subscribed")
    with pytest.raises(SendRefused, match=match):
        message_send(
            provider=provider,
            to=to or contact.phone,
            content=TemplateContent(name="hi", language="en_GB"),
            origin=origin,
            origin_ref="x",
        )
    assert not nexmo.requests


def test_send_inside_the_window_is_submitted_with_its_uuid(nexmo: FakeNexmo) -> None:
    provider = provider_make()
    contact = window_open_contact()
    result = message_send(
        provider=provider, to=contact.phone, content=TextContent(text="Hello"), origin="test", origin_ref="t1"
    )
    message = result.message
    assert result.ok and result.status_code == 202
    assert message.status == "submitted" and message.message_uuid == result.body["message_uuid"]  # type: ignore[index]
    assert message.submitted_at is not None and message.contact == contact
    assert nexmo.bodies()[0]["client_ref"] == message.client_ref
    assert "Authorization" not in json.dumps(message.request_body)


def test_same_origin_and_recipient_is_never_sent_twice(nexmo: FakeNexmo) -> None:
    provider = provider_make()
    contact = window_open_contact()
    kwargs = dict(
        provider=provider,
        to=contact.phone,
        content=TextContent(text="Hello"),
        origin="journey",
        origin_ref="journey:1:node:a",
    )
    first = message_send(**kwargs)  # type: ignore[arg-type]
    second = message_send(**kwargs)  # type: ignore[arg-type]
    assert len(nexmo.requests) == 1
    assert second.duplicate and second.message.pk == first.message.pk


@pytest.mark.parametrize(
    ("status", "fixture", "expected"),
    [(422, "error-422.json", "rejected"), (429, "error-429.json", "failed"), (401, "error-401.json", "rejected")],
)
def test_nexmo_errors_are_recorded_with_code_and_reason(status: int, fixture: str, expected: str) -> None:
    from providers.nexmo import client

    provider = provider_make()
    contact = window_open_contact()
    handler = FakeNexmo(lambda request: httpx.Response(status, json=load(fixture)))
    with client.transport_override(handler.transport):
        result = message_send(
            provider=provider, to=contact.phone, content=TextContent(text="x"), origin="test", origin_ref="t"
        )
    message = result.message
    assert (message.status, result.status_code, result.body) == (expected, status, load(fixture))
    assert message.error_code and load(fixture)["title"] in message.error_reason
    assert message.failed_at is not None


def test_timeout_after_sending_leaves_the_message_unknown_and_a_callback_settles_it() -> None:
    from providers.nexmo import client

    provider = provider_make()
    contact = window_open_contact()

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    with client.transport_override(httpx.MockTransport(slow)):
        result = message_send(
            provider=provider, to=contact.phone, content=TextContent(text="x"), origin="test", origin_ref="t"
        )
    assert result.status_code is None and result.message.status == "unknown"
    # Sending again with the same reference does not call Nexmo: the outcome must be settled, not guessed.
    with client.transport_override(FakeNexmo().transport):
        again = message_send(
            provider=provider, to=contact.phone, content=TextContent(text="x"), origin="test", origin_ref="t"
        )
    assert again.duplicate and again.message.status == "unknown"
    status = load("v0.1-status-delivered.json") | {"client_ref": result.message.client_ref}
    Client().post(f"/callbacks/nexmo/{provider.callback_token}/status/", status, content_type="application/json")
    result.message.refresh_from_db()
    assert result.message.status == "delivered" and result.message.message_uuid == status["message_uuid"]


def _inbound(provider: ProviderConfig, uuid: str, text: str) -> None:
    payload = load("v0.1-inbound-text.json") | {
        "message_uuid": uuid,
        "timestamp": timezone.now().isoformat(),
        "message": {"content": {"type": "text", "text": text}},
    }
    with TestCase.captureOnCommitCallbacks(execute=True):
        Client().post(
            f"/callbacks/nexmo/{provider.callback_token}/inbound/",
            payload,
            content_type="application/json",
        )


def test_auto_reply_goes_to_an_untracked_sender_once_per_window(nexmo: FakeNexmo) -> None:
    provider = provider_make(auto_reply_enabled=True, auto_reply_text="Thanks! We'll be in touch.")
    _inbound(provider, "in-1", "hello")
    _inbound(provider, "in-2", "anyone there?")
    replies = Message.objects.filter(origin="auto_reply")
    assert replies.count() == 1 and len(nexmo.requests) == 1
    assert nexmo.bodies()[0]["message"]["content"] == {"type": "text", "text": "Thanks! We'll be in touch."}
    assert replies.get().status == "submitted"


def test_no_auto_reply_when_the_provider_says_no(nexmo: FakeNexmo) -> None:
    provider = provider_make(auto_reply_enabled=False, auto_reply_text="Thanks!")
    _inbound(provider, "in-1", "hello")
    assert not nexmo.requests
