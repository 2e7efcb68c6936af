"""Interactive messages end to end: a journey asks with reply buttons through the simulator, the customer taps one,
and the branch for that reply runs; a tap on an older message's button does not wake the wait."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from contacts.models import Contact
from contacts.services import event_record
from journeys.models import Enrollment, EnrollmentState, JourneyStep, StepOutcome
from providers.content import InteractiveContent
from providers.messaging.sending import message_send
from providers.models import InboundMessage, Message, ProviderConfig
from tests.integration.test_roundtrip import CUSTOMER, _wait_until
from tests.journeys.factories import TABLE_QUESTION, journey_live
from tests.simulated import simulated_provider

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(params=["v0.1", "v1"])
def wired(live_server: Any, settings: Any, request: pytest.FixtureRequest) -> Iterator[tuple[ProviderConfig, Any]]:
    settings.PUBLIC_BASE_URL = live_server.url
    with simulated_provider(api_version=request.param) as wired:
        yield wired


def test_the_tapped_reply_picks_its_branch_and_an_older_messages_tap_does_not_count(
    wired: tuple[ProviderConfig, Any],
) -> None:
    provider, simulator = wired
    simulator.customer(from_number=CUSTOMER, to_number=provider.phone_number, text="Hi, about my booking")
    _wait_until(lambda: Contact.objects.filter(phone=CUSTOMER, last_inbound_at__isnull=False).exists())
    contact = Contact.objects.get(phone=CUSTOMER)
    # An earlier question with buttons of the same ids: answering it later must not move the journey.
    older = message_send(
        provider=provider,
        to=CUSTOMER,
        content=InteractiveContent(body="Was the food good?", buttons=(("yes", "Yes"), ("no", "No"))),
        origin="test",
        origin_ref="older-question",
        contact=contact,
    )
    assert older.status_code == 202
    journey = journey_live(nodes=TABLE_QUESTION, trigger={"type": "event", "event": "booking"}, provider=provider)

    event_record(contact=contact, name="booking")
    asked = _wait_until_value(
        lambda: Message.objects.filter(origin_ref__contains=":ask:").exclude(message_uuid=None).first()
    )
    assert asked.content_type == "interactive"
    assert simulator.messages()[0]["buttons"] == [
        {"payload": "yes", "text": "Yes"},
        {"payload": "no", "text": "No"},
        {"payload": "later", "text": "Later"},
    ]

    simulator.customer(tap=older.message.message_uuid, index=0)  # "Yes", but to the older question
    tapped_old = _wait_until_value(lambda: InboundMessage.objects.filter(button_payload="yes").first())
    assert tapped_old.context_message_uuid == older.message.message_uuid
    enrollment = Enrollment.objects.get(journey=journey, contact=contact)
    assert enrollment.state == EnrollmentState.WAITING and enrollment.node == "answer"
    assert enrollment.replied_at is None

    simulator.customer(tap=asked.message_uuid, index=1)  # "No"
    _wait_until(lambda: Enrollment.objects.filter(pk=enrollment.pk, state=EnrollmentState.COMPLETED).exists())
    contact.refresh_from_db()
    assert contact.properties["table"] == "released"
    tapped = InboundMessage.objects.get(button_payload="no")
    assert (tapped.reply_id, tapped.reply_title, tapped.content_type) == ("no", "No", "reply")
    assert tapped.context_message_uuid == asked.message_uuid
    replied = JourneyStep.objects.get(enrollment=enrollment, node="answer", outcome=StepOutcome.REPLIED)
    assert replied.detail == "no"
    assert not JourneyStep.objects.filter(enrollment=enrollment, node__in=["kept", "other"]).exists()


def _wait_until_value(check: Any) -> Any:
    found: list[Any] = []

    def seen() -> bool:
        found.append(check())
        return bool(found[-1])

    _wait_until(seen)
    return found[-1]
