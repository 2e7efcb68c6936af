"""The parts together: our gateway sends to the simulator, which calls back the live site as Nexmo would."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from contacts.models import Contact
from providers.content import TextContent
from providers.messaging.sending import message_send
from providers.models import CallbackLog, InboundMessage, Message, ProviderConfig
from providers.nexmo import client as nexmo_client
from providers.nexmo.payloads import body_build
from providers.services import provider_credentials
from templates_app.rendering import template_render
from templates_app.services import template_create
from tests.simulated import simulated_provider
from tests.templates_app.test_rendering import BUTTONS, HEADERS, make

CUSTOMER = "+447700900777"

pytestmark = pytest.mark.django_db(transaction=True)


def _wait_until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


@pytest.fixture
def wired(live_server: Any, settings: Any, request: pytest.FixtureRequest) -> Iterator[tuple[ProviderConfig, Any]]:
    settings.PUBLIC_BASE_URL = live_server.url
    with simulated_provider(api_version=getattr(request, "param", "v0.1")) as wired:
        yield wired


@pytest.mark.parametrize("wired", ["v0.1", "v1"], indirect=True)
def test_customer_writes_then_a_test_message_is_delivered_and_read(wired: tuple[ProviderConfig, Any]) -> None:
    provider, simulator = wired
    simulator.customer(from_number=CUSTOMER, to_number=provider.phone_number, text="Hi there")
    _wait_until(lambda: Contact.objects.filter(phone=CUSTOMER, last_inbound_at__isnull=False).exists())
    contact = Contact.objects.get(phone=CUSTOMER)
    assert InboundMessage.objects.get(contact=contact).text == "Hi there"

    result = message_send(
        provider=provider, to=CUSTOMER, content=TextContent("Thanks!"), origin="test", origin_ref="roundtrip"
    )

    assert result.status_code == 202
    message = Message.objects.get(pk=result.message.pk)
    _wait_until(lambda: Message.objects.filter(pk=message.pk, status="read").exists())
    message.refresh_from_db()
    assert message.submitted_at and message.delivered_at and message.read_at
    assert message.submitted_at <= message.delivered_at <= message.read_at
    # Every callback was signed by the simulator and accepted by our own verifier.
    assert not CallbackLog.objects.filter(response_status=401).exists()
    assert simulator.counters()["callbacks"]["failed"] == 0


def test_a_tap_on_a_template_quick_reply_comes_back_as_the_button_payload(wired: tuple[ProviderConfig, Any]) -> None:
    provider, simulator = wired
    template = template_create(
        provider=provider,
        data={
            "name": "spring_offer",
            "language": "en_GB",
            "category": "marketing",
            "status": "approved",
            "header_type": "image",
            "header_media_url": "https://cdn.example.com/spring.jpg",
            "body": "Hi {{1}}, want the offer?",
            "buttons": [
                {"type": "quick_reply", "text": "Yes", "payload": "YES"},
                {"type": "quick_reply", "text": "No", "payload": "NO"},
            ],
        },
        whatsapp_namespace=provider.whatsapp_namespace or "acme_ns",
    )
    content = template_render(template, parameters={"1": "Ann"})

    result = message_send(provider=provider, to=CUSTOMER, content=content, origin="test", origin_ref="tap")

    assert result.status_code == 202, result.body
    uuid = Message.objects.get(pk=result.message.pk).message_uuid
    _wait_until(lambda: Message.objects.filter(message_uuid=uuid, status="read").exists())
    simulator.customer(from_number=CUSTOMER, to_number=provider.phone_number, tap=uuid, index=0)
    _wait_until(lambda: InboundMessage.objects.filter(button_payload="YES").exists())
    assert InboundMessage.objects.get(button_payload="YES").contact.phone == CUSTOMER  # type: ignore[union-attr]


@pytest.mark.parametrize("wired", ["v0.1", "v1"], indirect=True)
def test_every_template_header_and_button_combination_is_accepted_by_nexmo_shapes(
    wired: tuple[ProviderConfig, Any],
) -> None:
    provider, simulator = wired
    credentials = provider_credentials(provider)
    refused = []
    for header_name, header in HEADERS.items():
        for buttons_name, buttons in BUTTONS.items():
            parameters = {"1": "Ann", "2": "SPRING"}
            if header_name == "text_variable":
                parameters["header"] = "Ann"
            if "dynamic" in buttons_name:
                parameters[f"button.{len(buttons) - 1}"] = "ORD-42"
            content = template_render(make(**header, buttons=buttons), parameters=parameters)
            body = body_build(
                api_version=provider.api_version,
                content=content,
                from_number=provider.phone_number,
                to=CUSTOMER,
                client_ref=f"combo-{header_name}-{buttons_name}"[:40],
                namespace="acme_ns",
            )
            try:
                nexmo_client.send(credentials=credentials, body=body)
            except Exception as exc:  # collect every refusal, then report them all
                refused.append(f"{header_name}+{buttons_name}: {exc}")
    assert refused == []
    assert simulator.counters()["accepted"] == len(HEADERS) * len(BUTTONS)
