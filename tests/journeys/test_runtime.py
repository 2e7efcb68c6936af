"""Every node type run end to end against a faked Nexmo, plus restarts, opt-out, versioning and wake-ups."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from contacts.models import Consent, Contact
from contacts.services import event_record
from journeys import runtime, services
from journeys.models import Enrollment, EnrollmentState, ExitReason, Journey, JourneyStep
from providers.models import InboundMessage, Message, MessageStatus
from tests.journeys.factories import (
    TABLE_QUESTION,
    contact_make,
    journey_live,
    provider_make,
    template_make,
    window_open_contact,
)
from tests.providers.factories import FakeNexmo

pytestmark = pytest.mark.django_db


def enter(journey: Journey, contact: Contact, **props: Any) -> Enrollment:
    enrollment = services.enrollment_enter(journey=journey, contact=contact, trigger_properties=props)
    assert enrollment is not None
    services.enrollments_run(enrollment_ids=[enrollment.pk])
    enrollment.refresh_from_db()
    return enrollment


def later(seconds: int) -> Any:
    return timezone.now() + timedelta(seconds=seconds)


def test_send_template_uses_contact_and_event_values_and_exits(nexmo: FakeNexmo) -> None:
    provider = provider_make()
    template = template_make(provider, body="Hi {{1}}, code {{2}}")
    journey = journey_live(
        nodes=[
            {
                "id": "hello",
                "type": "send_template",
                "template": template.pk,
                "next": "end",
                "variables": {"1": {"field": "name"}, "2": {"event": "code"}},
            },
            {"id": "end", "type": "exit"},
        ]
    )
    enrollment = enter(journey, contact_make(name="Ann"), code="SPRING")
    assert enrollment.state == EnrollmentState.COMPLETED and enrollment.exit_reason == ExitReason.COMPLETED
    body = nexmo.bodies()[0]
    assert body["message"]["content"]["template"]["parameters"] == ["Ann", "SPRING"]
    message = Message.objects.get()
    assert message.origin == "journey" and message.origin_ref.startswith(f"journey:{journey.current_version_id}:hello:")


def test_send_text_inside_window_falls_back_outside_and_skips_without_fallback(nexmo: FakeNexmo) -> None:
    provider = provider_make()
    fallback = template_make(provider, name="fallback")
    nodes: list[dict[str, Any]] = [
        {"id": "text", "type": "send_text", "text": "Hello there", "fallback_template": fallback.pk, "next": "end"},
        {"id": "end", "type": "exit"},
    ]
    journey = journey_live(nodes=nodes, provider=provider)
    enter(journey, window_open_contact())
    enter(journey, contact_make())
    contents = [b["message"]["content"] for b in nexmo.bodies()]
    assert contents[0] == {"type": "text", "text": "Hello there"}
    assert contents[1]["type"] == "template" and contents[1]["template"]["name"].endswith(":fallback")

    bare = journey_live(
        name="No fallback", nodes=[{**nodes[0], "fallback_template": None}, nodes[1]], provider=provider
    )
    skipped = enter(bare, contact_make())
    assert skipped.state == EnrollmentState.COMPLETED and len(nexmo.requests) == 2
    assert JourneyStep.objects.get(enrollment=skipped, node="text").outcome == "skipped"


def test_wait_seconds_holds_until_due_then_tick_advances(nexmo: FakeNexmo) -> None:
    journey = journey_live(
        nodes=[
            {"id": "pause", "type": "wait", "seconds": 3600, "next": "mark"},
            {"id": "mark", "type": "update_property", "property": "welcomed", "value": True, "next": "end"},
            {"id": "end", "type": "exit"},
        ]
    )
    contact = contact_make(properties={"plan": "gold"})
    enrollment = enter(journey, contact)
    assert enrollment.state == EnrollmentState.WAITING and enrollment.node == "pause"
    assert services.journeys_tick(now=later(60)) == 0
    assert services.journeys_tick(now=later(3601)) == 2
    enrollment.refresh_from_db()
    contact.refresh_from_db()
    assert enrollment.state == EnrollmentState.COMPLETED
    assert contact.properties == {"plan": "gold", "welcomed": True}


def test_wait_until_local_time_and_until_property() -> None:
    journey = journey_live(
        nodes=[
            {"id": "nine", "type": "wait", "until_local_time": "09:00", "next": "renewal"},
            {"id": "renewal", "type": "wait", "until_property": "renews_on", "next": "end"},
            {"id": "end", "type": "exit"},
        ]
    )
    contact = contact_make(timezone="Asia/Tokyo", properties={"renews_on": "2999-01-01"})
    enrollment = enter(journey, contact)
    assert enrollment.next_run_at is not None
    local = enrollment.next_run_at.astimezone(ZoneInfo("Asia/Tokyo"))
    assert (local.hour, local.minute) == (9, 0)
    services.journeys_tick(now=enrollment.next_run_at)
    enrollment.refresh_from_db()
    assert enrollment.node == "renewal"
    assert enrollment.next_run_at == datetime(2999, 1, 1, tzinfo=ZoneInfo("Asia/Tokyo"))  # midnight, local time

    no_date = enter(
        journey_live(
            name="b",
            nodes=[
                {"id": "renewal", "type": "wait", "until_property": "renews_on", "next": "end"},
                {"id": "end", "type": "exit"},
            ],
        ),
        contact_make(),
    )
    assert no_date.state == EnrollmentState.COMPLETED  # no date: the wait is skipped, not stuck


def reply_journey(provider: Any, payload: str | None = "YES") -> Journey:
    welcome = template_make(provider, name="welcome")
    coupon = template_make(provider, name="coupon")
    return journey_live(
        nodes=[
            {"id": "welcome", "type": "send_template", "template": welcome.pk, "next": "answer"},
            {
                "id": "answer",
                "type": "wait_for_reply",
                "message_node": "welcome",
                "payload": payload,
                "timeout_seconds": 86400,
                "next": "coupon",
                "timeout_next": "end",
            },
            {"id": "coupon", "type": "send_template", "template": coupon.pk, "next": "end"},
            {"id": "end", "type": "exit"},
        ]
    )


def inbound(provider: Any, contact: Contact, *, payload: str = "", text: str = "") -> InboundMessage:
    return InboundMessage.objects.create(
        provider=provider,
        contact=contact,
        message_uuid=f"in-{InboundMessage.objects.count()}",
        from_number=contact.phone,
        content_type="button" if payload else "text",
        text=text,
        button_payload=payload,
        button_text=payload.title(),
        raw={},
        received_at=timezone.now(),
    )


def test_wait_for_reply_takes_the_reply_path_on_the_matching_button(
    nexmo: FakeNexmo, django_capture_on_commit_callbacks: Any
) -> None:
    provider = provider_make()
    journey = reply_journey(provider)
    contact = contact_make()
    enrollment = enter(journey, contact)
    assert enrollment.state == EnrollmentState.WAITING and enrollment.wait_message_id == Message.objects.get().pk
    with django_capture_on_commit_callbacks(execute=True):
        services.inbound_react(inbound=inbound(provider, contact, payload="NO"), contact=contact, keyword=None)
    assert len(nexmo.requests) == 1  # another button does not count
    with django_capture_on_commit_callbacks(execute=True):
        services.inbound_react(inbound=inbound(provider, contact, payload="YES"), contact=contact, keyword=None)
    enrollment.refresh_from_db()
    assert enrollment.state == EnrollmentState.COMPLETED
    assert [b["message"]["content"]["template"]["name"].split(":")[1] for b in nexmo.bodies()] == ["welcome", "coupon"]
    assert services.journeys_tick(now=later(90000)) == 0


def test_wait_for_reply_times_out_to_its_timeout_path(nexmo: FakeNexmo) -> None:
    journey = reply_journey(provider_make())
    enrollment = enter(journey, contact_make())
    services.journeys_tick(now=later(86401))
    enrollment.refresh_from_db()
    assert enrollment.state == EnrollmentState.COMPLETED and len(nexmo.requests) == 1
    assert JourneyStep.objects.get(enrollment=enrollment, node="answer", outcome="timed_out")


def test_branch_on_message_status_waits_for_the_callback(
    nexmo: FakeNexmo, django_capture_on_commit_callbacks: Any
) -> None:
    provider = provider_make()
    template = template_make(provider)
    journey = journey_live(
        nodes=[
            {"id": "hello", "type": "send_template", "template": template.pk, "next": "seen"},
            {
                "id": "seen",
                "type": "branch",
                "yes": "yes",
                "no": "no",
                "condition": {"type": "message", "node": "hello", "status": "read", "within_seconds": 3600},
            },
            {"id": "yes", "type": "update_property", "property": "saw_it", "value": True, "next": "end"},
            {"id": "no", "type": "update_property", "property": "saw_it", "value": False, "next": "end"},
            {"id": "end", "type": "exit"},
        ]
    )
    contact = contact_make()
    enrollment = enter(journey, contact)
    assert enrollment.state == EnrollmentState.WAITING and enrollment.node == "seen"
    Message.objects.update(status=MessageStatus.READ)
    with django_capture_on_commit_callbacks(execute=True):
        services.status_react(message=Message.objects.get())
    contact.refresh_from_db()
    assert contact.properties == {"saw_it": True}

    other = contact_make()
    second = enter(journey, other)
    services.journeys_tick(now=later(3601))
    other.refresh_from_db()
    second.refresh_from_db()
    assert other.properties == {"saw_it": False} and second.state == EnrollmentState.COMPLETED


def test_branch_on_property_and_on_event_since_entry(django_capture_on_commit_callbacks: Any) -> None:
    journey = journey_live(
        nodes=[
            {
                "id": "gold",
                "type": "branch",
                "condition": {"type": "property", "property": "plan", "op": "eq", "value": "gold"},
                "yes": "bought",
                "no": "end",
            },
            {
                "id": "bought",
                "type": "branch",
                "condition": {"type": "event", "event": "purchase"},
                "yes": "vip",
                "no": "end",
            },
            {"id": "vip", "type": "update_property", "property": "vip", "value": 1, "next": "end"},
            {"id": "end", "type": "exit"},
        ]
    )
    gold = contact_make(properties={"plan": "gold"})
    enter(journey, gold)
    assert list(JourneyStep.objects.filter(node__in=["gold", "bought"]).values_list("outcome", flat=True)) == [
        "yes",
        "no",
    ]
    vip = contact_make(properties={"plan": "gold"})
    enrollment = services.enrollment_enter(journey=journey, contact=vip)
    assert enrollment is not None
    event_record(contact=vip, name="purchase")
    services.enrollments_run(enrollment_ids=[enrollment.pk])
    vip.refresh_from_db()
    assert vip.properties["vip"] == 1


def test_split_sends_shares_to_branches_and_holds_out_the_rest() -> None:
    journey = journey_live(
        nodes=[
            {
                "id": "ab",
                "type": "split",
                "branches": [{"percent": 50, "next": "a"}, {"percent": 30, "next": "b"}, {"percent": 20, "next": None}],
            },
            {"id": "a", "type": "update_property", "property": "arm", "value": "a", "next": "end"},
            {"id": "b", "type": "update_property", "property": "arm", "value": "b", "next": "end"},
            {"id": "end", "type": "exit"},
        ],
        reentry="always",
    )
    contacts = [contact_make() for _ in range(60)]
    for contact in contacts:
        enter(journey, contact)
    arms = [Contact.objects.get(pk=c.pk).properties.get("arm", "held") for c in contacts]
    assert {"a", "b", "held"} == set(arms)
    assert arms.count("a") > arms.count("held")
    assert Enrollment.objects.filter(exit_reason=ExitReason.HELD_OUT).count() == arms.count("held")


def test_update_property_keeps_other_properties() -> None:
    journey = journey_live(
        nodes=[
            {"id": "set", "type": "update_property", "property": "tier", "value": {"level": 2}, "next": "end"},
            {"id": "end", "type": "exit"},
        ]
    )
    contact = contact_make(properties={"city": "Leeds", "tier": "old"})
    enter(journey, contact)
    contact.refresh_from_db()
    assert contact.properties == {"city": "Leeds", "tier": {"level": 2}}


def test_restarted_step_never_sends_twice(nexmo: FakeNexmo, monkeypatch: pytest.MonkeyPatch) -> None:
    provider = provider_make()
    journey = journey_live(
        nodes=[
            {"id": "hello", "type": "send_template", "template": template_make(provider).pk, "next": "end"},
            {"id": "end", "type": "exit"},
        ]
    )
    enrollment = services.enrollment_enter(journey=journey, contact=contact_make())
    assert enrollment is not None

    def crash(**_: Any) -> None:
        raise RuntimeError("worker killed right after the message was queued")

    monkeypatch.setattr(runtime, "step_sent", crash)
    with pytest.raises(RuntimeError):
        services.enrollments_run(enrollment_ids=[enrollment.pk])
    assert nexmo.requests == []  # queued in the outbox, not sent from inside the walk
    assert Message.objects.get().status == "queued"
    monkeypatch.undo()
    enrollment.refresh_from_db()
    assert enrollment.state == EnrollmentState.ACTIVE  # still claimed: nobody else runs it until the lease ends
    assert services.journeys_tick() == 0
    services.journeys_tick(now=later(int(runtime.LEASE.total_seconds()) + 1))
    enrollment.refresh_from_db()
    assert enrollment.state == EnrollmentState.COMPLETED
    assert len(nexmo.requests) == 1 and Message.objects.count() == 1
    assert JourneyStep.objects.get(enrollment=enrollment, node="hello").message_id == Message.objects.get().pk


def test_opted_out_contact_gets_nothing_and_exits(nexmo: FakeNexmo) -> None:
    provider = provider_make()
    journey = reply_journey(provider)
    assert (
        services.enrollment_enter(journey=journey, contact=contact_make(whatsapp_consent=Consent.UNSUBSCRIBED)) is None
    )
    contact = contact_make()
    enrollment = services.enrollment_enter(journey=journey, contact=contact)
    assert enrollment is not None
    Contact.objects.filter(pk=contact.pk).update(whatsapp_consent=Consent.UNSUBSCRIBED)
    services.enrollments_run(enrollment_ids=[enrollment.pk])
    enrollment.refresh_from_db()
    assert enrollment.exit_reason == ExitReason.OPTED_OUT and not nexmo.requests


def test_stop_keyword_exits_a_waiting_enrollment(nexmo: FakeNexmo) -> None:
    provider = provider_make()
    contact = contact_make()
    enrollment = enter(reply_journey(provider), contact)
    services.inbound_react(inbound=inbound(provider, contact, text="STOP"), contact=contact, keyword="opt_out")
    enrollment.refresh_from_db()
    assert enrollment.state == EnrollmentState.EXITED and enrollment.exit_reason == ExitReason.OPTED_OUT


def test_goal_event_exits_as_converted(nexmo: FakeNexmo, django_capture_on_commit_callbacks: Any) -> None:
    journey = reply_journey(provider_make())
    Journey.objects.filter(pk=journey.pk).update(goal_event="purchase")
    contact = contact_make()
    enrollment = enter(journey, contact)
    with django_capture_on_commit_callbacks(execute=True):
        event_record(contact=contact, name="purchase")
    enrollment.refresh_from_db()
    assert enrollment.exit_reason == ExitReason.CONVERTED


def test_edit_of_live_journey_publishes_a_version_and_running_contacts_keep_theirs(nexmo: FakeNexmo) -> None:
    provider = provider_make()
    journey = journey_live(
        nodes=[{"id": "pause", "type": "wait", "seconds": 60, "next": "end"}, {"id": "end", "type": "exit"}],
        reentry="always",
    )
    first = enter(journey, contact_make())
    template = template_make(provider)
    journey = services.journey_update(
        journey=journey,
        data={
            "nodes": [
                {"id": "pause", "type": "wait", "seconds": 60, "next": "hi"},
                {"id": "hi", "type": "send_template", "template": template.pk, "next": "end"},
                {"id": "end", "type": "exit"},
            ]
        },
    )
    assert journey.current_version is not None and journey.current_version.number == 2
    second = enter(journey, contact_make())
    services.journeys_tick(now=later(61))
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.version.number == 1 and second.version.number == 2
    assert first.state == second.state == EnrollmentState.COMPLETED
    assert len(nexmo.requests) == 1  # only the contact on version 2 got the new message


def test_event_trigger_with_filters_enters_once_and_respects_the_entry_limit(
    django_capture_on_commit_callbacks: Any,
) -> None:
    journey_live(
        nodes=[{"id": "pause", "type": "wait", "seconds": 60, "next": "end"}, {"id": "end", "type": "exit"}],
        trigger={"type": "event", "event": "signup", "filters": {"plan": "gold"}},
        entry_limit=2,
    )
    contacts = [contact_make() for _ in range(4)]
    with django_capture_on_commit_callbacks(execute=True):
        event_record(contact=contacts[0], name="signup", properties={"plan": "free"})
        event_record(contact=contacts[1], name="signup", properties={"plan": "gold"})
        event_record(contact=contacts[1], name="signup", properties={"plan": "gold"})
        event_record(contact=contacts[2], name="signup", properties={"plan": "gold"})
        event_record(contact=contacts[3], name="signup", properties={"plan": "gold"})
    entered = set(Enrollment.objects.values_list("contact_id", flat=True))
    assert entered == {contacts[1].pk, contacts[2].pk}


def test_keyword_and_quick_reply_triggers(django_capture_on_commit_callbacks: Any) -> None:
    provider = provider_make()
    nodes = [{"id": "end", "type": "exit"}]
    by_keyword = journey_live(name="k", nodes=nodes, trigger={"type": "inbound_keyword", "keyword": "join"})
    by_button = journey_live(name="b", nodes=nodes, trigger={"type": "quick_reply", "payload": "YES"})
    contact = contact_make()
    services.inbound_react(inbound=inbound(provider, contact, text=" JOIN "), contact=contact, keyword=None)
    services.inbound_react(inbound=inbound(provider, contact, payload="YES"), contact=contact, keyword=None)
    assert set(Enrollment.objects.values_list("journey_id", flat=True)) == {by_keyword.pk, by_button.pk}


def test_quiet_hours_hold_a_send_until_they_end(nexmo: FakeNexmo) -> None:
    provider = provider_make()
    now = timezone.now()
    start = (now - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (now + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    journey = journey_live(
        nodes=[
            {"id": "hello", "type": "send_template", "template": template_make(provider).pk, "next": "end"},
            {"id": "end", "type": "exit"},
        ],
        quiet_hours_start=start,
        quiet_hours_end=end,
    )
    enrollment = enter(journey, contact_make(timezone="UTC"))
    assert enrollment.state == EnrollmentState.WAITING and not nexmo.requests
    services.journeys_tick(now=enrollment.next_run_at)
    assert len(nexmo.requests) == 1


def test_frequency_cap_skips_the_send(nexmo: FakeNexmo) -> None:
    provider = provider_make()
    template = template_make(provider)
    nodes: list[dict[str, Any]] = [
        {"id": "hello", "type": "send_template", "template": template.pk, "next": "again"},
        {"id": "again", "type": "send_template", "template": template.pk, "next": "end"},
        {"id": "end", "type": "exit"},
    ]
    enrollment = enter(journey_live(nodes=nodes, cap_messages=1, cap_days=1), contact_make())
    assert len(nexmo.requests) == 1
    assert JourneyStep.objects.get(enrollment=enrollment, node="again").outcome == "capped"


def test_step_rows_keep_any_detail_text_and_a_repeat_is_ignored() -> None:
    journey = journey_live(
        nodes=[{"id": "pause", "type": "wait", "seconds": 60, "next": "end"}, {"id": "end", "type": "exit"}]
    )
    enrollment = enter(journey, contact_make())
    detail = 'a "quoted" \\ back{slash}, comma'
    row = (enrollment.pk, journey.pk, enrollment.version_id, "end", 7, "skipped", detail, None, timezone.now())
    runtime._steps_insert([row])
    runtime._steps_insert([row])
    assert list(JourneyStep.objects.filter(visit=7).values_list("detail", flat=True)) == [detail]


def test_paused_journey_holds_its_contacts_and_stop_exits_them() -> None:
    journey = journey_live(
        nodes=[{"id": "pause", "type": "wait", "seconds": 60, "next": "end"}, {"id": "end", "type": "exit"}]
    )
    enrollment = enter(journey, contact_make())
    services.journey_pause(journey=journey)
    assert services.enrollment_enter(journey=journey, contact=contact_make()) is None
    assert services.journeys_tick(now=later(120)) == 0
    services.journey_stop(journey=journey)
    enrollment.refresh_from_db()
    assert enrollment.state == EnrollmentState.EXITED and enrollment.exit_reason == ExitReason.STOPPED


def test_publishing_creates_the_tick_schedule_once() -> None:
    from django_q.models import Schedule

    nodes = [{"id": "end", "type": "exit"}]
    journey_live(name="one", nodes=nodes)
    journey_live(name="two", nodes=nodes)
    assert list(Schedule.objects.values_list("func", flat=True)) == ["journeys.tasks.journeys_tick"]


def test_reentry_rules() -> None:
    nodes = [{"id": "end", "type": "exit"}]
    contact = contact_make()
    never = journey_live(name="never", nodes=nodes, reentry="never")
    always = journey_live(name="always", nodes=nodes, reentry="always")
    later_days = journey_live(name="days", nodes=nodes, reentry="after_days", reentry_days=7)
    for journey in (never, always, later_days):
        enter(journey, contact)
    assert services.enrollment_enter(journey=never, contact=contact) is None
    assert services.enrollment_enter(journey=always, contact=contact) is not None
    assert services.enrollment_enter(journey=later_days, contact=contact) is None
    Enrollment.objects.filter(journey=later_days).update(entered_at=timezone.now() - timedelta(days=8))
    assert services.enrollment_enter(journey=later_days, contact=contact) is not None


def test_segment_entry_enters_new_members_once() -> None:
    from contacts.models import Segment

    segment = Segment.objects.create(
        name="Gold",
        definition={
            "match": "all",
            "groups": [
                {"match": "all", "conditions": [{"type": "property", "key": "plan", "op": "eq", "value": "gold"}]}
            ],
        },
    )
    journey = journey_live(
        nodes=[{"id": "pause", "type": "wait", "seconds": 60, "next": "end"}, {"id": "end", "type": "exit"}],
        trigger={"type": "segment_entry", "segment": segment.pk},
    )
    gold = contact_make(properties={"plan": "gold"})
    contact_make(properties={"plan": "free"})
    assert services.segment_entries_check() == 1
    assert services.segment_entries_check() == 0
    late = contact_make(properties={"plan": "gold"})
    assert services.segment_entries_check() == 1
    assert set(Enrollment.objects.filter(journey=journey).values_list("contact_id", flat=True)) == {gold.pk, late.pk}


def test_a_batch_of_events_enters_its_journey_in_one_task_and_runs_the_entries_together(
    marketer_api: Any, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    journey = journey_live(
        nodes=[
            {"id": "mark", "type": "update_property", "property": "welcomed", "value": True, "next": "end"},
            {"id": "end", "type": "exit"},
        ]
    )
    contacts = Contact.objects.bulk_create(
        [Contact(phone=f"+4477009{n:05d}", whatsapp_consent=Consent.SUBSCRIBED) for n in range(400)]
    )
    from journeys import receivers

    tasks: list[tuple[str, int]] = []
    real = receivers.async_task

    def counted(name: str, *args: Any, **kwargs: Any) -> Any:
        tasks.append((name, len(args[0]) if args else 0))
        return real(name, *args, **kwargs)

    monkeypatch.setattr(receivers, "async_task", counted)
    runs: list[int] = []
    real_run = services.enrollments_run

    def counted_run(*, enrollment_ids: list[int], **kwargs: Any) -> int:
        runs.append(len(enrollment_ids))
        return real_run(enrollment_ids=enrollment_ids, **kwargs)

    monkeypatch.setattr(services, "enrollments_run", counted_run)
    events = [{"phone": c.phone, "name": "signup", "event_id": f"e-{c.pk}"} for c in contacts]
    with django_capture_on_commit_callbacks(execute=True):
        response = marketer_api.post("/api/v1/events/", {"events": events}, format="json")

    assert response.status_code == 200
    assert tasks == [("journeys.tasks.events_react", 400)]
    assert runs == [400]  # one claim and one walk for every entry, not a task each
    assert Enrollment.objects.filter(journey=journey, state=EnrollmentState.COMPLETED).count() == 400
    assert Contact.objects.filter(properties__welcomed=True).count() == 400
    journey.refresh_from_db()
    assert journey.entered_count == 400  # counted once for the batch


def _timer_journey(seconds: int) -> Journey:
    return journey_live(
        nodes=[
            {"id": "pause", "type": "wait", "seconds": seconds, "next": "mark"},
            {"id": "mark", "type": "update_property", "property": "woken", "value": True, "next": "end"},
            {"id": "end", "type": "exit"},
        ]
    )


def test_the_clock_runs_a_timed_step_within_a_second_of_its_due_time(settings: Any) -> None:
    from django_q.models import Schedule

    settings.JOURNEYS_CLOCK_SECONDS = 10
    kicked: list[str] = []
    with pytest.MonkeyPatch.context() as patch:
        # The wait asks for a clock (a task); it is run here instead, to watch it.
        patch.setattr(services, "async_task", lambda name, *a, **k: kicked.append(name))
        journey = _timer_journey(2)
        enrollment = enter(journey, contact_make())
        assert kicked == ["journeys.tasks.journeys_clock"]
        due = Enrollment.objects.get(pk=enrollment.pk).next_run_at
        assert due is not None
        services.journeys_clock(budget_seconds=4, sleep=time.sleep)
    enrollment.refresh_from_db()
    assert enrollment.state == EnrollmentState.COMPLETED
    finished = JourneyStep.objects.get(enrollment=enrollment, node="mark").created_at
    assert timedelta(0) <= finished - due < timedelta(seconds=1.5)
    assert not Schedule.objects.filter(name=services.CLOCK_WAKE_SCHEDULE).exists()


def test_one_clock_at_a_time_and_a_far_wait_asks_the_scheduler_to_wake_one_early(settings: Any) -> None:
    from django_q.models import Schedule

    from journeys.models import JourneyClock

    settings.JOURNEYS_CLOCK_SECONDS = 5
    JourneyClock.objects.create(pk=1, token="other", until=timezone.now() + timedelta(seconds=30))
    assert services.journeys_clock(budget_seconds=1, sleep=lambda s: None) == 0  # another clock runs

    JourneyClock.objects.filter(pk=1).update(until=None)
    journey = _timer_journey(3600)
    enrollment = enter(journey, contact_make())
    wake = Schedule.objects.get(name=services.CLOCK_WAKE_SCHEDULE)
    assert wake.func == "journeys.tasks.journeys_clock" and enrollment.next_run_at is not None
    assert wake.next_run == enrollment.next_run_at - services.CLOCK_WAKE_EARLY
    # A nearer wait moves the wake-up earlier, never later.
    enter(_timer_journey(1800), contact_make())
    wake.refresh_from_db()
    assert wake.next_run < enrollment.next_run_at - timedelta(minutes=29)


def _waiting_journey(**extra: Any) -> Journey:
    return journey_live(
        nodes=[{"id": "pause", "type": "wait", "seconds": 3600, "next": "end"}, {"id": "end", "type": "exit"}], **extra
    )


def _signups(contacts: list[Contact], *names: str) -> list[Any]:
    """Stored events, as the events API records them: for each contact, one event of each name in order."""
    from contacts.models import Event

    now = timezone.now()
    return Event.objects.bulk_create(
        [
            Event(contact=contact, name=name, properties={"n": index}, occurred_at=now)
            for contact in contacts
            for index, name in enumerate(names)
        ]
    )


def test_a_batch_of_events_enters_with_a_few_statements_whatever_its_size(
    django_assert_max_num_queries: Any,
) -> None:
    journey = _waiting_journey()
    contacts = Contact.objects.bulk_create(
        [Contact(phone=f"+4477008{n:05d}", whatsapp_consent=Consent.SUBSCRIBED) for n in range(300)]
    )
    events = _signups(contacts, "signup")
    for event, contact in zip(events, contacts, strict=True):
        event.contact = contact
    # A query or two per contact would be hundreds here.
    with django_assert_max_num_queries(30):
        assert services.events_react(events=events) == 300
    assert Enrollment.objects.filter(journey=journey, state=EnrollmentState.WAITING).count() == 300
    journey.refresh_from_db()
    assert journey.entered_count == 300


def test_a_batch_enters_each_contact_once_with_its_first_event_and_keeps_the_entry_limit() -> None:
    journey = _waiting_journey(entry_limit=3)
    contacts = [contact_make() for _ in range(5)]
    events = _signups(contacts, "signup", "signup")
    assert services.events_react(events=events) == 3
    entered = Enrollment.objects.filter(journey=journey).order_by("contact_id")
    assert [e.contact_id for e in entered] == [c.pk for c in contacts[:3]]
    assert all(e.trigger_properties == {"n": 0} for e in entered)  # the first of the contact's two events
    journey.refresh_from_db()
    assert journey.entered_count == 3
    assert services.events_react(events=_signups(contacts[3:], "signup")) == 0  # the limit holds across batches


def test_a_goal_event_later_in_the_batch_converts_the_entry_but_an_earlier_one_does_not() -> None:
    journey = _waiting_journey(goal_event="purchase")
    bought_after, bought_before = contact_make(), contact_make()
    events = _signups([bought_after], "signup", "purchase") + _signups([bought_before], "purchase", "signup")
    services.events_react(events=events)
    after = Enrollment.objects.get(journey=journey, contact=bought_after)
    before = Enrollment.objects.get(journey=journey, contact=bought_before)
    assert (after.state, after.exit_reason) == (EnrollmentState.EXITED, ExitReason.CONVERTED)
    assert before.state == EnrollmentState.WAITING


def test_entries_skip_a_contact_that_entered_concurrently_and_enter_the_others() -> None:
    journey = _waiting_journey()
    raced, other = contact_make(), contact_make()
    version = journey.current_version
    assert version is not None
    rows = [
        Enrollment(journey=journey, version=version, contact=contact, node="pause", state=EnrollmentState.WAITING)
        for contact in (raced, other)
    ]
    # Entered by another worker between the check and the insert: the running-enrollment constraint refuses it.
    Enrollment.objects.create(journey=journey, version=version, contact=raced, node="pause")
    entered = services._enrollments_insert(rows)
    assert [e.contact_id for e in entered] == [other.pk]
    assert Enrollment.objects.filter(journey=journey, contact=raced).count() == 1


def test_a_batch_at_a_send_node_renders_every_contact_without_a_query_each(
    django_assert_max_num_queries: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = provider_make()
    template = template_make(provider, body="Hi {{1}}, {{2}}")
    journey = journey_live(
        nodes=[
            {
                "id": "hello",
                "type": "send_template",
                "template": template.pk,
                "next": "end",
                # Contact fields the walk itself does not read: loaded with the batch all the same.
                "variables": {"1": {"field": "name"}, "2": {"field": "email"}},
            },
            {"id": "end", "type": "exit"},
        ]
    )
    monkeypatch.setattr(runtime, "outbox_kick", lambda provider_ids: None)  # queued only; sending is not measured
    contacts = Contact.objects.bulk_create(
        [
            Contact(
                phone=f"+4477007{n:05d}", name=f"N{n}", email=f"n{n}@example.com", whatsapp_consent=Consent.SUBSCRIBED
            )
            for n in range(200)
        ]
    )
    version = journey.current_version
    assert version is not None
    rows = Enrollment.objects.bulk_create(
        Enrollment(journey=journey, version=version, contact=c, node="hello", next_run_at=timezone.now())
        for c in contacts
    )
    with django_assert_max_num_queries(40):
        services.enrollments_run(enrollment_ids=[row.pk for row in rows])
    texts = set(Message.objects.filter(origin="journey").values_list("content_summary", flat=True))
    assert len(texts) == 200 and any("Hi N7, n7@example.com" in text for text in texts)


def test_send_interactive_inside_window_falls_back_to_its_template_outside_and_skips_without_one(
    nexmo: FakeNexmo,
) -> None:
    provider = provider_make()
    fallback = template_make(provider, name="fallback")
    ask = {
        "id": "ask",
        "type": "send_interactive",
        "text": "Keep your table?",
        "footer": "Tap one",
        "buttons": [{"id": "yes", "title": "Yes"}, {"id": "no", "title": "No"}],
        "fallback_template": fallback.pk,
        "next": "end",
    }
    journey = journey_live(nodes=[ask, {"id": "end", "type": "exit"}], provider=provider)
    enter(journey, window_open_contact())
    enter(journey, contact_make())
    first, second = (b["message"]["content"] for b in nexmo.bodies())
    assert first["type"] == "custom" and first["custom"]["interactive"]["type"] == "button"
    assert [b["reply"]["id"] for b in first["custom"]["interactive"]["action"]["buttons"]] == ["yes", "no"]
    assert second["type"] == "template" and second["template"]["name"].endswith(":fallback")
    assert Message.objects.filter(content_type="interactive").count() == 1

    bare = journey_live(
        name="No fallback", nodes=[{**ask, "fallback_template": None}, {"id": "end", "type": "exit"}], provider=provider
    )
    skipped = enter(bare, contact_make())
    assert skipped.state == EnrollmentState.COMPLETED and len(nexmo.requests) == 2
    step = JourneyStep.objects.get(enrollment=skipped, node="ask")
    assert step.outcome == "skipped" and "24-hour window" in step.detail


def test_wait_for_reply_follows_the_option_of_the_tapped_reply_and_other_replies_take_next(
    nexmo: FakeNexmo, django_capture_on_commit_callbacks: Any
) -> None:
    provider = provider_make()
    journey = journey_live(nodes=TABLE_QUESTION, provider=provider)
    answers = {"NO": "released", "": "asked again"}
    for payload, expected in answers.items():
        contact = window_open_contact()
        enrollment = enter(journey, contact)
        assert enrollment.state == EnrollmentState.WAITING
        reply = inbound(provider, contact, payload=payload, text="" if payload else "which one?")
        with django_capture_on_commit_callbacks(execute=True):
            services.inbound_react(inbound=reply, contact=contact, keyword=None)
        contact.refresh_from_db()
        assert contact.properties["table"] == expected
        step = JourneyStep.objects.get(enrollment=enrollment, node="answer", outcome="replied")
        assert step.detail == ("no" if payload else "")
    timed_out = enter(journey, window_open_contact())
    services.journeys_tick(now=later(3601))
    timed_out.refresh_from_db()
    assert timed_out.state == EnrollmentState.COMPLETED
    from journeys.selectors import journey_stats

    stats = journey_stats(journey=journey)
    assert stats["replies"]["answer"] == {"no": 1, "": 1, "timeout": 1}  # each reply option counted on its own
    assert stats["nodes"]["answer"]["replied"] == 2
