"""Journey writes: editing and publishing definitions, status changes, entering contacts, waking and running them."""

from __future__ import annotations

import logging
import time as monotonic_time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q, QuerySet
from django.utils import timezone
from django_q.tasks import async_task

from contacts.models import Consent, Contact, Event, Segment
from contacts.selectors import segment_contacts
from journeys import runtime
from journeys.definition import Problem, definition_problems, trigger_problems
from journeys.graph import first_slot_field, node_slots, slot_set, slot_target
from journeys.models import (
    RUNNABLE_STATES,
    Enrollment,
    EnrollmentState,
    ExitReason,
    Journey,
    JourneyClock,
    JourneyStatus,
    JourneyVersion,
    Reentry,
    SegmentMember,
    WaitKind,
)
from providers.messaging import transitions
from providers.messaging.outbox import outbox_kick_on_commit
from providers.models import InboundMessage, Message, MessageStatus, Origin
from templates_app.models import Template
from templates_app.rules import template_send_refusal

logger = logging.getLogger(__name__)

JOURNEY_FIELDS = (
    "name",
    "provider",
    "trigger",
    "reentry",
    "reentry_days",
    "goal_event",
    "entry_limit",
    "quiet_hours_start",
    "quiet_hours_end",
    "cap_messages",
    "cap_days",
    "entry_node",
    "nodes",
)
DEFINITION_FIELDS = ("trigger", "entry_node", "nodes")
SEGMENT_ENTRY_BATCH = 1000  # segment joiners entered per statement
TICK_SECONDS = 50.0  # one tick stops taking new batches after this; the next tick (every minute) carries on


class JourneyInvalid(ValidationError):
    """The definition cannot be saved or published; `problems` lists each one by node and field."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__([str(p) for p in problems])


def _template_ok(template_id: int) -> str | None:
    template = Template.objects.filter(pk=template_id).only("status", "name", "rejected_reason", "removed_at").first()
    if template is None:
        return f"There is no template {template_id}."
    return template_send_refusal(template)


def _segment_exists(segment_id: int) -> bool:
    return Segment.objects.filter(pk=segment_id).exists()


def journey_problems(*, journey: Journey, complete: bool = True) -> list[Problem]:
    """What stops this draft from being published (or, with complete=False, from being saved)."""
    problems = (
        trigger_problems(journey.trigger, segment_exists=_segment_exists) if (complete or journey.trigger) else []
    )
    problems += definition_problems(
        entry_node=journey.entry_node,
        nodes=journey.nodes,
        complete=complete,
        template_ok=_template_ok if complete else None,
    )
    if journey.reentry == Reentry.AFTER_DAYS and not journey.reentry_days:
        problems.append(Problem("", "reentry_days", "Give after how many days a contact may enter again."))
    if (journey.quiet_hours_start is None) != (journey.quiet_hours_end is None):
        problems.append(Problem("", "quiet_hours_end", "Give both the start and the end of quiet hours, or neither."))
    return problems


def _apply(journey: Journey, data: dict[str, Any]) -> None:
    for name in JOURNEY_FIELDS:
        if name in data:
            setattr(journey, name, data[name])


def journey_create(*, data: dict[str, Any]) -> Journey:
    """A draft journey; shape errors raise JourneyInvalid, loose ends are allowed until publish."""
    journey = Journey()
    _apply(journey, data)
    problems = journey_problems(journey=journey, complete=False)
    if problems:
        raise JourneyInvalid(problems)
    journey.save()
    return journey


def journey_update(*, journey: Journey, data: dict[str, Any]) -> Journey:
    """Edit a journey; a changed definition of a published (live or paused) journey is published as a new version."""
    if journey.status == JourneyStatus.STOPPED:
        raise JourneyInvalid([Problem("", "status", "A stopped journey cannot be edited; duplicate it instead.")])
    before = {name: getattr(journey, name) for name in DEFINITION_FIELDS}
    _apply(journey, data)
    published = journey.status in (JourneyStatus.LIVE, JourneyStatus.PAUSED)
    changed = any(getattr(journey, name) != value for name, value in before.items())
    problems = journey_problems(journey=journey, complete=published and changed)
    if problems:
        journey.refresh_from_db()
        raise JourneyInvalid(problems)
    with transaction.atomic():
        journey.save()
        if published and changed:
            _version_publish(journey)
    return journey


def _version_publish(journey: Journey) -> JourneyVersion:
    number = (journey.versions.aggregate(top=Max("number"))["top"] or 0) + 1
    version = JourneyVersion.objects.create(
        journey=journey, number=number, trigger=journey.trigger, entry_node=journey.entry_node, nodes=journey.nodes
    )
    journey.current_version = version
    journey.save(update_fields=["current_version", "updated_at"])
    return version


def journey_publish(*, journey: Journey) -> Journey:
    """Check the draft and make it live as a new version; contacts already inside finish on theirs."""
    if journey.status == JourneyStatus.STOPPED:
        raise JourneyInvalid([Problem("", "status", "A stopped journey cannot be published again.")])
    problems = journey_problems(journey=journey, complete=True)
    if problems:
        raise JourneyInvalid(problems)
    with transaction.atomic():
        _version_publish(journey)
        journey.status = JourneyStatus.LIVE
        journey.save(update_fields=["status", "updated_at"])
    tick_schedule_ensure()
    return journey


def _status_move(journey: Journey, *, allowed: tuple[str, ...], to: str, verb: str) -> Journey:
    moved = Journey.objects.filter(pk=journey.pk, status__in=allowed).update(status=to, updated_at=timezone.now())
    if not moved:
        journey.refresh_from_db()
        raise JourneyInvalid([Problem("", "status", f"A {journey.status} journey cannot be {verb}.")])
    journey.refresh_from_db()
    return journey


def journey_pause(*, journey: Journey) -> Journey:
    """No new entries and no steps until resumed; waits that end meanwhile run on resume."""
    return _status_move(journey, allowed=(JourneyStatus.LIVE,), to=JourneyStatus.PAUSED, verb="paused")


def journey_resume(*, journey: Journey) -> Journey:
    journey = _status_move(journey, allowed=(JourneyStatus.PAUSED,), to=JourneyStatus.LIVE, verb="resumed")
    transaction.on_commit(lambda: async_task("journeys.tasks.journeys_tick"))
    # Messages its pause held in the outbox go now.
    outbox_kick_on_commit(_queued_messages(journey).values_list("provider_id", flat=True).distinct())
    return journey


def journey_stop(*, journey: Journey) -> Journey:
    """For good: every contact inside exits."""
    journey = _status_move(
        journey, allowed=(JourneyStatus.LIVE, JourneyStatus.PAUSED), to=JourneyStatus.STOPPED, verb="stopped"
    )
    now = timezone.now()
    Enrollment.objects.filter(journey=journey, state__in=RUNNABLE_STATES).update(
        state=EnrollmentState.EXITED, exit_reason=ExitReason.STOPPED, ended_at=now, next_run_at=None, claim=""
    )
    # What was still waiting in the outbox never goes: recorded as failed, with the reason.
    _queued_messages(journey).filter(transitions.q_into(MessageStatus.FAILED)).update(
        status=MessageStatus.FAILED,
        error_code="journey_stopped",
        error_reason="The journey was stopped before this message went out.",
        failed_at=now,
        updated_at=now,
    )
    return journey


def _queued_messages(journey: Journey) -> QuerySet[Message]:
    """The journey's messages still waiting in an outbox (any version: each origin_ref names its version)."""
    refs = Q()
    for version_id in journey.versions.values_list("pk", flat=True):
        refs |= Q(origin_ref__startswith=f"journey:{version_id}:")
    if not refs:
        return Message.objects.none()
    return Message.objects.filter(refs, origin=Origin.JOURNEY, status=MessageStatus.QUEUED)


def outbox_gate(items: Sequence[tuple[int, str]]) -> list[int]:
    """Which queued journey messages may go now: those of live journeys. A paused journey's wait in the outbox (its
    resume kicks the outbox); a stopped one's were failed when it stopped."""
    versions: dict[int, int | None] = {}
    for pk, ref in items:
        parts = ref.split(":")
        versions[pk] = int(parts[1]) if len(parts) > 2 and parts[0] == "journey" and parts[1].isdigit() else None
    live = set(
        JourneyVersion.objects.filter(
            pk__in={v for v in versions.values() if v is not None}, journey__status=JourneyStatus.LIVE
        ).values_list("pk", flat=True)
    )
    return [pk for pk, version in versions.items() if version is None or version in live]


def journey_delete(*, journey: Journey) -> None:
    journey.delete()


def tick_schedule_ensure() -> None:
    """The once-a-minute scheduler task, created the first time a journey goes live (idempotent by name)."""
    from django_q.models import Schedule

    Schedule.objects.get_or_create(
        name="journeys tick",
        defaults={"func": "journeys.tasks.journeys_tick", "schedule_type": Schedule.MINUTES, "minutes": 1},
    )


# --- entering ------------------------------------------------------------------------------------------------------


def enrollment_enter(
    *,
    journey: Journey,
    contact: Contact,
    trigger_properties: dict[str, Any] | None = None,
    run: bool = True,
) -> Enrollment | None:
    """Enter one contact into a live journey (the one-contact case of `enrollments_enter`); the enrollment or None."""
    entered = enrollments_enter(journey=journey, entrants=[(contact, trigger_properties or {})], run=run)
    return entered[0] if entered else None


def enrollments_enter(
    *,
    journey: Journey,
    entrants: Sequence[tuple[Contact, dict[str, Any]]],
    run: bool = True,
    counted: Counter[int] | None = None,
) -> list[Enrollment]:
    """Enter contacts (each with its trigger properties) into a live journey, as many as its re-entry rule and entry
    limit allow, with a few statements whatever their number; the enrollments made, in the entrants' order.

    A contact listed twice enters once, with its first properties. `run=False` leaves running the first steps to the
    caller. With `counted`, a journey without an entry limit is not counted here but added to it, for the caller to
    count once at the end of its transaction: the counter's row stays locked from its update to the commit."""
    if journey.status != JourneyStatus.LIVE or journey.current_version_id is None:
        return []
    chosen: dict[int, tuple[Contact, dict[str, Any]]] = {}
    for contact, properties in entrants:
        if contact.whatsapp_consent != Consent.UNSUBSCRIBED:
            chosen.setdefault(contact.pk, (contact, properties))
    if not chosen:
        return []
    now = timezone.now()
    previous = Enrollment.objects.filter(journey=journey, contact_id__in=list(chosen))
    blocking = Q(state__in=RUNNABLE_STATES)
    if journey.reentry == Reentry.NEVER:
        blocking = Q()
    elif journey.reentry == Reentry.AFTER_DAYS:
        blocking |= Q(entered_at__gt=now - timedelta(days=journey.reentry_days or 0))
    for contact_id in previous.filter(blocking).values_list("contact_id", flat=True).distinct():
        chosen.pop(contact_id, None)
    version = journey.current_version
    assert version is not None
    rows = [
        Enrollment(
            journey=journey,
            version=version,
            contact=contact,
            state=EnrollmentState.WAITING,
            node=version.entry_node,
            next_run_at=now,
            trigger_properties=properties,
            entered_at=now,
        )
        for contact, properties in chosen.values()
    ]
    with transaction.atomic():
        if journey.entry_limit is not None:
            # The entry limit is checked under the journey's row lock: concurrent entries cannot overshoot it.
            so_far = Journey.objects.select_for_update().filter(pk=journey.pk).values_list("entered_count", flat=True)
            rows = rows[: max(0, journey.entry_limit - (so_far.first() or 0))]
        entered = _enrollments_insert(rows)
        if counted is not None and journey.entry_limit is None:
            counted[journey.pk] += len(entered)
        elif entered:
            Journey.objects.filter(pk=journey.pk).update(entered_count=F("entered_count") + len(entered))
    if run and entered:
        ids = [enrollment.pk for enrollment in entered]
        transaction.on_commit(lambda: _enrollments_run_later(ids))
    return entered


def _enrollments_insert(rows: list[Enrollment]) -> list[Enrollment]:
    """Insert enrollments in one statement; when one of them is already running (entered concurrently since the
    check), insert them one by one and leave that one out."""
    try:
        with transaction.atomic():
            return Enrollment.objects.bulk_create(rows)
    except IntegrityError:
        pass
    entered = []
    for row in rows:
        row.pk = None
        try:
            with transaction.atomic():
                row.save(force_insert=True)
        except IntegrityError:
            continue
        entered.append(row)
    return entered


def _enrollments_run_later(ids: list[int]) -> None:
    for start in range(0, len(ids), runtime.BATCH_SIZE):
        async_task("journeys.tasks.enrollments_run", ids[start : start + runtime.BATCH_SIZE])


def _live_journeys_with(trigger_type: str) -> list[Journey]:
    return list(
        Journey.objects.filter(status=JourneyStatus.LIVE, trigger__type=trigger_type).select_related("current_version")
    )


def _filters_match(filters: Any, properties: dict[str, Any]) -> bool:
    if not isinstance(filters, dict):
        return True
    return all(properties.get(key) == value or str(properties.get(key)) == str(value) for key, value in filters.items())


def event_react(*, event: Event, contact: Contact) -> None:
    """A stored event: goal exits first, then entries for journeys triggered by it."""
    events_react(events=[event])


def events_react(*, events: Sequence[Event]) -> int:
    """Stored events, in order, as a batch: goal exits, then entries for the journeys they trigger, each journey's
    entries in one go; the entries' first steps then run as one batch (one claim, one walk, a few writes). An entry
    whose goal event comes later in the same batch exits as converted. How many entered."""
    names: dict[str, set[int]] = {}
    for event in events:
        names.setdefault(event.name, set()).add(event.contact_id)
    entered: list[Enrollment] = []
    counted: Counter[int] = Counter()
    # One commit for the batch, not one durable commit per contact.
    with transaction.atomic():
        for name, contact_ids in names.items():
            enrollments_convert(contact_ids=contact_ids, event_name=name)
        converted: list[int] = []
        for journey in _live_journeys_with("event"):
            trigger = journey.trigger
            position: dict[int, int] = {}  # contact → the index of the event it enters with
            entrants = []
            for index, event in enumerate(events):
                if event.name == trigger.get("event") and event.contact_id not in position:
                    if _filters_match(trigger.get("filters"), event.properties or {}):
                        position[event.contact_id] = index
                        entrants.append((event.contact, event.properties or {}))
            made = enrollments_enter(journey=journey, entrants=entrants, run=False, counted=counted)
            goal_last = {
                event.contact_id: index for index, event in enumerate(events) if event.name == journey.goal_event
            }
            for enrollment in made:
                if goal_last.get(enrollment.contact_id, -1) > position[enrollment.contact_id]:
                    converted.append(enrollment.pk)
                else:
                    entered.append(enrollment)
        if converted:
            Enrollment.objects.filter(pk__in=converted).update(**_converted_fields())
        # Last, so the journeys' rows stay locked only from here to the commit.
        for journey_id, count in sorted(counted.items()):
            Journey.objects.filter(pk=journey_id).update(entered_count=F("entered_count") + count)
    ids = [enrollment.pk for enrollment in entered]
    for start in range(0, len(ids), runtime.BATCH_SIZE):
        enrollments_run(enrollment_ids=ids[start : start + runtime.BATCH_SIZE])
    return len(entered) + len(converted)


def _converted_fields() -> dict[str, Any]:
    return {
        "state": EnrollmentState.EXITED,
        "exit_reason": ExitReason.CONVERTED,
        "ended_at": timezone.now(),
        "next_run_at": None,
    }


def enrollments_convert(*, contact_ids: Iterable[int], event_name: str) -> int:
    """Exit, as converted, the contacts' running enrollments in journeys whose goal is this event."""
    return Enrollment.objects.filter(
        contact_id__in=list(contact_ids), state__in=RUNNABLE_STATES, journey__goal_event=event_name
    ).update(**_converted_fields())


def inbound_react(*, inbound: InboundMessage, contact: Contact | None, keyword: str | None) -> None:
    """Opt-out exits; replies wake enrollments waiting for them; keywords and button payloads start journeys."""
    if contact is None:
        return
    now = timezone.now()
    if keyword == "opt_out":
        Enrollment.objects.filter(contact=contact, state__in=RUNNABLE_STATES).update(
            state=EnrollmentState.EXITED, exit_reason=ExitReason.OPTED_OUT, ended_at=now, next_run_at=None
        )
        return
    payload = (inbound.button_payload or "").strip()
    # The first reply wakes the wait (a second one before the run does not change the path taken).
    waiting = Enrollment.objects.filter(
        contact=contact, state=EnrollmentState.WAITING, wait_kind=WaitKind.REPLY, replied_at__isnull=True
    )
    waiting = (
        waiting.filter(Q(wait_payload="") | Q(wait_payload__iexact=payload))
        if payload
        else waiting.filter(wait_payload="")
    )
    if inbound.context_message_uuid:
        # A reply to a given message (a tapped button, a swipe-reply) only counts for the wait on that message.
        waiting = waiting.filter(wait_message__message_uuid=inbound.context_message_uuid)
    ids = list(waiting.values_list("pk", flat=True))
    if ids:
        Enrollment.objects.filter(
            pk__in=ids, state=EnrollmentState.WAITING, wait_kind=WaitKind.REPLY, replied_at__isnull=True
        ).update(replied_at=now, next_run_at=now, replied_with=payload)
        transaction.on_commit(lambda: async_task("journeys.tasks.enrollments_run", ids))
    said = (inbound.text or "").strip().upper()
    for journey in _live_journeys_with("inbound_keyword"):
        if said and said == str(journey.trigger.get("keyword", "")).strip().upper():
            enrollment_enter(journey=journey, contact=contact, trigger_properties={"text": inbound.text})
    for journey in _live_journeys_with("quick_reply"):
        if payload and payload.upper() == str(journey.trigger.get("payload", "")).strip().upper():
            enrollment_enter(journey=journey, contact=contact, trigger_properties={"payload": payload})


def status_react(*, message: Message) -> None:
    """A message's status moved: wake the enrollments whose branch waits on it."""
    now = timezone.now()
    ids = list(
        Enrollment.objects.filter(
            wait_message_id=message.pk, state=EnrollmentState.WAITING, wait_kind=WaitKind.STATUS
        ).values_list("pk", flat=True)
    )
    if ids:
        Enrollment.objects.filter(pk__in=ids, state=EnrollmentState.WAITING).update(next_run_at=now)
        transaction.on_commit(lambda: async_task("journeys.tasks.enrollments_run", ids))


# --- running -------------------------------------------------------------------------------------------------------


def enrollments_run(*, enrollment_ids: list[int], now: datetime | None = None) -> int:
    """Run the given enrollments now if they are due (entries and wake-ups); the number of steps taken."""
    now = now or timezone.now()
    token = runtime.claim_ids(ids=enrollment_ids, now=now)
    return runtime.process_claim(token=token, now=now) if token else 0


def segment_entries_check() -> int:
    """Enter contacts who joined the segment of a segment-triggered live journey since the last check; how many."""
    entered = 0
    for journey in _live_journeys_with("segment_entry"):
        segment = Segment.objects.filter(pk=journey.trigger.get("segment")).first()
        if segment is None:
            continue
        current = set(segment_contacts(segment).values_list("pk", flat=True))
        known = set(SegmentMember.objects.filter(journey=journey).values_list("contact_id", flat=True))
        # Leavers are forgotten, so coming back is a new entry (subject to the re-entry rule).
        SegmentMember.objects.filter(journey=journey, contact_id__in=known - current).delete()
        joined = current - known
        SegmentMember.objects.bulk_create(
            [SegmentMember(journey=journey, contact_id=pk) for pk in joined], batch_size=2000, ignore_conflicts=True
        )
        joiners = sorted(joined)
        for start in range(0, len(joiners), SEGMENT_ENTRY_BATCH):
            batch = Contact.objects.filter(pk__in=joiners[start : start + SEGMENT_ENTRY_BATCH]).order_by("pk")
            entered += len(enrollments_enter(journey=journey, entrants=[(contact, {}) for contact in batch]))
    return entered


# --- the clock: timed steps run as they fall due --------------------------------------------------------------------
# django-q2 looks at its schedules only every 30 seconds, and a minute's tick left a step up to a minute late. The
# clock is a task that runs due steps, then sleeps until the next one falls due (checking at least every second),
# for up to JOURNEYS_CLOCK_SECONDS; it then hands over to the next clock when a step falls due within CLOCK_AHEAD,
# or asks the scheduler to start one shortly before the next due time. One clock at a time, under a lease.
CLOCK_AHEAD = timedelta(minutes=10)
CLOCK_POLL_SECONDS = 1.0
# The scheduler starts a ONCE schedule up to 30 s late: wake this much before the step falls due.
CLOCK_WAKE_EARLY = timedelta(seconds=45)
CLOCK_WAKE_SCHEDULE = "journeys clock"


def _clock_take(token: str, seconds: float) -> bool:
    now = timezone.now()
    JourneyClock.objects.get_or_create(pk=1)
    return bool(
        JourneyClock.objects.filter(pk=1)
        .filter(Q(until__isnull=True) | Q(until__lte=now))
        .update(token=token, until=now + timedelta(seconds=seconds + 30))
    )


def _clock_running() -> bool:
    return JourneyClock.objects.filter(pk=1, until__gt=timezone.now()).exists()


def journeys_clock(*, budget_seconds: float | None = None, sleep: Any = monotonic_time.sleep) -> int:
    """Run due steps as they fall due for up to `budget_seconds`, then hand over; the number of steps taken.

    With a budget of 0 (tests, and JOURNEYS_CLOCK_SECONDS=0) it runs what is due once and hands over to nobody.
    """
    budget = float(settings.JOURNEYS_CLOCK_SECONDS if budget_seconds is None else budget_seconds)
    token = uuid.uuid4().hex
    if not _clock_take(token, budget):
        return 0  # another clock is running
    steps = 0
    deadline = monotonic_time.monotonic() + budget
    try:
        while True:
            steps += journeys_tick(budget_seconds=max(1.0, deadline - monotonic_time.monotonic()))
            left = deadline - monotonic_time.monotonic()
            due = runtime.next_due()
            if left <= 0 or due is None:
                break
            wait = (due - timezone.now()).total_seconds()
            if wait > left:
                break
            sleep(min(max(wait, 0.05), CLOCK_POLL_SECONDS))
    finally:
        JourneyClock.objects.filter(pk=1, token=token).update(token="", until=None)
    if budget > 0:
        due = runtime.next_due()
        if due is not None:
            clock_wake(at=due)
    return steps


def clock_wake(*, at: datetime) -> None:
    """Make sure a clock runs when `at` falls due: now if it is close (and none runs), else a ONCE schedule."""
    if float(settings.JOURNEYS_CLOCK_SECONDS) <= 0:
        return  # no clock: the minute tick runs due steps
    if at - timezone.now() <= CLOCK_AHEAD:
        if not _clock_running():
            async_task("journeys.tasks.journeys_clock")
        return
    from django_q.models import Schedule

    wake = at - CLOCK_WAKE_EARLY
    current = Schedule.objects.filter(name=CLOCK_WAKE_SCHEDULE).values_list("next_run", flat=True).first()
    if current is None or current > wake:
        Schedule.objects.update_or_create(
            name=CLOCK_WAKE_SCHEDULE,
            defaults={
                "func": "journeys.tasks.journeys_clock",
                "schedule_type": Schedule.ONCE,
                "repeats": -1,  # deleted once run
                "next_run": wake,
            },
        )


def journeys_tick(
    *, now: datetime | None = None, budget_seconds: float = TICK_SECONDS, batch_size: int = runtime.BATCH_SIZE
) -> int:
    """Run every due enrollment, a batch at a time, for up to `budget_seconds`; the number of steps taken."""
    started = monotonic_time.monotonic()
    steps = 0
    while monotonic_time.monotonic() - started < budget_seconds:
        moment = now or timezone.now()
        token = runtime.claim_due(now=moment, limit=batch_size)
        if token is None:
            break
        steps += runtime.process_claim(token=token, now=moment)
    return steps


# --- builder -------------------------------------------------------------------------------------------------------


def journey_node_save(*, journey: Journey, node: dict[str, Any], replacing: str | None = None) -> Journey:
    """Add a node, or replace node `replacing` (renaming it updates the edges that point at it)."""
    nodes = [dict(n) for n in journey.nodes if isinstance(n, dict)]
    new_id = str(node["id"])
    if replacing != new_id and any(n.get("id") == new_id for n in nodes):
        raise JourneyInvalid([Problem(new_id, "id", "Another node already has this id.")])
    if replacing is None:
        nodes.append(node)
    else:
        nodes = [node if n.get("id") == replacing else n for n in nodes]
        if replacing != new_id:
            nodes = [_renamed(n, replacing, new_id) for n in nodes]
    entry = journey.entry_node
    if not entry or entry == replacing:
        entry = new_id
    return journey_update(journey=journey, data={"nodes": nodes, "entry_node": entry})


def _renamed(node: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        k: (new if k in ("next", "yes", "no", "timeout_next", "message_node") and v == old else v)
        for k, v in node.items()
    }
    if isinstance(out.get("branches"), list):
        out["branches"] = [{**b, "next": new if b.get("next") == old else b.get("next")} for b in out["branches"]]
    if isinstance(out.get("condition"), dict) and out["condition"].get("node") == old:
        out["condition"] = {**out["condition"], "node": new}
    return out


def journey_node_delete(*, journey: Journey, node_id: str, mend: bool = False) -> Journey:
    """Remove a node; edges that pointed at it are left empty, for the checks to flag. With `mend`, when the node
    led to one node only, they lead there instead (deleting a step from a chain keeps the chain whole)."""
    follow = ""
    removed = next((n for n in journey.nodes if isinstance(n, dict) and n.get("id") == node_id), None)
    if mend and removed is not None:
        targets = {slot.target for slot in node_slots(removed) if slot.target and slot.target != node_id}
        follow = targets.pop() if len(targets) == 1 else ""
    nodes = []
    for n in journey.nodes:
        if not isinstance(n, dict) or n.get("id") == node_id:
            continue
        for slot in node_slots(n):
            if slot.target == node_id:
                n = slot_set(n, slot.field, follow or None)
        nodes.append(_renamed(n, node_id, ""))
    entry = follow if journey.entry_node == node_id else journey.entry_node
    return journey_update(journey=journey, data={"nodes": nodes, "entry_node": entry})


# --- canvas --------------------------------------------------------------------------------------------------------


def _node_find(journey: Journey, node_id: str) -> dict[str, Any]:
    node = next((n for n in journey.nodes if isinstance(n, dict) and n.get("id") == node_id), None)
    if node is None:
        raise JourneyInvalid([Problem(node_id, "id", "There is no such node in this journey.")])
    return dict(node)


def journey_node_insert(*, journey: Journey, node: dict[str, Any], after: str, field: str) -> Journey:
    """Add `node` on slot `field` of node `after`: that slot now leads to it, and it leads where the slot led."""
    source = _node_find(journey, after)
    old = slot_target(source, field)
    if old is None:
        raise JourneyInvalid([Problem(after, field, "This node has no such outgoing path.")])
    new = dict(node)
    onward = first_slot_field(new)
    if old and onward is not None and not slot_target(new, onward):
        new = slot_set(new, onward, old)
    if any(isinstance(n, dict) and n.get("id") == new["id"] for n in journey.nodes):
        raise JourneyInvalid([Problem(str(new["id"]), "id", "Another node already has this id.")])
    nodes = [slot_set(dict(n), field, str(new["id"])) if n.get("id") == after else n for n in journey.nodes]
    nodes.append(new)
    return journey_update(journey=journey, data={"nodes": nodes, "entry_node": journey.entry_node or new["id"]})


def journey_edge_set(*, journey: Journey, node_id: str, field: str, target: str | None) -> Journey:
    """Lead slot `field` of a node to `target` (None: nowhere); the definition checks judge the result."""
    node = _node_find(journey, node_id)
    if slot_target(node, field) is None:
        raise JourneyInvalid([Problem(node_id, field, "This node has no such outgoing path.")])
    if target is not None:
        _node_find(journey, target)
    return journey_node_save(journey=journey, node=slot_set(node, field, target), replacing=node_id)


def journey_entry_set(*, journey: Journey, node_id: str) -> Journey:
    """Make `node_id` the node contacts start at."""
    _node_find(journey, node_id)
    return journey_update(journey=journey, data={"entry_node": node_id})


def journey_layout_save(*, journey: Journey, positions: dict[str, Any] | None) -> Journey:
    """Keep where the canvas draws each node (None forgets them all: automatic layout again); never a new version."""
    layout: dict[str, list[int]] = {}
    ids = {n.get("id") for n in journey.nodes if isinstance(n, dict)}
    for node_id, point in (positions or {}).items():
        ok = isinstance(point, list | tuple) and len(point) == 2
        ok = ok and all(isinstance(v, int | float) and not isinstance(v, bool) and abs(v) < 1e6 for v in point)
        if node_id not in ids or not ok:
            raise JourneyInvalid([Problem(str(node_id), "layout", "Give a known node and its [x, y] position.")])
        layout[node_id] = [round(point[0]), round(point[1])]
    if positions is not None:
        layout = {**{k: v for k, v in (journey.layout or {}).items() if k in ids}, **layout}
    journey.layout = layout
    Journey.objects.filter(pk=journey.pk).update(layout=layout)
    return journey


# Trigger properties of a test run: the enrollment says it was a test, so its steps can be told from real ones.
TEST_EVENT_PROPERTY = "test_event"


def journey_test_event(*, journey: Journey, contact: Contact) -> Enrollment:
    """Run the live journey now for one test profile, as its trigger would (messages go through the outbox)."""
    if not contact.is_test_profile:
        raise JourneyInvalid([Problem("", "contact", "Choose one of the test profiles.")])
    if journey.status != JourneyStatus.LIVE:
        raise JourneyInvalid([Problem("", "status", "Publish the journey first: a test runs its live version.")])
    filters = journey.trigger.get("filters") if isinstance(journey.trigger, dict) else None
    properties = {**(filters if isinstance(filters, dict) else {}), TEST_EVENT_PROPERTY: True}
    enrollment = enrollment_enter(journey=journey, contact=contact, trigger_properties=properties, run=False)
    if enrollment is None:
        raise JourneyInvalid(
            [
                Problem(
                    "",
                    "contact",
                    f"{contact.name or contact.phone} is in this journey already, has opted out, or its re-entry "
                    "rule keeps them out; choose another test profile.",
                )
            ]
        )
    enrollments_run(enrollment_ids=[enrollment.pk])
    return enrollment
