"""Writes for campaigns: create/update with validation, planning, the dispatch run, and the lifecycle actions."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task

from campaigns.models import (
    Audience,
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    QuietHoursAction,
    RecipientState,
    SkipReason,
)
from campaigns.planning import in_control_group, plan_in_sql
from campaigns.selectors import campaign_audience
from contacts.models import Consent, Contact
from contacts.selectors import contact_test_profiles
from providers.messaging import transitions
from providers.messaging.dispatch import (
    DispatchReport,
    SurgePolicy,
    dispatch_run,
    messages_interrupted_settle,
    values_update,
)
from providers.messaging.sending import (
    TEST_SEND_MAX_RECIPIENTS,
    Outgoing,
    SendInvalidNumber,
    SendOptedOut,
    SendRefused,
    SendResult,
    message_send,
    messages_prepare,
    provider_send_refusal,
)
from providers.models import Message, MessageStatus, Origin, ProviderConfig
from providers.selectors import contacts_over_frequency_cap
from templates_app.models import Template
from templates_app.rendering import (
    TemplateRenderError,
    template_content,
    template_rendering,
    template_slots,
    template_values,
    template_variables_problems,
)
from templates_app.rules import template_send_refusal

logger = logging.getLogger(__name__)

S = CampaignStatus
PLAN_CHUNK = 5000
LEASE_SECONDS = 120
# The earliest any timezone reaches a wall-clock time is UTC+14: a local-time campaign starts planning then.
EARLIEST_OFFSET = timedelta(hours=14)
STATS_REFRESH_SECONDS = 5.0

EDITABLE_FIELDS = (
    "name",
    "provider",
    "template",
    "audience",
    "segment",
    "audience_list",
    "variables",
    "header_media_url",
    "scheduled_at",
    "local_time",
    "quiet_start_hour",
    "quiet_end_hour",
    "quiet_action",
    "frequency_cap_count",
    "frequency_cap_days",
    "control_group_percent",
    "conversion_event",
    "conversion_window_hours",
    "throttle_per_second",
)


class CampaignActionRefused(Exception):
    """The action does not fit the campaign's state; the message says why."""


# --- create / update ------------------------------------------------------------------------------------------


def campaign_variables_problems(
    *, template: Template, variables: dict[str, Any], header_media_url: str
) -> dict[str, str]:
    """`{slot key: message}` for each of the template's values the personalisation leaves unsaid or gets wrong."""
    problems = template_variables_problems(template, variables)
    for slot in template_slots(template):
        covered = slot.key in variables or slot.default not in (None, "")
        if slot.kind == "header_media" and header_media_url:
            covered = True
        if slot.required and not covered:
            problems[slot.key] = f"Say where {slot.label} comes from: a property, a value or a fallback."
    return problems


def _validate(campaign: Campaign) -> None:
    errors: dict[str, list[str]] = {}
    template = campaign.template if campaign.template_id else None
    if template is not None:
        if campaign.provider_id and template.provider_id != campaign.provider_id:
            errors["template"] = ["Pick a template of the same WhatsApp number as the campaign."]
        elif (refusal := template_send_refusal(template)) is not None:
            errors["template"] = [refusal]
        else:
            variables = campaign.variables if isinstance(campaign.variables, dict) else None
            if variables is None:
                errors["variables"] = ['Give the variables as an object, e.g. {"1": {"property": "name"}}.']
            else:
                problems = campaign_variables_problems(
                    template=template, variables=variables, header_media_url=campaign.header_media_url
                )
                if problems:
                    errors["variables"] = [f"{key}: {message}" for key, message in sorted(problems.items())]
    if campaign.provider_id and (refusal := provider_send_refusal(campaign.provider)) is not None:
        errors["provider"] = [refusal]
    if campaign.audience == Audience.SEGMENT and not campaign.segment_id:
        errors["segment"] = ["Pick a segment, or choose the test profiles or everyone subscribed."]
    if campaign.audience == Audience.UPLOADED_LIST and not campaign.audience_list_id:
        errors["audience_list"] = ["Upload a CSV of phone numbers or external ids, or pick a list uploaded before."]
    if (campaign.quiet_start_hour is None) != (campaign.quiet_end_hour is None):
        errors["quiet_end_hour"] = ["Give both the start and the end of the quiet hours, or neither."]
    if (campaign.frequency_cap_count is None) != (campaign.frequency_cap_days is None):
        errors["frequency_cap_days"] = ["Give both the number of messages and the days, or neither."]
    if campaign.frequency_cap_days is not None and campaign.frequency_cap_days < 1:
        errors["frequency_cap_days"] = ["The cap's period is at least one day."]
    if campaign.frequency_cap_count is not None and campaign.frequency_cap_count < 1:
        errors["frequency_cap_count"] = ["The cap allows at least one message."]
    if campaign.control_group_percent and not campaign.conversion_event:
        errors["conversion_event"] = ["A control group only means something with a conversion goal: name the event."]
    try:
        campaign.full_clean(exclude=["stats", "created_by", "pause_reason"])
    except ValidationError as exc:
        for key, messages in exc.message_dict.items():
            errors.setdefault(key, []).extend(messages)
    if errors:
        raise ValidationError(errors)


def _apply(campaign: Campaign, data: dict[str, Any]) -> None:
    for name in EDITABLE_FIELDS:
        if name in data:
            setattr(campaign, name, data[name])
    if campaign.audience != Audience.SEGMENT:
        campaign.segment = None
    if campaign.audience != Audience.UPLOADED_LIST:
        campaign.audience_list = None


def campaign_create(*, data: dict[str, Any], user: Any = None) -> Campaign:
    """A draft campaign; raises ValidationError with per-field messages."""
    campaign = Campaign(created_by=user if getattr(user, "pk", None) else None)
    _apply(campaign, data)
    _validate(campaign)
    campaign.save()
    return campaign


def campaign_update(*, campaign: Campaign, data: dict[str, Any]) -> Campaign:
    """Change a campaign that has not started (draft or scheduled)."""
    if campaign.status not in (S.DRAFT, S.SCHEDULED):
        raise CampaignActionRefused(f"A {campaign.status} campaign cannot be edited; duplicate it instead.")
    _apply(campaign, data)
    _validate(campaign)
    campaign.save()
    return campaign


# --- planning --------------------------------------------------------------------------------------------------


def _zone(name: str) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _quiet(campaign: Campaign, hour: int) -> bool:
    start, end = campaign.quiet_start_hour, campaign.quiet_end_hour
    if start is None or end is None or start == end:
        return False
    return start <= hour < end if start < end else (hour >= start or hour < end)


def _send_time(campaign: Campaign, zone: ZoneInfo | None, start: datetime) -> tuple[datetime | None, bool]:
    """(when this contact's message may go, skipped for quiet hours)."""
    tz = zone or timezone.get_current_timezone()
    when = start
    if campaign.local_time and campaign.scheduled_at is not None:
        wall = campaign.scheduled_at.astimezone(timezone.get_current_timezone())
        when = datetime(wall.year, wall.month, wall.day, wall.hour, wall.minute, tzinfo=tz)
        when = max(when, start)
    local = when.astimezone(tz)
    if _quiet(campaign, local.hour):
        if campaign.quiet_action == QuietHoursAction.SKIP:
            return None, True
        end_hour = campaign.quiet_end_hour or 0
        nxt = local.replace(hour=end_hour, minute=0, second=0, microsecond=0)
        if nxt <= local:
            nxt += timedelta(days=1)
        when = nxt
    return (when if when > start else None), False


def _contact_chunks(contacts: QuerySet[Contact]) -> Iterator[list[Contact]]:
    """The audience in id order, PLAN_CHUNK at a time, by keyset (no OFFSET, memory flat)."""
    last = 0
    fields = ("id", "phone", "name", "email", "external_id", "language", "timezone", "properties", "whatsapp_consent")
    while True:
        chunk = list(contacts.filter(id__gt=last).order_by("id").only(*fields)[:PLAN_CHUNK])
        if not chunk:
            return
        yield chunk
        last = chunk[-1].pk


def campaign_plan(*, campaign: Campaign) -> int:
    """Freeze the recipients and their template parameters, in bulk; returns how many rows were added.

    Idempotent: re-planning (after a crash mid-way) adds only the contacts not yet planned. Every contact of the
    audience gets a row; the ones that will not be sent to carry a skip reason. One INSERT ... SELECT plans
    whatever SQL can say exactly (campaigns.planning); Python plans the rest, with the same rules.
    """
    contacts = campaign_audience(campaign=campaign)
    in_sql = plan_in_sql(campaign=campaign, contacts=contacts)
    if in_sql is None:
        planned = CampaignRecipient.objects.filter(campaign=campaign, contact=OuterRef("pk"))
        added, rest = 0, contacts.filter(~Exists(planned))
    else:
        added, rest = in_sql
    added += _plan_in_python(campaign, rest)
    Campaign.objects.filter(pk=campaign.pk).update(planned_at=timezone.now())
    campaign.planned_at = timezone.now()
    return added


def _plan_in_python(campaign: Campaign, contacts: QuerySet[Contact]) -> int:
    now = timezone.now()
    template = campaign.template
    cap = campaign.frequency_cap_count and campaign.frequency_cap_days
    needs_opt_in = campaign.audience != Audience.TEST_PROFILES
    # Constant-only personalisation resolves to the same values for everyone: resolve them once.
    uses_contact = any(
        isinstance(spec, dict) and ("property" in spec or "field" in spec) for spec in campaign.variables.values()
    )
    shared: dict[str, Any] | None = None
    added = 0
    for chunk in _contact_chunks(contacts):
        capped = (
            contacts_over_frequency_cap(
                contact_ids=[c.pk for c in chunk],
                limit=int(campaign.frequency_cap_count or 0),
                days=int(campaign.frequency_cap_days or 0),
            )
            if cap
            else set()
        )
        rows: list[CampaignRecipient] = []
        for contact in chunk:
            row = CampaignRecipient(campaign=campaign, contact_id=contact.pk, phone=contact.phone)
            rows.append(row)
            if contact.whatsapp_consent == Consent.UNSUBSCRIBED:
                row.state, row.skip_reason = RecipientState.SKIPPED, SkipReason.OPTED_OUT
                continue
            if needs_opt_in and contact.whatsapp_consent != Consent.SUBSCRIBED:
                row.state, row.skip_reason = RecipientState.SKIPPED, SkipReason.UNSUBSCRIBED
                continue
            if not contact.phone.startswith("+") or not contact.phone[1:].isdigit():
                row.state, row.skip_reason = RecipientState.SKIPPED, SkipReason.INVALID
                continue
            if contact.pk in capped:
                row.state, row.skip_reason = RecipientState.SKIPPED, SkipReason.CAPPED
                continue
            if campaign.control_group_percent and in_control_group(
                campaign.pk, contact.pk, campaign.control_group_percent
            ):
                row.state, row.skip_reason = RecipientState.SKIPPED, SkipReason.CONTROL_GROUP
                continue
            send_after, quiet_skip = _send_time(campaign, _zone(contact.timezone), now)
            if quiet_skip:
                row.state, row.skip_reason = RecipientState.SKIPPED, SkipReason.QUIET_HOURS
                continue
            try:
                if uses_contact or shared is None:
                    values = template_values(
                        template,
                        contact=contact,
                        variables=campaign.variables,
                        header_media_url=campaign.header_media_url or None,
                    )
                    if not uses_contact:
                        shared = values
                else:
                    values = shared
            except TemplateRenderError as exc:
                row.state, row.skip_reason, row.skip_detail = (
                    RecipientState.SKIPPED,
                    SkipReason.MISSING_VARIABLE,
                    str(exc)[:255],
                )
                continue
            row.parameters = values
            row.send_after = send_after
        CampaignRecipient.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
        added += len(rows)
    return added


# --- dispatch --------------------------------------------------------------------------------------------------


def _campaign_messages(campaign: Campaign) -> QuerySet[Message]:
    return Message.objects.filter(origin=Origin.CAMPAIGN, origin_ref=str(campaign.pk))


def _materialize_next(campaign: Campaign, limit: int) -> list[int]:
    """The ids of the next queued Messages to send ([] when no due recipient is left), however many batches in a
    row turn out to have nothing sendable (opted out since planning, parameters that no longer render): a loop, so
    half a million such rows cost batches, never stack frames."""
    while (ids := _materialize(campaign, limit)) is not None:
        if ids:
            return ids
    return []


def _materialize(campaign: Campaign, limit: int) -> list[int] | None:
    """The next due recipients become queued Messages through the one outbox function (`messages_prepare`: the send
    rules, once per client_ref); returns the ids to send, [] when this batch had none to send (the caller asks
    again: these rows are no longer `planned`), None when none is due."""
    now = timezone.now()
    due = list(
        CampaignRecipient.objects.filter(campaign=campaign, state=RecipientState.PLANNED)
        .filter(Q(send_after__isnull=True) | Q(send_after__lte=now))
        .order_by("id")
        .values_list("id", "contact_id", "phone", "parameters", "contact__whatsapp_consent")[:limit]
    )
    if not due:
        return None
    template, provider, origin_ref = campaign.template, campaign.provider, str(campaign.pk)
    items: list[Outgoing] = []
    recipients: list[int] = []
    skipped: dict[tuple[str, str], list[int]] = defaultdict(list)  # (reason, detail) → recipients
    for recipient_id, contact_id, phone, parameters, consent in due:
        try:
            content = template_content(template, parameters if isinstance(parameters, dict) else {})
        except TemplateRenderError as exc:
            skipped[(SkipReason.MISSING_VARIABLE, str(exc)[:255])].append(recipient_id)
            continue
        contact = Contact(pk=contact_id, phone=phone, whatsapp_consent=consent)
        items.append(Outgoing(provider, phone, content, Origin.CAMPAIGN, origin_ref, contact))
        recipients.append(recipient_id)
    with transaction.atomic():
        linked: list[tuple[int, int]] = []
        to_send: list[int] = []
        for recipient_id, result in zip(recipients, messages_prepare(items=items), strict=True):
            if isinstance(result, SendOptedOut):  # opted out since planning: recorded, not sent
                skipped[(SkipReason.OPTED_OUT, "")].append(recipient_id)
            elif isinstance(result, SendInvalidNumber):
                skipped[(SkipReason.INVALID, str(result)[:255])].append(recipient_id)
            elif isinstance(result, SendRefused):
                continue  # the number was switched off meanwhile: stays planned, the run stops on it
            else:
                message, _created = result
                linked.append((recipient_id, message.pk))
                if message.status == MessageStatus.QUEUED:
                    to_send.append(message.pk)  # a message a crashed run left `sending` was settled, never resent
        for (reason, detail), ids in skipped.items():
            CampaignRecipient.objects.filter(id__in=ids, state=RecipientState.PLANNED).update(
                state=RecipientState.SKIPPED, skip_reason=reason, skip_detail=detail
            )
        values_update(
            table=CampaignRecipient._meta.db_table,
            columns=("id", "message_id"),
            types=("bigint", "bigint"),
            rows=linked,
            assignments="message_id = v.message_id, state = %s",
            params=[RecipientState.QUEUED.value],
        )
    return to_send


def _lease_take(campaign: Campaign) -> bool:
    now = timezone.now()
    taken = Campaign.objects.filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now),
        pk=campaign.pk,
        status__in=[S.SCHEDULED, S.RUNNING],
    ).update(status=S.RUNNING, lease_until=now + timedelta(seconds=LEASE_SECONDS), updated_at=now)
    if taken:
        Campaign.objects.filter(pk=campaign.pk, started_at__isnull=True).update(started_at=now)
        campaign.refresh_from_db()
    return bool(taken)


def _lease_release(campaign: Campaign) -> None:
    Campaign.objects.filter(pk=campaign.pk).update(lease_until=None)


def campaign_run(
    *, campaign: Campaign, batch_size: int = 500, max_concurrency: int | None = None
) -> DispatchReport | None:
    """Plan (once), then send every due recipient; None when another worker holds the campaign or it is not due.

    Safe to call again at any time: a resumed run settles what a dead worker left mid-request as `unknown`, sends
    what was prepared but never claimed, then carries on with the planned recipients.
    """
    if not _lease_take(campaign):
        return None
    try:
        if campaign.planned_at is None:
            campaign_plan(campaign=campaign)
        messages = _campaign_messages(campaign)
        messages_interrupted_settle(messages=messages)
        leftovers = list(messages.filter(status=MessageStatus.QUEUED).values_list("id", flat=True))
        last_refresh = [0.0]

        def next_ids(limit: int) -> list[int]:
            if leftovers:
                batch = leftovers[:limit]
                del leftovers[:limit]
                return batch
            return _materialize_next(campaign, limit)

        def should_stop() -> bool | str:
            """Asked several times a second while sending: a pause or a cancel, or the number switched off."""
            now = timezone.now()
            renewed = Campaign.objects.filter(pk=campaign.pk, status=S.RUNNING).update(
                lease_until=now + timedelta(seconds=LEASE_SECONDS)
            )
            if not renewed:
                return True
            provider = ProviderConfig.objects.get(pk=campaign.provider_id)
            return provider_send_refusal(provider) or False

        refusal = provider_send_refusal(campaign.provider) or template_send_refusal(campaign.template)
        if refusal is not None:
            _campaign_pause(campaign, refusal)
            return DispatchReport(stopped="requested", reason=refusal)

        def after_batch(report: DispatchReport) -> None:
            moment = timezone.now().timestamp()
            if moment - last_refresh[0] >= STATS_REFRESH_SECONDS:
                last_refresh[0] = moment
                from campaigns.selectors import campaign_stats_refresh

                campaign_stats_refresh(campaign=campaign)

        report = dispatch_run(
            provider=campaign.provider,
            next_ids=next_ids,
            rate=float(campaign.throttle_per_second),
            share_key=f"campaign:{campaign.pk}",
            batch_size=batch_size,
            max_concurrency=max_concurrency,
            should_stop=should_stop,
            surge=SurgePolicy(),
            after_batch=after_batch,
        )
        if report.stopped == "surge" or (report.stopped == "requested" and report.reason):
            _campaign_pause(campaign, report.reason)
        elif report.stopped is None:
            _campaign_finish_or_wait(campaign)
    finally:
        _lease_release(campaign)
    from campaigns.selectors import campaign_stats_refresh

    campaign.refresh_from_db()
    campaign_stats_refresh(campaign=campaign)
    return report


def _campaign_pause(campaign: Campaign, reason: str) -> None:
    """Paused by the engine (a failure surge, the number switched off), with the reason shown on its page."""
    Campaign.objects.filter(pk=campaign.pk, status=S.RUNNING).update(status=S.PAUSED, pause_reason=reason)


def _campaign_finish_or_wait(campaign: Campaign) -> None:
    """Completed when nobody is left to send to; otherwise run again when the next contact's time comes."""
    planned = CampaignRecipient.objects.filter(campaign=campaign, state=RecipientState.PLANNED)
    # The earliest time a planned contact waits for (quiet hours, local time); read from the index of rows that
    # have one, so the common campaign (everyone due at once) never writes that index at planning.
    waiting = (
        planned.filter(send_after__isnull=False).order_by("send_after").values_list("send_after", flat=True).first()
    )
    if waiting is None and not planned.exists():
        Campaign.objects.filter(pk=campaign.pk, status=S.RUNNING).update(
            status=S.COMPLETED, completed_at=timezone.now()
        )
        Schedule.objects.filter(name=campaign.schedule_name).delete()
        return
    _schedule_run(campaign, at=waiting or timezone.now())


def _schedule_run(campaign: Campaign, *, at: datetime) -> None:
    """One django-q2 Schedule per campaign, created or moved in place (never a second one)."""
    Schedule.objects.update_or_create(
        name=campaign.schedule_name,
        defaults={
            "func": "campaigns.tasks.campaign_run",
            "args": repr((campaign.pk,)),
            "schedule_type": Schedule.ONCE,
            "repeats": 1,
            "next_run": at,
        },
    )


def _enqueue_now(campaign: Campaign) -> None:
    Schedule.objects.filter(name=campaign.schedule_name).delete()
    pk = campaign.pk
    transaction.on_commit(lambda: async_task("campaigns.tasks.campaign_run", pk))


# --- lifecycle -------------------------------------------------------------------------------------------------


def campaign_schedule(*, campaign: Campaign, scheduled_at: datetime | None = None) -> Campaign:
    """Launch now (no time, or a time already past) or at `scheduled_at`; local-time campaigns start early enough
    for the first timezone to reach that wall-clock time."""
    if campaign.status not in (S.DRAFT, S.SCHEDULED):
        raise CampaignActionRefused(
            f"This campaign is already {campaign.get_status_display().lower()}: it cannot be launched again."
        )
    _validate(campaign)
    now = timezone.now()
    if scheduled_at is not None:
        campaign.scheduled_at = scheduled_at
    elif not campaign.local_time:
        campaign.scheduled_at = None
    campaign.status = S.SCHEDULED
    campaign.save(update_fields=["status", "scheduled_at", "updated_at"])
    start = campaign.scheduled_at
    if start is not None and campaign.local_time:
        start = start - EARLIEST_OFFSET
    if start is None or start <= now:
        _enqueue_now(campaign)
    else:
        _schedule_run(campaign, at=start)
    return campaign


def campaign_pause(*, campaign: Campaign, reason: str = "") -> Campaign:
    changed = Campaign.objects.filter(pk=campaign.pk, status__in=[S.SCHEDULED, S.RUNNING]).update(
        status=S.PAUSED, pause_reason=reason or "Paused by a user."
    )
    if not changed:
        raise CampaignActionRefused(
            f"Only a scheduled or running campaign can be paused; this one is {campaign.status}."
        )
    Schedule.objects.filter(name=campaign.schedule_name).delete()
    campaign.refresh_from_db()
    return campaign


def campaigns_pause_for_template(*, template: Template, reason: str) -> int:
    """WhatsApp stopped `template` (rejected, paused, disabled or deleted): its scheduled and running campaigns pause
    with the reason on their page; a running one stops sending within a second (its next stop check). How many."""
    campaigns = list(Campaign.objects.filter(template=template, status__in=[S.SCHEDULED, S.RUNNING]))
    for campaign in campaigns:
        try:
            campaign_pause(campaign=campaign, reason=f"Template {template.name!r}: {reason}")
        except CampaignActionRefused:
            continue  # it finished or was paused meanwhile
    return len(campaigns)


def campaign_resume(*, campaign: Campaign) -> Campaign:
    if (refusal := template_send_refusal(campaign.template)) is not None:
        raise CampaignActionRefused(f"{refusal} Resume once WhatsApp approves it again (the next template sync).")
    changed = Campaign.objects.filter(pk=campaign.pk, status=S.PAUSED).update(status=S.RUNNING, pause_reason="")
    if not changed:
        raise CampaignActionRefused(f"Only a paused campaign can be resumed; this one is {campaign.status}.")
    campaign.refresh_from_db()
    _enqueue_now(campaign)
    return campaign


def campaign_cancel(*, campaign: Campaign) -> Campaign:
    changed = Campaign.objects.filter(pk=campaign.pk, status__in=[S.DRAFT, S.SCHEDULED, S.RUNNING, S.PAUSED]).update(
        status=S.CANCELLED, completed_at=timezone.now()
    )
    if not changed:
        raise CampaignActionRefused(f"A {campaign.status} campaign cannot be cancelled.")
    Schedule.objects.filter(name=campaign.schedule_name).delete()
    CampaignRecipient.objects.filter(campaign=campaign, state=RecipientState.PLANNED).update(
        state=RecipientState.CANCELLED
    )
    campaign.refresh_from_db()
    return campaign


def campaign_retry_failed(*, campaign: Campaign) -> int:
    """Send again the messages Nexmo never accepted (`failed`: 429, 5xx, unreachable), with the same client_ref.

    `rejected` would fail the same way and `unknown` may have been delivered: neither is resent.
    """
    if campaign.status not in (S.COMPLETED, S.PAUSED, S.RUNNING):
        raise CampaignActionRefused(f"A {campaign.status} campaign has nothing to retry.")
    count = (
        _campaign_messages(campaign)
        .filter(transitions.q_step(MessageStatus.FAILED, MessageStatus.QUEUED))
        .update(status=MessageStatus.QUEUED, error_code="", error_reason="", failed_at=None, updated_at=timezone.now())
    )
    if count:
        Campaign.objects.filter(pk=campaign.pk).update(status=S.RUNNING, pause_reason="", completed_at=None)
        campaign.refresh_from_db()
        _enqueue_now(campaign)
    return int(count)


def campaign_test_send(*, campaign: Campaign, contacts: list[Contact] | None = None) -> list[SendResult | str]:
    """Send the campaign's message to the test profiles now (each send is new: origin `test`); a refusal is a string."""
    targets = contacts if contacts is not None else list(contact_test_profiles())
    if not targets:
        raise CampaignActionRefused("There are no test profiles: mark a contact as a test profile first.")
    if len(targets) > TEST_SEND_MAX_RECIPIENTS:
        raise CampaignActionRefused(
            f"A test send goes to at most {TEST_SEND_MAX_RECIPIENTS} recipients and there are {len(targets)} test "
            "profiles: unmark some first."
        )
    stamp = timezone.now().strftime("%Y%m%d%H%M%S%f")
    results: list[SendResult | str] = []
    for contact in targets:
        try:
            content = template_rendering(
                campaign.template,
                contact=contact,
                variables=campaign.variables,
                header_media_url=campaign.header_media_url or None,
            ).content
            results.append(
                message_send(
                    provider=campaign.provider,
                    to=contact.phone,
                    content=content,
                    origin=Origin.TEST,
                    origin_ref=f"campaign:{campaign.pk}:{stamp}",
                    contact=contact,
                )
            )
        except (SendRefused, TemplateRenderError) as exc:
            results.append(f"{contact.phone}: {exc}")
    return results
