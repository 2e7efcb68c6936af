"""Outbound messages: the one place that creates them (every send rule applied once), records what Nexmo
answered, and sends one message now for the origins that wait for the answer (a test send, an auto-reply)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.db.models import Case, DateTimeField, F, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from contacts.models import Consent, Contact
from contacts.phones import phone_digits, phone_normalize_fast
from providers.content import Content, InteractiveContent, MediaContent, TextContent
from providers.messaging import pacing, transitions
from providers.messaging.statuses import message_pending_apply
from providers.models import (
    Message,
    MessageStatus,
    Origin,
    ProviderConfig,
)
from providers.nexmo import client as nexmo
from providers.nexmo.errors import NexmoAmbiguousError, NexmoError
from providers.nexmo.payloads import body_build, client_ref_for, content_describe
from providers.selectors import contacts_message_counts
from providers.services import provider_credentials
from whatsapp_project.db import server_side_cursor

logger = logging.getLogger(__name__)

S = MessageStatus

# One test send (a template's or a number's, from a screen or the API) reaches at most this many recipients: each is a
# synchronous request to Nexmo while the user waits, and a test is for a handful of phones, not a broadcast.
TEST_SEND_MAX_RECIPIENTS = 20


class SendRefused(Exception):
    """Refused before Nexmo was called (outside the 24-hour window, bad number, opted out, inactive provider).

    The message says why and, where it helps, what to do about it.
    """


class SendCapped(SendRefused):
    """Refused because the contact reached the frequency cap the origin asked for."""


class SendOptedOut(SendRefused):
    """Refused because the contact opted out (sent STOP)."""


class SendInvalidNumber(SendRefused):
    """Refused because the number is not a phone number WhatsApp can reach."""


@dataclass(frozen=True, slots=True)
class SendResult:
    message: Message  # the logged providers.Message
    status_code: int | None  # Nexmo's HTTP status; None when no answer came (the message is then `unknown`)
    body: dict[str, Any] | None  # Nexmo's JSON answer: {"message_uuid": …} or problem+json
    duplicate: bool = False  # this client_ref was already sent: nothing new went to Nexmo

    @property
    def ok(self) -> bool:
        return self.status_code == 202


# --- sending ---------------------------------------------------------------------------------------------------


def wa_me_link(provider: ProviderConfig) -> str:
    """The link a customer taps to message this number, which opens the 24-hour window."""
    return f"https://wa.me/{phone_digits(provider.phone_number)}"


def message_body(*, provider: ProviderConfig, content: Content, to: str, client_ref: str) -> dict[str, Any]:
    """The request body Nexmo gets for this content from this provider's number (its API version and namespace)."""
    return body_build(
        api_version=provider.api_version,
        content=content,
        from_number=provider.phone_number,
        to=to,
        client_ref=client_ref,
        namespace=provider.whatsapp_namespace,
    )


def provider_send_refusal(provider: ProviderConfig) -> str | None:
    """Why nothing may be sent from this number right now (None: it may send). Every origin asks this one rule."""
    if not provider.is_active:
        return f"The WhatsApp number {provider.nickname} is switched off; activate it to send."
    return None


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message some origin wants to send: what `messages_prepare` checks and queues."""

    provider: ProviderConfig
    to: str
    content: Content
    origin: str
    origin_ref: str
    contact: Contact | None = None
    # (messages, days): refuse when the contact already got this many messages, of any origin, in these days.
    frequency_cap: tuple[int, int] | None = None


def _refusal(item: Outgoing, e164: str, contact: Contact | None, now: datetime) -> SendRefused | str | None:
    """The send rules, each written once: the number may send, the customer has not opted out, and free-form content
    only inside the 24-hour window."""
    if (refusal := provider_send_refusal(item.provider)) is not None:
        return refusal
    # Every origin, test sends included: a STOP means no more messages from us, whoever clicks the button.
    if contact is not None and contact.whatsapp_consent == Consent.UNSUBSCRIBED:
        return SendOptedOut(f"{e164} has opted out of WhatsApp messages (sent STOP); they must opt in again first.")
    if isinstance(item.content, TextContent | MediaContent | InteractiveContent) and (
        contact is None or not contact.window_open(now)
    ):
        return (
            f"{e164} has not messaged {item.provider.phone_number} in the last 24 hours, so WhatsApp only allows an "
            f"approved template. To open the window, ask the customer to send any message to the number, e.g. "
            f"with the link {wa_me_link(item.provider)}."
        )
    return None


def messages_prepare(*, items: Sequence[Outgoing]) -> list[tuple[Message, bool] | SendRefused]:
    """Check each send against the rules and log it as `queued`: for each item, (message, created) or the refusal.

    Every origin comes through here (one at a time through `message_prepare`, journeys a walked batch at once).
    Idempotent: the same (origin, origin_ref, recipient) always gives the same client_ref, so an item sent before
    returns its first message (created False) and nothing is ever sent twice. One query finds the messages already
    there and one INSERT writes the new ones.
    """
    now = timezone.now()
    numbers: list[str | SendRefused] = []
    for item in items:
        if item.origin not in Origin.values:
            raise ValueError(f"Unknown origin {item.origin!r}")
        try:
            numbers.append(phone_normalize_fast(item.to))
        except ValidationError as exc:
            numbers.append(SendInvalidNumber(exc.messages[0]))
    unknown = {n for n, item in zip(numbers, items, strict=True) if isinstance(n, str) and item.contact is None}
    known = {c.phone: c for c in Contact.objects.filter(phone__in=unknown)} if unknown else {}
    outcomes: list[str | SendRefused] = []  # the client_ref of each item, or why it is refused
    new: dict[str, Message] = {}
    for item, e164 in zip(items, numbers, strict=True):
        if isinstance(e164, SendRefused):
            outcomes.append(e164)
            continue
        contact = item.contact if item.contact is not None else known.get(e164)
        if (refusal := _refusal(item, e164, contact, now)) is not None:
            outcomes.append(refusal if isinstance(refusal, SendRefused) else SendRefused(refusal))
            continue
        client_ref = client_ref_for(origin=item.origin, origin_ref=item.origin_ref, recipient=e164)
        outcomes.append(client_ref)
        if client_ref not in new:
            new[client_ref] = _message_new(item, e164, contact, client_ref)
    existing = {m.client_ref: m for m in Message.objects.filter(client_ref__in=list(new))} if new else {}
    _frequency_caps_apply(items, outcomes, new, existing)
    fresh = [message for ref, message in new.items() if ref not in existing]
    raced = _messages_insert(fresh, now)
    if raced:
        # The same send raced us to the insert: theirs is the one.
        existing.update((m.client_ref, m) for m in Message.objects.filter(client_ref__in=raced))
    results: list[tuple[Message, bool] | SendRefused] = []
    given: set[str] = set()
    for outcome in outcomes:
        if isinstance(outcome, SendRefused):
            results.append(outcome)
        elif outcome in existing:
            results.append((existing[outcome], False))
        else:
            results.append((new[outcome], outcome not in given))  # a repeat within this call: created once
            given.add(outcome)
    return results


def _frequency_caps_apply(
    items: Sequence[Outgoing], outcomes: list[str | SendRefused], new: dict[str, Message], existing: dict[str, Message]
) -> None:
    """Refuse the new sends that would take a contact over its origin's frequency cap, counting the messages already
    sent and those accepted earlier in this call (a message sent before is never refused: it is the same send)."""
    capped = [i for i, item in enumerate(items) if item.frequency_cap and isinstance(outcomes[i], str)]
    counts: dict[tuple[int, int], int] = {}  # (contact, days) → messages counted so far
    for days in {items[i].frequency_cap[1] for i in capped}:  # type: ignore[index]
        contacts = {new[str(outcomes[i])].contact_id for i in capped if items[i].frequency_cap[1] == days}  # type: ignore[index]
        found = contacts_message_counts(contact_ids=[c for c in contacts if c is not None], days=days)
        counts.update({(contact, days): n for contact, n in found.items()})
    for i in capped:
        ref, (limit, days) = str(outcomes[i]), items[i].frequency_cap  # type: ignore[misc]
        contact_id = new[ref].contact_id
        if ref in existing or contact_id is None:
            continue
        if counts.get((contact_id, days), 0) >= limit:
            outcomes[i] = SendCapped(f"The contact already got {limit} message(s) in the last {days} day(s).")
            if all(outcome != ref for outcome in outcomes):
                del new[ref]
            continue
        counts[(contact_id, days)] = counts.get((contact_id, days), 0) + 1


# Every column of an outbound message as it is queued, with its type: one array each in the INSERT below.
_QUEUED_COLUMNS = (
    ("provider_id", "bigint"),
    ("contact_id", "bigint"),
    ('"to"', "text"),
    ("client_ref", "text"),
    ("origin", "text"),
    ("origin_ref", "text"),
    ("content_type", "text"),
    ("content_summary", "text"),
    ("request_body", "jsonb"),
)


def _messages_insert(messages: list[Message], now: datetime) -> list[str]:
    """Insert new `queued` messages in one statement (one array per column: the ORM's bulk insert spent more CPU
    turning ~20 parameters a row into SQL than the sends themselves took); sets each one's id. Returns the
    client_refs another writer inserted first (those rows are theirs)."""
    if not messages:
        return []
    columns = ", ".join(name for name, _ in _QUEUED_COLUMNS)
    arrays = ", ".join(f"%s::{kind}[]" for _, kind in _QUEUED_COLUMNS)
    sql = (
        # The table and columns are the model's own; every value is a bound parameter.
        f"INSERT INTO {Message._meta.db_table} ({columns}, status, error_code, error_reason, currency, created_at,"  # noqa: S608
        f" updated_at) SELECT *, %s, '', '', '', %s, %s FROM unnest({arrays})"
        " ON CONFLICT (client_ref) DO NOTHING RETURNING id, client_ref"
    )
    values = [
        [m.provider_id for m in messages],
        [m.contact_id for m in messages],
        [m.to for m in messages],
        [m.client_ref for m in messages],
        [m.origin for m in messages],
        [m.origin_ref for m in messages],
        [m.content_type for m in messages],
        [m.content_summary for m in messages],
        [json.dumps(m.request_body) for m in messages],
    ]
    with server_side_cursor() as cursor:
        cursor.execute(sql, [S.QUEUED.value, now, now, *values])  # in the order of the statement's text
        ids = dict((ref, pk) for pk, ref in cursor.fetchall())
    raced = []
    for message in messages:
        if message.client_ref in ids:
            message.pk, message.created_at, message.updated_at = ids[message.client_ref], now, now
            message._state.adding, message._state.db = False, "default"
        else:
            raced.append(message.client_ref)
    return raced


def _message_new(item: Outgoing, e164: str, contact: Contact | None, client_ref: str) -> Message:
    content_type, summary = content_describe(item.content)
    return Message(
        provider=item.provider,
        contact=contact,
        to=e164,
        status=S.QUEUED,
        client_ref=client_ref,
        origin=item.origin,
        origin_ref=item.origin_ref[:255],
        content_type=content_type,
        content_summary=summary,
        request_body=message_body(provider=item.provider, content=item.content, to=e164, client_ref=client_ref),
    )


def message_prepare(
    *,
    provider: ProviderConfig,
    to: str,
    content: Content,
    origin: str,
    origin_ref: str,
    contact: Contact | None = None,
) -> tuple[Message, bool]:
    """Check one send is allowed and log it as `queued`; (message, created). Raises SendRefused with the reason."""
    [result] = messages_prepare(
        items=[
            Outgoing(provider=provider, to=to, content=content, origin=origin, origin_ref=origin_ref, contact=contact)
        ]
    )
    if isinstance(result, SendRefused):
        raise result
    return result


def _claim(message: Message) -> bool:
    """queued → sending, once: whoever wins the UPDATE is the only one who calls Nexmo for this message."""
    claimed = Message.objects.filter(transitions.q_step(S.QUEUED, S.SENDING), pk=message.pk).update(
        status=S.SENDING, updated_at=timezone.now()
    )
    if claimed:
        message.status = S.SENDING
    return bool(claimed)


def message_outcome_record(*, message: Message, outcome: nexmo.Outcome) -> SendResult:
    """Record what came of the request: 202 → submitted, Nexmo error → rejected/failed, no answer → unknown."""
    now = timezone.now()
    base = Message.objects.filter(pk=message.pk)
    if isinstance(outcome, nexmo.NexmoResponse):
        uuid = outcome.message_uuid or None
        try:
            base.update(
                message_uuid=uuid,
                response_status=outcome.status_code,
                response_body=outcome.body,
                submitted_at=Coalesce(F("submitted_at"), Value(now, output_field=DateTimeField())),
                # A status callback may have overtaken the answer (matched by client_ref): never move back.
                status=Case(When(transitions.q_into(S.SUBMITTED), then=Value(S.SUBMITTED)), default=F("status")),
                updated_at=now,
            )
        except IntegrityError:
            logger.error("Nexmo returned message_uuid %s twice; kept on the first message", uuid)
        message.refresh_from_db()
        message_pending_apply(message)
        message.refresh_from_db()
        return SendResult(message=message, status_code=outcome.status_code, body=outcome.body)
    if isinstance(outcome, NexmoError):
        # 4xx (other than 429): Nexmo looked at it and said no. 429/5xx/connection: it never got in.
        rejected = outcome.status is not None and not outcome.retryable
        status = S.REJECTED if rejected else S.FAILED
        base.filter(transitions.q_into(status)).update(
            status=status,
            error_code=outcome.code[:64],
            error_reason=f"{outcome.title}: {outcome.detail}".strip(": ")[:2000],
            response_status=outcome.status,
            response_body=outcome.body,
            failed_at=now,
            updated_at=now,
        )
        message.refresh_from_db()
        return SendResult(message=message, status_code=outcome.status, body=outcome.body)
    base.filter(transitions.q_into(S.UNKNOWN)).update(
        status=S.UNKNOWN, error_code="timeout", error_reason=str(outcome)[:2000], updated_at=now
    )
    message.refresh_from_db()
    message_pending_apply(message)
    message.refresh_from_db()
    return SendResult(message=message, status_code=None, body=None)


def _existing_result(message: Message) -> SendResult:
    return SendResult(message=message, status_code=message.response_status, body=message.response_body, duplicate=True)


def message_send(
    *,
    provider: ProviderConfig,
    to: str,
    content: Content,
    origin: str,
    origin_ref: str,
    contact: Contact | None = None,
) -> SendResult:
    """Send one message now and log it. `origin` is test | campaign | journey | auto_reply; `origin_ref` names the
    test/campaign/journey node so that (origin, origin_ref, recipient) gives a deterministic client_ref.

    Raises SendRefused before calling Nexmo when the send is not allowed. A repeated call with the same
    (origin, origin_ref, to) returns the first message with `duplicate=True` and sends nothing.
    """
    message, created = message_prepare(
        provider=provider, to=to, content=content, origin=origin, origin_ref=origin_ref, contact=contact
    )
    if not created or not _claim(message):
        return _existing_result(message)
    # One slot of the number's cap, like every run on the number.
    pacing.slot_wait(key=f"provider:{provider.pk}", rate=float(provider.max_messages_per_second))
    outcome: nexmo.Outcome
    try:
        outcome = nexmo.send(credentials=provider_credentials(provider), body=message.request_body or {})
    except (NexmoError, NexmoAmbiguousError) as exc:
        outcome = exc
    return message_outcome_record(message=message, outcome=outcome)
