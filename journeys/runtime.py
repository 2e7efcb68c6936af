"""Running enrollments: claim due rows in bulk, walk each one through its version's nodes, write back in bulk.

A batch is claimed with one conditional UPDATE (state waiting/active and due → active with a claim token and a
lease); a worker that dies leaves its rows to be claimed again when the lease ends. Every step is idempotent: sends
use an origin_ref naming (version, node, enrollment, visit), so a re-run gets the first message back instead of
sending again; step rows are unique per (enrollment, node, visit); the final UPDATE only applies while the claim
is still ours (a goal event or a stop that ended the enrollment meanwhile wins).
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from contacts.models import Consent, Contact, Event
from journeys.definition import SENDING_TYPES
from journeys.models import (
    RUNNABLE_STATES,
    Enrollment,
    EnrollmentState,
    ExitReason,
    Journey,
    JourneyStatus,
    JourneyStep,
    JourneyVersion,
    StepOutcome,
    WaitKind,
)
from providers.content import InteractiveContent, TextContent
from providers.interactive import interactive_parse
from providers.messaging.outbox import outbox_kick
from providers.messaging.sending import Outgoing, SendCapped, SendRefused, messages_prepare
from providers.models import Message, MessageStatus, Origin, ProviderConfig
from templates_app.models import Template
from templates_app.rendering import CONTACT_FIELDS as RENDERED_FIELDS
from templates_app.rendering import TemplateRenderError, template_render
from templates_app.rules import template_send_refusal

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)  # a claimed batch not written back by then is claimed again
MAX_STEPS_PER_RUN = 100  # a loop without a wait in it stops here instead of spinning
BATCH_SIZE = 5000
# What the walk reads of a contact, and every field a template variable may take: loaded with the batch, so
# rendering a send never fetches a contact's deferred field one query at a time.
CONTACT_FIELDS = tuple(
    dict.fromkeys(("phone", "timezone", "properties", "whatsapp_consent", "last_inbound_at", *RENDERED_FIELDS))
)
Node = dict[str, Any]

_REACHED = {
    "delivered": (MessageStatus.DELIVERED, MessageStatus.READ),
    "read": (MessageStatus.READ,),
    "failed": (MessageStatus.FAILED, MessageStatus.REJECTED, MessageStatus.UNDELIVERABLE),
}


def claim_due(*, now: datetime, limit: int = BATCH_SIZE) -> str | None:
    """Claim up to `limit` due enrollments of live journeys; the claim token, or None when nothing is due."""
    token = uuid.uuid4().hex
    with transaction.atomic():
        _relaxed_commit()
        claimed = _claim_due_skip_locked(token=token, now=now, limit=limit)
    return token if claimed else None


def _claim_due_skip_locked(*, token: str, now: datetime, limit: int) -> int:
    """Rows another scheduler is claiming right now are skipped, not waited for (SKIP LOCKED)."""
    table, journeys = Enrollment._meta.db_table, Journey._meta.db_table
    sql = (
        f'UPDATE "{table}" SET "state" = %s, "claim" = %s, "next_run_at" = %s WHERE "id" IN ('  # noqa: S608 - names from the models
        f'SELECT "id" FROM "{table}" WHERE "state" IN (%s, %s) AND "next_run_at" <= %s '
        f'AND "journey_id" IN (SELECT "id" FROM "{journeys}" WHERE "status" = %s) '
        'ORDER BY "next_run_at" LIMIT %s FOR UPDATE SKIP LOCKED)'
    )
    params: list[Any] = [EnrollmentState.ACTIVE, token, now + LEASE, *RUNNABLE_STATES, now, JourneyStatus.LIVE, limit]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


def _relaxed_commit() -> None:
    """Let PostgreSQL acknowledge this transaction's commit before its WAL reaches disk.

    Safe here because every step is idempotent: a crash may forget the last few hundred milliseconds of claims and
    write-backs, which only means those enrollments run their steps again (sends answer duplicate, step rows are
    skipped, properties are set to the same value). Message sends commit in their own, fully durable transactions.
    """
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")


def next_due() -> datetime | None:
    """When the next enrollment of a live journey falls due (a timer, a quiet-hours end, a reply's deadline)."""
    return (
        Enrollment.objects.filter(
            state__in=RUNNABLE_STATES, next_run_at__isnull=False, journey__status=JourneyStatus.LIVE
        )
        .order_by("next_run_at")
        .values_list("next_run_at", flat=True)
        .first()
    )


def claim_ids(*, ids: list[int], now: datetime) -> str | None:
    """Claim the given enrollments if they are due (a wake-up sets next_run_at to now); the token or None."""
    token = uuid.uuid4().hex
    claimed = Enrollment.objects.filter(
        pk__in=ids,
        state__in=RUNNABLE_STATES,
        next_run_at__lte=now,
        journey__status=JourneyStatus.LIVE,
    ).update(state=EnrollmentState.ACTIVE, claim=token, next_run_at=now + LEASE)
    return token if claimed else None


@dataclass(eq=False)
class _Pending:
    """A send decided during the walk, queued with every other send of the batch once the walk is over."""

    item: Outgoing
    run: _Run
    node_id: str
    log_index: int
    message_id: int | None = None


@dataclass
class _Run:
    """One enrollment being walked, plus what the walk will write."""

    row: Enrollment
    contact: Contact
    version: JourneyVersion
    journey: Journey
    now: datetime
    logs: list[tuple[Any, ...]] = field(default_factory=list)
    sent: dict[str, _Pending] = field(default_factory=dict)  # node → its send during this walk
    queued_on: set[int] = field(default_factory=set)  # numbers whose outbox got a message in this walk
    steps_taken: int = 0

    def log(self, node: str, outcome: str, *, detail: str = "", message_id: int | None = None) -> None:
        row = self.row
        self.logs.append(
            (row.pk, row.journey_id, row.version_id, node, row.steps, outcome, detail[:255], message_id, self.now)
        )
        self.row.steps += 1
        self.steps_taken += 1

    def goto(self, node: str) -> None:
        self.row.node = node
        self.row.wait_kind = WaitKind.NONE

    def wait(self, kind: str, until: datetime) -> None:
        self.row.state = EnrollmentState.WAITING
        self.row.wait_kind = kind
        self.row.next_run_at = until

    def end(self, state: str, reason: str) -> None:
        self.row.state = state
        self.row.exit_reason = reason
        self.row.ended_at = self.now
        self.row.next_run_at = None
        self.row.wait_kind = WaitKind.NONE


@dataclass
class _Writes:
    properties: dict[tuple[str, str], list[int]] = field(default_factory=lambda: defaultdict(list))
    # Read once per walked batch: every enrollment at a send node needs its template (and number).
    templates: dict[int, Template | None] = field(default_factory=dict)


def process_claim(*, token: str, now: datetime | None = None) -> int:
    """Walk every enrollment held by `token` and write the results; the number of steps taken."""
    now = now or timezone.now()
    rows = list(Enrollment.objects.filter(claim=token, state=EnrollmentState.ACTIVE).defer("claim"))
    if not rows:
        return 0
    versions = JourneyVersion.objects.in_bulk({r.version_id for r in rows})
    journeys = Journey.objects.in_bulk({r.journey_id for r in rows})
    # Joined through the claim rather than an id list: nothing of size N travels to the server.
    contacts = {c.pk: c for c in Contact.objects.only(*CONTACT_FIELDS).filter(journey_enrollments__claim=token)}
    nodes = {vid: v.node_map() for vid, v in versions.items()}
    writes = _Writes()
    runs: list[_Run] = []
    for row in rows:
        run = _Run(row, contacts[row.contact_id], versions[row.version_id], journeys[row.journey_id], now)
        _walk(run, nodes[row.version_id], writes)
        runs.append(run)
    _sends_queue(runs)
    _flush(token=token, runs=runs, writes=writes, now=now)
    # Committed: the numbers' senders take the queued messages from here, while this worker walks the next batch.
    outbox_kick(number for run in runs for number in run.queued_on)
    waits = [run.row.next_run_at for run in runs if run.row.state == EnrollmentState.WAITING and run.row.next_run_at]
    if waits:
        from journeys.services import clock_wake

        clock_wake(at=min(waits))
    return sum(run.steps_taken for run in runs)


def _walk(run: _Run, nodes: dict[str, Node], writes: _Writes) -> None:
    row = run.row
    for _ in range(MAX_STEPS_PER_RUN):
        node = nodes.get(row.node)
        if node is None:
            run.end(EnrollmentState.EXITED, ExitReason.ERROR)
            return
        if run.contact.whatsapp_consent == Consent.UNSUBSCRIBED:
            run.log(row.node, StepOutcome.EXITED, detail="opted out")
            run.end(EnrollmentState.EXITED, ExitReason.OPTED_OUT)
            return
        kind = node["type"]
        resuming = row.wait_kind
        if resuming == WaitKind.TIMER:
            run.goto(node["next"])
            continue
        if resuming == WaitKind.REPLY:
            if row.replied_at is not None:
                target, option = _reply_route(node, row.replied_with)
                run.log(row.node, StepOutcome.REPLIED, detail=option)
                run.goto(target)
            else:
                run.log(row.node, StepOutcome.TIMED_OUT)
                run.goto(node["timeout_next"])
            row.wait_message_id, row.wait_payload, row.replied_at, row.replied_with = None, "", None, ""
            continue
        if resuming == WaitKind.QUIET:
            row.wait_kind = WaitKind.NONE  # quiet hours over: run the send node itself
        if resuming == WaitKind.STATUS:
            row.wait_kind = WaitKind.NONE  # re-evaluate the branch now that a status came or time ran out
        if kind in SENDING_TYPES:
            quiet_end = _quiet_hours_end(run)
            if quiet_end is not None:
                run.wait(WaitKind.QUIET, quiet_end)
                return
            _send(run, node, writes)
            run.goto(node["next"])
        elif kind == "wait":
            until = _wait_until(run, node)
            if until is None or until <= run.now:
                run.log(row.node, StepOutcome.SKIPPED if until is None else StepOutcome.DONE)
                run.goto(node["next"])
                continue
            run.log(row.node, StepOutcome.WAITING)
            run.wait(WaitKind.TIMER, until)
            return
        elif kind == "wait_for_reply":
            run.log(row.node, StepOutcome.WAITING)
            row.wait_message_id = _sent(run, node["message_node"])  # type: ignore[assignment]
            row.wait_payload = (node.get("payload") or "").strip()
            row.replied_at, row.replied_with = None, ""
            run.wait(WaitKind.REPLY, run.now + timedelta(seconds=int(node["timeout_seconds"])))
            return
        elif kind == "branch":
            answer = _branch(run, node["condition"])
            if answer is None:
                return  # waiting for a status or its deadline
            run.log(row.node, StepOutcome.YES if answer else StepOutcome.NO)
            run.goto(node["yes"] if answer else node["no"])
        elif kind == "split":
            target = _split(row.pk, row.node, node["branches"])
            if not target:
                run.log(row.node, StepOutcome.EXITED, detail="hold-out")
                run.end(EnrollmentState.EXITED, ExitReason.HELD_OUT)
                return
            run.log(row.node, StepOutcome.DONE, detail=target)
            run.goto(target)
        elif kind == "update_property":
            value = node.get("value")
            writes.properties[(node["property"], json.dumps(value))].append(run.contact.pk)
            run.contact.properties = {**(run.contact.properties or {}), node["property"]: value}
            run.log(row.node, StepOutcome.DONE)
            run.goto(node["next"])
        else:  # exit
            run.log(row.node, StepOutcome.EXITED)
            run.end(EnrollmentState.COMPLETED, ExitReason.COMPLETED)
            return
    run.end(EnrollmentState.EXITED, ExitReason.ERROR)
    logger.error("Enrollment %s looped %s steps without waiting; exited", row.pk, MAX_STEPS_PER_RUN)


def _flush(*, token: str, runs: list[_Run], writes: _Writes, now: datetime) -> None:
    """Write a walked batch: step rows, contact properties, then the enrollments (grouped into few UPDATEs)."""
    with transaction.atomic():
        _relaxed_commit()
        logs = [log for run in runs for log in run.logs]
        if logs:
            _steps_insert(logs)
        for (prop, value), contact_ids in writes.properties.items():
            _properties_merge(prop=prop, value_json=value, contact_ids=contact_ids, now=now)
        groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
        for run in runs:
            r = run.row
            key = (
                r.state,
                r.node,
                r.wait_kind,
                r.next_run_at,
                r.wait_message_id,
                r.wait_payload,
                r.replied_at,
                r.replied_with,
                r.exit_reason,
                r.ended_at,
                run.steps_taken,
            )
            groups[key].append(r.pk)
        # Smaller groups by id first (that clears their claim); the largest then by the claim token alone, which in
        # the common case (everyone took the same path) is the only UPDATE and carries no id list.
        ordered = sorted(groups.items(), key=lambda item: len(item[1]))
        for n, (key, ids) in enumerate(ordered):
            (
                state,
                node,
                wait_kind,
                next_run_at,
                message_id,
                payload,
                replied_at,
                replied_with,
                reason,
                ended_at,
                taken,
            ) = key
            last = n == len(ordered) - 1
            for start in range(0, len(ids), 2000):
                chunk = Enrollment.objects.filter(claim=token, state=EnrollmentState.ACTIVE)
                if not last:
                    chunk = chunk.filter(pk__in=ids[start : start + 2000])
                chunk.update(
                    state=state,
                    node=node,
                    wait_kind=wait_kind,
                    next_run_at=next_run_at,
                    wait_message_id=message_id,
                    wait_payload=payload,
                    replied_at=replied_at,
                    replied_with=replied_with,
                    exit_reason=reason,
                    ended_at=ended_at,
                    steps=F("steps") + taken,
                    claim="",
                )
                if last:
                    break


def _steps_insert(rows: list[tuple[Any, ...]]) -> None:
    """Insert step rows, skipping any already logged (a re-run step): one statement per few thousand rows."""
    table = JourneyStep._meta.db_table
    columns = (
        '"enrollment_id", "journey_id", "version_id", "node", "visit", "outcome", "detail", "message_id", "created_at"'
    )
    # Column arrays through unnest, each sent as one array literal built with str.join: a handful of parameters per
    # statement instead of nine per row, and no per-element adaptation.
    sql = (
        f'INSERT INTO "{table}" ({columns}) SELECT e, j, v, n, vi, o, d, m, %s FROM unnest('  # noqa: S608 - values bound
        "%s::bigint[], %s::bigint[], %s::bigint[], %s::text[], %s::integer[], %s::text[], %s::text[], "
        "%s::bigint[]) AS t(e, j, v, n, vi, o, d, m) ON CONFLICT DO NOTHING"
    )
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 10000):
            chunk = rows[start : start + 10000]
            cols = list(zip(*chunk, strict=True))
            params = [chunk[0][8]] + [_pg_array(column) for column in cols[:8]]
            cursor.execute(sql, params)


def _pg_array(values: tuple[Any, ...]) -> str:
    """A PostgreSQL array literal; strings are always quoted and escaped, None is NULL."""
    parts = []
    for value in values:
        if value is None:
            parts.append("NULL")
        elif isinstance(value, int):
            parts.append(str(value))
        else:
            parts.append('"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"')
    return "{" + ",".join(parts) + "}"


def _properties_merge(*, prop: str, value_json: str, contact_ids: list[int], now: datetime) -> None:
    """Set one property on many contacts in one statement, merging into the JSON so other keys are never lost."""
    table = Contact._meta.db_table
    patch = json.dumps({prop: json.loads(value_json)})
    stamp = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(
            f'UPDATE "{table}" SET "properties" = COALESCE("properties", \'{{}}\'::jsonb) || %s::jsonb, '  # noqa: S608 - names from the model, values bound
            f'"updated_at" = %s WHERE "id" = ANY(%s::bigint[])',
            [patch, stamp, _pg_array(tuple(contact_ids))],
        )


# --- node helpers --------------------------------------------------------------------------------------------------


def _contact_zone(contact: Contact) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(contact.timezone or settings.TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def _next_local(now: datetime, zone: zoneinfo.ZoneInfo, at: time) -> datetime:
    local = now.astimezone(zone)
    candidate = datetime.combine(local.date(), at, tzinfo=zone)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), at, tzinfo=zone)
    return candidate


def _quiet_hours_end(run: _Run) -> datetime | None:
    start, end = run.journey.quiet_hours_start, run.journey.quiet_hours_end
    if start is None or end is None or start == end:
        return None
    local = run.now.astimezone(_contact_zone(run.contact)).time()
    inside = start <= local < end if start < end else (local >= start or local < end)
    return _next_local(run.now, _contact_zone(run.contact), end) if inside else None


def _wait_until(run: _Run, node: Node) -> datetime | None:
    if node.get("seconds"):
        return run.now + timedelta(seconds=int(node["seconds"]))
    if node.get("until_local_time"):
        hours, minutes = (int(part) for part in str(node["until_local_time"]).split(":"))
        return _next_local(run.now, _contact_zone(run.contact), time(hours, minutes))
    raw = (run.contact.properties or {}).get(str(node.get("until_property")))
    if not isinstance(raw, str):
        return None
    moment = parse_datetime(raw)
    if moment is None:
        day: date | None = parse_date(raw)
        if day is None:
            return None
        moment = datetime.combine(day, time(0, 0), tzinfo=_contact_zone(run.contact))
    elif timezone.is_naive(moment):
        moment = moment.replace(tzinfo=_contact_zone(run.contact))
    return moment


def _split(enrollment_id: int, node_id: str, branches: list[dict[str, Any]]) -> str:
    """A stable pick per enrollment: the same enrollment re-run takes the same branch."""
    bucket = int(hashlib.sha256(f"{enrollment_id}:{node_id}".encode()).hexdigest()[:8], 16) % 100
    upto = 0
    for branch in branches:
        upto += int(branch["percent"])
        if bucket < upto:
            return str(branch.get("next") or "")
    return ""


def _sent(run: _Run, node: str) -> _Pending | int | None:
    """The message node `node` sent: this walk's (still to be queued) or an earlier walk's id."""
    return run.sent.get(node) or _sent_message_id(run.row, node)


def _sent_message_id(row: Enrollment, node: str) -> int | None:
    step = (
        JourneyStep.objects.filter(enrollment_id=row.pk, node=node, message__isnull=False)
        .order_by("-visit")
        .values_list("message_id", flat=True)
        .first()
    )
    return step


def _branch(run: _Run, condition: dict[str, Any]) -> bool | None:
    kind = condition["type"]
    if kind == "property":
        return _property_test(run.contact.properties or {}, condition)
    if kind == "event":
        return Event.objects.filter(
            contact_id=run.contact.pk, name=condition["event"], occurred_at__gte=run.row.entered_at
        ).exists()
    sent = _sent(run, condition["node"])
    if isinstance(sent, _Pending):
        # Sent in this very walk: not out yet, so not reached yet. Wait for its status or the deadline.
        run.row.wait_message_id = sent  # type: ignore[assignment]
        run.wait(WaitKind.STATUS, run.now + timedelta(seconds=int(condition["within_seconds"])))
        return None
    message = Message.objects.filter(pk=sent).first() if sent else None
    if message is None:
        return False
    if message.status in _REACHED[condition["status"]]:
        return True
    deadline = message.created_at + timedelta(seconds=int(condition["within_seconds"]))
    if run.now >= deadline or message.status in _REACHED["failed"]:
        return False
    # Not yet: a status callback for this message wakes the enrollment; the deadline answers "no".
    run.row.wait_message_id = message.pk
    run.wait(WaitKind.STATUS, deadline)
    return None


def _property_test(properties: dict[str, Any], condition: dict[str, Any]) -> bool:
    op = condition.get("op", "eq")
    present = condition["property"] in properties
    value = properties.get(condition["property"])
    expected = condition.get("value")
    if op == "exists":
        return present and value not in (None, "")
    if op == "not_exists":
        return not present or value in (None, "")
    if op == "eq":
        return value == expected or (value is not None and str(value) == str(expected))
    if op == "neq":
        return not (value == expected or (value is not None and str(value) == str(expected)))
    if op == "contains":
        return isinstance(value, str | list) and str(expected) in value
    try:
        left, right = float(value), float(expected)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return {"gt": left > right, "gte": left >= right, "lt": left < right, "lte": left <= right}[op]


def _provider_for(run: _Run, template: Template | None) -> ProviderConfig | None:
    if template is not None:
        return template.provider
    if run.journey.provider_id is not None:
        return run.journey.provider
    return ProviderConfig.objects.filter(is_active=True).order_by("pk").first()


def _send(run: _Run, node: Node, writes: _Writes) -> None:
    """Queue this node's message in the number's outbox once (idempotent by origin_ref), the send rules applied, and
    log it; never raises for a refusal. The outbox sends it once the walked batch is committed."""
    row, contact = run.row, run.contact
    node_id = row.node
    journey = run.journey
    template: Template | None = None
    variables: dict[str, Any] = {}
    content: Any
    free_form = node["type"] in ("send_text", "send_interactive")
    if free_form and contact.window_open(run.now):
        content = _free_form(node)
        if content is None:
            run.log(node_id, StepOutcome.SKIPPED, detail="the interactive message breaks WhatsApp's limits")
            return
    else:
        template_id = node.get("template") if node["type"] == "send_template" else node.get("fallback_template")
        if not template_id:
            run.log(node_id, StepOutcome.SKIPPED, detail="outside the 24-hour window and no fallback template")
            return
        if template_id not in writes.templates:
            writes.templates[template_id] = Template.objects.select_related("provider").filter(pk=template_id).first()
        template = writes.templates[template_id]
        if template is None:
            run.log(node_id, StepOutcome.SKIPPED, detail=f"template {template_id} no longer exists")
            return
        if (refusal := template_send_refusal(template)) is not None:
            # WhatsApp paused, disabled or rejected it since the journey was published.
            run.log(node_id, StepOutcome.SKIPPED, detail=refusal)
            return
        variables = dict(node.get("variables") or {}) if node["type"] == "send_template" else {}
        try:
            content = template_render(
                template, contact=contact, variables=variables, event_properties=row.trigger_properties
            )
        except TemplateRenderError as error:
            run.log(node_id, StepOutcome.SKIPPED, detail=str(error))
            return
    provider = _provider_for(run, template)
    if provider is None:
        run.log(node_id, StepOutcome.SKIPPED, detail="no active WhatsApp number")
        return
    origin_ref = f"journey:{row.version_id}:{node_id}:{row.pk}:{row.steps}"
    item = Outgoing(
        provider=provider,
        to=contact.phone,
        content=content,
        origin=Origin.JOURNEY,
        origin_ref=origin_ref,
        contact=contact,
        frequency_cap=(journey.cap_messages, journey.cap_days or 1) if journey.cap_messages is not None else None,
    )
    run.sent[node_id] = _Pending(item=item, run=run, node_id=node_id, log_index=len(run.logs))
    run.log(node_id, StepOutcome.SENT)


def _free_form(node: Node) -> TextContent | InteractiveContent | None:
    if node["type"] == "send_text":
        return TextContent(text=str(node["text"]))
    return interactive_parse(node)[0]  # checked at publish: None only for a definition saved around the checks


def _reply_route(node: Node, replied_with: str) -> tuple[str, str]:
    """(next node, reply option taken) for a reply: the option whose reply id matches, else `next` (any other reply)."""
    wanted = replied_with.strip().casefold()
    for branch in node.get("branches") or []:
        if wanted and str(branch.get("reply_id", "")).strip().casefold() == wanted:
            return str(branch["next"]), str(branch["reply_id"])
    return str(node["next"]), ""


def _sends_queue(runs: list[_Run]) -> None:
    """Queue every send of the walked batch in the numbers' outboxes at once (the send rules applied to each), then
    put the message ids, or the refusals, on the steps and waits that name them."""
    pending = [p for run in runs for p in run.sent.values()]
    if not pending:
        return
    for p, result in zip(pending, messages_prepare(items=[p.item for p in pending]), strict=True):
        if isinstance(result, SendRefused):
            log = p.run.logs[p.log_index]
            outcome, detail = (
                (StepOutcome.CAPPED, "") if isinstance(result, SendCapped) else (StepOutcome.REFUSED, result)
            )
            p.run.logs[p.log_index] = (*log[:5], outcome, str(detail)[:255], None, log[8])
            continue
        p.run.queued_on.add(p.item.provider.pk)
        step_sent(run=p.run, node_id=p.node_id, message_id=result[0].pk)
        p.message_id = result[0].pk
    for run in runs:
        if isinstance(run.row.wait_message_id, _Pending):
            run.row.wait_message_id = run.row.wait_message_id.message_id


def step_sent(*, run: _Run, node_id: str, message_id: int) -> None:
    """Put the queued message on its step (a separate function so a test can fail right after it was queued)."""
    index = run.sent[node_id].log_index
    log = run.logs[index]
    run.logs[index] = (*log[:7], message_id, log[8])
