"""Human takeover: while a conversation is assigned, journeys hold their sends to that contact (they go once, in
order, when it is closed or unassigned) and the auto-reply stays quiet; opening a thread marks it read at Nexmo."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.utils import timezone

from contacts.models import Contact
from conversations import selectors, services
from conversations.models import Conversation
from journeys import services as journeys
from journeys.models import Enrollment, EnrollmentState, Journey
from providers.messaging import outbox
from providers.models import Message, MessageStatus, Origin, ProviderConfig
from providers.nexmo import client
from tests.conversations.factories import conversation_of, customer_writes
from tests.journeys.factories import journey_live, template_make
from tests.journeys.test_runtime import reply_journey
from tests.providers.factories import FakeNexmo, contact_make, provider_make

pytestmark = pytest.mark.django_db
PHONE = "+447700900201"


def _two_step_journey(provider: ProviderConfig) -> Journey:
    first = template_make(provider, name="welcome", body="Welcome!")
    second = template_make(provider, name="coupon", body="Here is your coupon.")
    return journey_live(
        name="Onboarding",
        nodes=[
            {"id": "hello", "type": "send_template", "template": first.pk, "next": "coupon"},
            {"id": "coupon", "type": "send_template", "template": second.pk, "next": "end"},
            {"id": "end", "type": "exit"},
        ],
    )


def _assigned(provider: ProviderConfig, user: Any) -> tuple[Contact, Conversation]:
    contact = contact_make(phone=PHONE)
    customer_writes(provider, PHONE, "I need a person, please")
    conversation = services.conversation_assign(conversation=conversation_of(provider, contact), user=user)
    return contact, conversation


def _enter(journey: Journey, contact: Contact, capture: Any) -> Enrollment:
    """Enter the contact and walk its first steps, running what waits for the commit (the outbox's kick)."""
    with capture(execute=True):
        enrollment = journeys.enrollment_enter(journey=journey, contact=contact)
        assert enrollment is not None
        journeys.enrollments_run(enrollment_ids=[enrollment.pk])
    return enrollment


def _sent_templates(nexmo: FakeNexmo) -> list[str]:
    return [body["message"]["content"]["template"]["name"].split(":")[1] for body in nexmo.bodies()]


@pytest.mark.parametrize("release", ["close", "unassign"])
def test_a_journey_sends_nothing_to_an_assigned_conversation_until_it_is_released_then_sends_once_in_order(
    nexmo: FakeNexmo, marketer_user: Any, django_capture_on_commit_callbacks: Any, release: str
) -> None:
    provider = provider_make()
    contact, conversation = _assigned(provider, marketer_user)
    journey = _two_step_journey(provider)

    _enter(journey, contact, django_capture_on_commit_callbacks)
    outbox.outbox_send(provider_id=provider.pk)

    held = Message.objects.filter(origin=Origin.JOURNEY).order_by("id")
    assert [m.status for m in held] == [MessageStatus.QUEUED, MessageStatus.QUEUED]
    assert not nexmo.requests
    assert selectors.held_journeys(conversation=conversation) == [("Onboarding", 2)]

    with django_capture_on_commit_callbacks(execute=True):
        if release == "close":
            services.conversation_close(conversation=conversation)
        else:
            services.conversation_assign(conversation=conversation, user=None)

    assert _sent_templates(nexmo) == ["welcome", "coupon"]
    assert set(held.values_list("status", flat=True)) == {MessageStatus.SUBMITTED}
    outbox.outbox_send(provider_id=provider.pk)  # a later kick finds nothing left to send
    assert len(nexmo.requests) == 2
    assert selectors.held_journeys(conversation=conversation) == []


def test_other_contacts_journey_messages_go_while_one_conversation_is_assigned(
    nexmo: FakeNexmo, marketer_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    provider = provider_make()
    _assigned(provider, marketer_user)
    journey = _two_step_journey(provider)
    other = contact_make(phone="+447700900202")

    _enter(journey, other, django_capture_on_commit_callbacks)
    outbox.outbox_send(provider_id=provider.pk)

    assert _sent_templates(nexmo) == ["welcome", "coupon"]


def _auto_reply_provider() -> ProviderConfig:
    return provider_make(auto_reply_enabled=True, auto_reply_text="Thanks! We'll be in touch.")


def _window_passes(contact: Contact) -> None:
    Contact.objects.filter(pk=contact.pk).update(last_inbound_at=timezone.now() - timedelta(hours=25))


@pytest.mark.parametrize("assigned", [True, False])
def test_the_auto_reply_does_not_fire_while_assigned(
    nexmo: FakeNexmo, marketer_user: Any, django_capture_on_commit_callbacks: Any, assigned: bool
) -> None:
    provider = _auto_reply_provider()
    contact = contact_make(phone=PHONE)
    with django_capture_on_commit_callbacks(execute=True):
        customer_writes(provider, PHONE, "Hello")
    assert Message.objects.filter(origin=Origin.AUTO_REPLY).count() == 1  # the first window earns one
    if assigned:
        services.conversation_assign(conversation=conversation_of(provider, contact), user=marketer_user)
    _window_passes(contact)

    with django_capture_on_commit_callbacks(execute=True):
        customer_writes(provider, PHONE, "Hello again, a day later")

    assert Message.objects.filter(origin=Origin.AUTO_REPLY).count() == (1 if assigned else 2)


def test_opening_a_thread_marks_the_latest_inbound_read_at_nexmo(
    nexmo: FakeNexmo, django_capture_on_commit_callbacks: Any
) -> None:
    provider = provider_make(api_version="v1")
    contact = contact_make(phone=PHONE)
    customer_writes(provider, PHONE, "one")
    latest = customer_writes(provider, PHONE, "two")
    conversation = conversation_of(provider, contact)
    assert conversation.unread_count == 2

    with django_capture_on_commit_callbacks(execute=True):
        services.conversation_read(conversation=conversation)

    patches = [r for r in nexmo.requests if r.method == "PATCH"]
    assert [r.url.path for r in patches] == [f"/v1/messages/{latest.message_uuid}"]
    assert json.loads(patches[0].content) == {"status": "read"}
    assert patches[0].headers["authorization"].startswith("Bearer ")
    conversation.refresh_from_db()
    assert conversation.unread_count == 0
    with django_capture_on_commit_callbacks(execute=True):
        services.conversation_read(conversation=conversation)  # nothing new: no second call
    assert len([r for r in nexmo.requests if r.method == "PATCH"]) == 1


def test_a_v0_1_number_has_no_mark_as_read_call(nexmo: FakeNexmo, django_capture_on_commit_callbacks: Any) -> None:
    provider = provider_make(api_version="v0.1")
    contact = contact_make(phone=PHONE)
    customer_writes(provider, PHONE, "one")
    conversation = conversation_of(provider, contact)

    with django_capture_on_commit_callbacks(execute=True):
        services.conversation_read(conversation=conversation)

    assert not [r for r in nexmo.requests if r.method == "PATCH"]
    conversation.refresh_from_db()
    assert conversation.unread_count == 0


def test_a_refused_mark_as_read_is_reported_not_raised() -> None:
    provider = provider_make(api_version="v1")
    inbound = customer_writes(provider, PHONE, "one")
    refuse = FakeNexmo(lambda request: httpx.Response(404, json={"title": "Not found", "detail": "No message"}))
    with client.transport_override(refuse.transport):
        assert services.inbound_mark_read(inbound=inbound) is False
    assert len(refuse.requests) == 1


def test_the_thread_shows_which_journeys_are_held(
    client: Any, nexmo: FakeNexmo, marketer_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    provider = provider_make()
    contact, conversation = _assigned(provider, marketer_user)
    _enter(_two_step_journey(provider), contact, django_capture_on_commit_callbacks)
    client.force_login(marketer_user)

    html = client.get(f"/inbox/{conversation.pk}/").content.decode()

    assert 'data-testid="held"' in html and "<strong>Onboarding</strong> (2 messages)" in html
    assert "They send when the conversation is closed or unassigned." in html


def test_a_journeys_wait_for_reply_still_sees_the_replies_while_its_sends_are_held(
    nexmo: FakeNexmo, marketer_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    provider = provider_make()
    contact, conversation = _assigned(provider, marketer_user)
    journey = reply_journey(provider)
    enrollment = _enter(journey, contact, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        customer_writes(provider, PHONE, content={"type": "button", "button": {"payload": "YES", "text": "Yes"}})

    enrollment.refresh_from_db()
    assert enrollment.state == EnrollmentState.COMPLETED  # the reply took the journey on to the coupon
    assert not nexmo.requests
    with django_capture_on_commit_callbacks(execute=True):
        services.conversation_close(conversation=conversation)
    assert _sent_templates(nexmo) == ["welcome", "coupon"]


def test_held_journey_messages_never_keep_later_sends_of_the_number_waiting(
    nexmo: FakeNexmo, marketer_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # A slow number fetches 5 messages a round: more held messages than that, queued first, must not stop the
    # inbox reply queued after them.
    provider = provider_make(max_messages_per_second=10)
    contact, _ = _assigned(provider, marketer_user)
    version = _two_step_journey(provider).current_version_id
    for n in range(8):
        Message.objects.create(
            provider=provider,
            contact=contact,
            to=PHONE,
            client_ref=f"held-{n}",
            origin=Origin.JOURNEY,
            origin_ref=f"journey:{version}:hello:{n}:0",
            content_type="template",
            request_body={"client_ref": f"held-{n}"},
        )
    other = _conversation_with(provider, "+447700900203")

    with django_capture_on_commit_callbacks(execute=True):
        reply = services.conversation_reply(conversation=other, author=marketer_user, text="On it!")

    reply.refresh_from_db()
    assert reply.status == MessageStatus.SUBMITTED
    assert Message.objects.filter(origin=Origin.JOURNEY, status=MessageStatus.QUEUED).count() == 8


def _conversation_with(provider: ProviderConfig, phone: str) -> Conversation:
    contact = contact_make(phone=phone)
    customer_writes(provider, phone, "Hello")
    return conversation_of(provider, contact)


def test_the_sweep_leaves_alone_a_number_whose_only_waiting_messages_are_held(
    nexmo: FakeNexmo, marketer_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    provider = provider_make()
    contact, _ = _assigned(provider, marketer_user)
    journey = _two_step_journey(provider)
    _enter(journey, contact, django_capture_on_commit_callbacks)
    Message.objects.filter(origin=Origin.JOURNEY).update(created_at=timezone.now() - timedelta(minutes=5))
    assert outbox.outbox_sweep() == []  # held on purpose: no lost kick to make up for
    other = contact_make(phone="+447700900322")
    _enter(journey, other, django_capture_on_commit_callbacks)
    Message.objects.filter(origin=Origin.JOURNEY, contact=other).update(
        status=MessageStatus.QUEUED, created_at=timezone.now() - timedelta(minutes=5)
    )
    assert outbox.outbox_sweep() == [provider.pk]
