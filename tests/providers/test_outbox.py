"""The outbox of a number: journey messages are queued by the walk and sent by one sender per number, at the
number's cap, held while their journey is paused, failed when it stops, and never sent twice."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

import httpx
import pytest
from django.db import connection
from django.utils import timezone

from journeys import services as journeys
from journeys.models import Journey
from providers.messaging import outbox
from providers.models import Message, MessageStatus, Origin, OutboxLease, ProviderConfig
from providers.nexmo.client import transport_override
from providers.services import provider_update
from tests.journeys.factories import journey_live, template_make
from tests.providers.factories import FakeNexmo, contact_make, message_make, provider_make

pytestmark = pytest.mark.django_db
S = MessageStatus


def _journey(provider: ProviderConfig) -> Journey:
    template = template_make(provider, name=f"welcome_{uuid.uuid4().hex[:8]}")
    return journey_live(
        nodes=[
            {"id": "hello", "type": "send_template", "template": template.pk, "next": "end"},
            {"id": "end", "type": "exit"},
        ]
    )


def _queued(provider: ProviderConfig, journey: Journey, count: int) -> list[int]:
    version = journey.current_version_id
    return [
        Message.objects.create(
            provider=provider,
            to=f"+4477009{n:05d}",
            client_ref=f"outbox-{provider.pk}-{journey.pk}-{n}",
            origin=Origin.JOURNEY,
            origin_ref=f"journey:{version}:hello:{n}:0",
            content_type="template",
            request_body={"client_ref": f"outbox-{provider.pk}-{journey.pk}-{n}", "to": {"number": "447700900001"}},
        ).pk
        for n in range(count)
    ]


def test_a_journey_step_queues_its_message_and_the_numbers_sender_sends_it_once(
    nexmo: FakeNexmo,
) -> None:
    provider = provider_make()
    journey = _journey(provider)
    contact = contact_make()

    enrollment = journeys.enrollment_enter(journey=journey, contact=contact)
    assert enrollment is not None
    journeys.enrollments_run(enrollment_ids=[enrollment.pk])

    message = Message.objects.get()
    assert message.status == S.SUBMITTED and message.origin == Origin.JOURNEY
    assert len(nexmo.requests) == 1
    assert outbox.outbox_send(provider_id=provider.pk) is not None  # a second kick finds nothing left
    assert len(nexmo.requests) == 1


def test_a_paused_journeys_messages_wait_and_go_on_resume_and_a_stopped_ones_never_go(nexmo: FakeNexmo) -> None:
    provider = provider_make()
    paused, stopped, live = _journey(provider), _journey(provider), _journey(provider)
    held = _queued(provider, paused, 3)
    dropped = _queued(provider, stopped, 2)
    going = _queued(provider, live, 2)
    journeys.journey_pause(journey=paused)
    journeys.journey_stop(journey=stopped)

    outbox.outbox_send(provider_id=provider.pk)

    statuses = dict(Message.objects.values_list("id", "status"))
    assert {statuses[pk] for pk in going} == {S.SUBMITTED}
    assert {statuses[pk] for pk in held} == {S.QUEUED}
    assert {statuses[pk] for pk in dropped} == {S.FAILED}
    assert set(Message.objects.filter(id__in=dropped).values_list("error_code", flat=True)) == {"journey_stopped"}
    assert len(nexmo.requests) == 2

    journeys.journey_resume(journey=paused)
    outbox.outbox_send(provider_id=provider.pk)  # what resume's kick does once committed
    assert set(Message.objects.filter(id__in=held).values_list("status", flat=True)) == {S.SUBMITTED}
    assert len(nexmo.requests) == 5


def test_one_sender_per_number_and_a_dead_senders_requests_are_never_sent_again(nexmo: FakeNexmo) -> None:
    provider = provider_make()
    journey = _journey(provider)
    ids = _queued(provider, journey, 3)
    OutboxLease.objects.create(provider=provider, token="alive", until=timezone.now() + timedelta(seconds=30))

    assert outbox.outbox_send(provider_id=provider.pk) is None  # another sender holds it
    assert nexmo.requests == []

    # That sender died mid-request: its lease runs out with one message `sending`.
    Message.objects.filter(pk=ids[0]).update(status=S.SENDING)
    OutboxLease.objects.filter(provider=provider).update(until=timezone.now() - timedelta(seconds=1))
    outbox.outbox_send(provider_id=provider.pk)

    statuses = dict(Message.objects.values_list("id", "status"))
    assert statuses[ids[0]] == S.UNKNOWN  # it may have reached Nexmo: settled, never resent
    assert [statuses[pk] for pk in ids[1:]] == [S.SUBMITTED, S.SUBMITTED]
    assert len(nexmo.requests) == 2


def test_a_switched_off_number_keeps_its_outbox_until_it_is_switched_back_on(nexmo: FakeNexmo) -> None:
    provider = provider_make(is_active=False)
    ids = _queued(provider, _journey(provider_make()), 2)
    Message.objects.filter(id__in=ids).update(provider=provider)

    outbox.outbox_send(provider_id=provider.pk)
    assert nexmo.requests == []

    provider_update(provider=provider, data={"is_active": True})
    outbox.outbox_send(provider_id=provider.pk)
    assert set(Message.objects.filter(id__in=ids).values_list("status", flat=True)) == {S.SUBMITTED}


@pytest.mark.django_db(transaction=True)
def test_the_outbox_sends_at_the_numbers_cap_beside_a_campaign_run() -> None:
    """A journey burst and a campaign-sized run on one number: together never above its cap."""
    from providers.messaging.dispatch import dispatch_run

    provider = provider_make(max_messages_per_second=50)
    journey = _journey(provider)
    _queued(provider, journey, 80)
    campaign_ids = [
        Message.objects.create(
            provider=provider,
            to="+447700900001",
            client_ref=f"cmp-{n}",
            origin=Origin.CAMPAIGN,
            origin_ref="7",
            content_type="template",
            request_body={"client_ref": f"cmp-{n}"},
        ).pk
        for n in range(300)
    ]
    sent: list[tuple[float, str]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append((time.monotonic(), request.content.decode()))
        return httpx.Response(202, json={"message_uuid": str(uuid.uuid4())})

    def campaign() -> None:
        try:
            left = list(campaign_ids)

            def next_ids(limit: int) -> list[int]:
                batch = left[:limit]
                del left[:limit]
                return batch

            dispatch_run(provider=provider, next_ids=next_ids, rate=1000, should_stop=lambda: False)
        finally:
            connection.close()

    with transport_override(FakeNexmo(answer).transport):
        thread = threading.Thread(target=campaign)
        thread.start()
        time.sleep(1.0)  # the campaign sends at the cap
        started = time.monotonic()
        outbox.outbox_send(provider_id=provider.pk)
        outbox_done = time.monotonic()
        thread.join(timeout=60)

    times = sorted(at for at, _ in sent)
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert busiest <= 51
    journey_sent = [at for at, body in sent if "outbox-" in body]
    assert len(journey_sent) == 80
    # The burst shares the number with the running campaign instead of queueing behind it.
    assert min(journey_sent) - started < 1.0
    assert outbox_done - started < 80 / 50 * 2 + 2


def test_the_sweep_restarts_a_numbers_sender_whose_kick_was_lost(nexmo: FakeNexmo) -> None:
    provider, busy = provider_make(), provider_make()
    ids = _queued(provider, _journey(provider), 2)
    _queued(busy, _journey(busy), 1)
    Message.objects.update(created_at=timezone.now() - timedelta(minutes=1))
    OutboxLease.objects.create(provider=busy, token="alive", until=timezone.now() + timedelta(seconds=30))

    assert outbox.outbox_sweep() == [provider.pk]  # the busy number's sender is at work already
    assert set(Message.objects.filter(id__in=ids).values_list("status", flat=True)) == {S.SUBMITTED}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("cap", [2, 200])
def test_pausing_a_journey_stops_its_requests_within_a_second(cap: int) -> None:
    provider = provider_make(max_messages_per_second=cap)
    journey = _journey(provider)
    _queued(provider, journey, 40 if cap == 2 else 1500)
    sent_at: list[float] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent_at.append(time.monotonic())
        return httpx.Response(202, json={"message_uuid": str(uuid.uuid4())})

    def send() -> None:
        try:
            outbox.outbox_send(provider_id=provider.pk)
        finally:
            connection.close()

    with transport_override(FakeNexmo(answer).transport):
        sender = threading.Thread(target=send)
        sender.start()
        deadline = time.monotonic() + 30
        while len(sent_at) < (2 if cap == 2 else 300) and time.monotonic() < deadline:
            time.sleep(0.01)
        journeys.journey_pause(journey=journey)
        paused_at = time.monotonic()
        sender.join(timeout=30)
    assert not sender.is_alive()
    assert max(sent_at) - paused_at < 1.0
    assert Message.objects.filter(status=S.QUEUED).exists()  # the rest waits for the resume


def test_a_persons_reply_goes_before_the_journey_sends_queued_ahead_of_it(nexmo: FakeNexmo) -> None:
    provider = provider_make()
    journey = _journey(provider)
    backlog = _queued(provider, journey, 40)
    reply = message_make(
        provider=provider,
        client_ref=f"inbox-reply-{provider.pk}",
        origin=Origin.INBOX,
        origin_ref="conversation:1:abc",
        request_body={"client_ref": f"inbox-reply-{provider.pk}", "to": {"number": "447700900999"}},
    ).pk
    assert outbox._next_ids(provider.pk, 5) == [reply, *backlog[:4]]

    outbox.outbox_send(provider_id=provider.pk)

    sent = [body["client_ref"] for body in nexmo.bodies()]
    assert len(sent) == 41
    assert sent[0] == f"inbox-reply-{provider.pk}"  # claimed and sent first, though queued last
