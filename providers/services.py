"""Writes for providers and messages: configuring numbers, sending, logging and applying callbacks."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, DateTimeField, F, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_q.tasks import async_task

from contacts.models import Consent, Contact
from contacts.phones import phone_digits, phone_normalize, phone_normalize_fast
from contacts.services import contact_consent_set, contact_get_or_create_by_phone, contact_inbound_record
from providers import keys, pacing, signals, transitions
from providers.content import Content, MediaContent, TextContent
from providers.models import (
    CallbackKind,
    CallbackLog,
    InboundMessage,
    Message,
    MessageStatus,
    Origin,
    PendingStatus,
    ProviderConfig,
    callback_token_new,
)
from providers.nexmo import client as nexmo
from providers.nexmo.errors import NexmoAmbiguousError, NexmoError
from providers.nexmo.hosts import base_url_problem
from providers.nexmo.payloads import body_build, client_ref_for, content_describe
from providers.nexmo.webhooks import InboundEvent, PayloadInvalid, StatusEvent, status_parse
from providers.selectors import contacts_message_counts, inbound_said, keywords_parse
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


# --- providers -------------------------------------------------------------------------------------------------

PROVIDER_FIELDS = (
    "nickname",
    "phone_number",
    "application_id",
    "api_version",
    "api_base_url",
    "whatsapp_namespace",
    "auto_reply_enabled",
    "auto_reply_text",
    "opt_out_keywords",
    "opt_in_keywords",
    "is_active",
    "max_messages_per_second",
)


def _provider_apply(provider: ProviderConfig, data: dict[str, Any]) -> None:
    for name in PROVIDER_FIELDS:
        if name in data:
            setattr(provider, name, data[name])
    if data.get("api_base_url"):
        problem = base_url_problem(str(data["api_base_url"]))
        if problem is not None:
            raise ValidationError({"api_base_url": [problem]})
    if "phone_number" in data:
        try:
            provider.phone_number = phone_normalize(str(data["phone_number"]))
        except ValidationError as exc:
            raise ValidationError({"phone_number": exc.messages}) from None
    if data.get("private_key"):
        try:
            provider.private_key_fingerprint = keys.private_key_validate(str(data["private_key"]))
        except ValidationError as exc:
            raise ValidationError({"private_key": exc.messages}) from None
        provider.private_key = str(data["private_key"]).strip() + "\n"
    # One rule for the UI and the API: a blank secret keeps the one on file; removing it (which turns callback
    # verification off) is an explicit `signature_secret_clear`.
    secret = str(data.get("signature_secret") or "").strip()
    if data.get("signature_secret_clear"):
        if secret:
            raise ValidationError(
                {"signature_secret_clear": ["Give a new signature secret or clear the one on file, not both."]}
            )
        provider.signature_secret = ""
    elif secret:
        provider.signature_secret = secret
    if provider.auto_reply_enabled and not provider.auto_reply_text.strip():
        raise ValidationError({"auto_reply_text": ["Write the auto-reply, or turn the auto-reply off."]})


def provider_create(*, data: dict[str, Any]) -> ProviderConfig:
    """Create a provider config; the private key is required and checked (RSA ≥ 2048 bits, signs a JWT)."""
    if not data.get("private_key"):
        raise ValidationError({"private_key": ["Paste or upload the application's private key."]})
    provider = ProviderConfig()
    _provider_apply(provider, data)
    provider.full_clean(exclude=["private_key", "signature_secret", "callback_token"])
    provider.save()
    return provider


def provider_update(*, provider: ProviderConfig, data: dict[str, Any]) -> ProviderConfig:
    """Change a provider config; an empty private key / signature secret keeps the one on file.

    `signature_secret_clear: True` removes the signature secret (callbacks are then accepted unsigned).
    """
    was_active = ProviderConfig.objects.filter(pk=provider.pk, is_active=True).exists()
    _provider_apply(provider, data)
    provider.full_clean(exclude=["private_key", "signature_secret", "callback_token"])
    provider.save()
    _provider_cache.clear()
    if provider.is_active and not was_active:
        from providers.outbox import outbox_kick_on_commit

        outbox_kick_on_commit([provider.pk])  # what waited while it was switched off goes now
    return provider


def provider_callback_token_regenerate(*, provider: ProviderConfig) -> str:
    """A new callback token: the old callback URLs stop working (404) at once."""
    provider.callback_token = callback_token_new()
    provider.save(update_fields=["callback_token", "updated_at"])
    _provider_cache.clear()
    return provider.callback_token


def provider_credentials(provider: ProviderConfig) -> nexmo.Credentials:
    return nexmo.Credentials(
        application_id=provider.application_id,
        private_key=provider.private_key,
        base_url=provider.effective_api_base_url,
        api_version=provider.api_version,
    )


# Callback token → provider, kept a few seconds per process: the status callback path stays at one query.
_provider_cache: dict[str, tuple[float, ProviderConfig]] = {}
PROVIDER_CACHE_SECONDS = 10.0


def provider_cached(*, token: str) -> ProviderConfig | None:
    """The provider for this callback token if this process looked it up moments ago (no query; None: look it up)."""
    hit = _provider_cache.get(token)
    if hit is not None and time.monotonic() - hit[0] < PROVIDER_CACHE_SECONDS:
        return hit[1]
    return None


def provider_for_callback(*, token: str) -> ProviderConfig | None:
    """The active-or-not provider owning this callback token (None: unknown token)."""
    hit = provider_cached(token=token)
    if hit is not None:
        return hit
    now = time.monotonic()
    provider = ProviderConfig.objects.filter(callback_token=token).first()
    if provider is None:
        return None
    if len(_provider_cache) > 1000:
        _provider_cache.clear()
    _provider_cache[token] = (now, provider)
    return provider


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
    if isinstance(item.content, TextContent | MediaContent) and (contact is None or not contact.window_open(now)):
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


# --- status callbacks ------------------------------------------------------------------------------------------

_TIMESTAMP_FIELD = {
    "submitted": "submitted_at",
    "delivered": "delivered_at",
    "read": "read_at",
    "rejected": "failed_at",
    "undeliverable": "failed_at",
}


def _earliest_sql(field: str) -> str:
    return f'"{field}" = CASE WHEN "{field}" IS NULL OR "{field}" > {{at}} THEN {{at}} ELSE "{field}" END'


@cache
def _status_update_parts(status: str, with_error: bool, with_price: bool) -> tuple[str, str]:
    """The SET list and the condition of the UPDATE for one shape of status callback, values as {name}.

    Hand-written and cached because this runs for every status callback (thousands a second): building the same
    conditional UPDATE with ORM expressions cost several times the database's own work.
    """
    field = _TIMESTAMP_FIELD[status]
    moves = transitions.sql_in(transitions.sources(status))
    sets = [f'"status" = CASE WHEN "status" IN ({moves}) THEN {{status}} ELSE "status" END']
    if status in ("rejected", "undeliverable"):
        sets.append(f'"{field}" = COALESCE("{field}", {{at}})')
    else:
        # Keep the earliest time we heard of each state: a duplicate or late callback never moves it later.
        sets.append(_earliest_sql(field))
    if status == "read":
        # Read implies delivered: a read that overtakes its delivered still records delivered_at.
        sets.append(_earliest_sql("delivered_at"))
    if with_error:
        sets += ['"error_code" = {error_code}', '"error_reason" = {error_reason}']
    if with_price:
        sets += ['"price" = COALESCE("price", {price})', '"currency" = {currency}']
    sets.append('"updated_at" = {now}')
    # Only a state we move into (or a late timestamp of a state already passed) may change the row.
    condition = f'"status" IN ({moves})'
    later = transitions.after(status)
    if later:
        late = f'"status" IN ({transitions.sql_in(later)}) AND ("{field}" IS NULL OR "{field}" > {{at}})'
        condition = f"({condition} OR ({late}))"
    return ", ".join(sets), condition


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@cache
def _status_update_sql(status: str, with_error: bool, with_price: bool, where: str) -> tuple[str, tuple[str, ...]]:
    """The UPDATE of one message for one shape of status callback, and the names of its parameters in order."""
    sets, condition = _status_update_parts(status, with_error, with_price)
    names: list[str] = []

    def param(match: re.Match[str]) -> str:
        names.append(match.group(1))
        return "%s"

    sets = _PLACEHOLDER.sub(param, sets)
    names.append("where")  # the WHERE's own values come before the condition's
    condition = _PLACEHOLDER.sub(param, condition)
    table = Message._meta.db_table
    # Every piece is one of our own constants; values travel as parameters.
    sql = f'UPDATE "{table}" SET {sets} WHERE {where} AND {condition}'  # noqa: S608
    return sql, tuple(names)


# The arrays a batched update joins on (one element per callback), with their PostgreSQL types.
_BATCH_COLUMNS = (
    ("provider", "bigint"),
    ("uuid", "text"),
    ("status", "text"),
    ("at", "timestamptz"),
    ("error_code", "text"),
    ("error_reason", "text"),
    ("price", "numeric"),
    ("currency", "text"),
)


@cache
def _status_update_many_sql(status: str, with_error: bool, with_price: bool) -> str:
    """One UPDATE … FROM unnest(arrays) for many messages and one shape of callback (PostgreSQL), RETURNING the
    (provider, message_uuid, origin) of each row it changed. Its text is the same whatever the number of rows, so
    the server prepares it once per connection and stops planning it."""
    sets, condition = _status_update_parts(status, with_error, with_price)

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return "%(now)s" if name == "now" else f'"v"."v_{name}"'

    sets, condition = _PLACEHOLDER.sub(value, sets), _PLACEHOLDER.sub(value, condition)
    arrays = ", ".join(f"%({name})s::{kind}[]" for name, kind in _BATCH_COLUMNS)
    names = ", ".join(f'"v_{name}"' for name, _ in _BATCH_COLUMNS)
    table = Message._meta.db_table
    return (
        f'UPDATE "{table}" SET {sets} FROM unnest({arrays}) AS "v" ({names}) '  # noqa: S608
        f'WHERE "provider_id" = "v"."v_provider" AND "message_uuid" = "v"."v_uuid" AND {condition} '
        f'RETURNING "provider_id", "message_uuid", "origin"'
    )


_WHERE_UUID = '"provider_id" = %s AND "message_uuid" = %s'
_WHERE_PK = '"id" = %s'


def _status_values(event: StatusEvent, now: Any) -> dict[str, Any]:
    ops = connection.ops
    return {
        "status": event.status,
        "at": ops.adapt_datetimefield_value(event.timestamp),
        "error_code": event.error_code,
        "error_reason": event.error_reason,
        "price": ops.adapt_decimalfield_value(event.price, 10, 5) if event.price is not None else None,
        "currency": event.currency,
        "now": now,
    }


def _status_shape(event: StatusEvent) -> tuple[str, bool, bool]:
    return event.status, bool(event.error_code or event.error_reason), event.price is not None


def _status_update(where: str, where_params: Sequence[Any], event: StatusEvent) -> str | None:
    """One conditional UPDATE: move the status forward and/or fill in this state's timestamp; returns the origin of
    the message it changed (None: nothing changed)."""
    sql, names = _status_update_sql(*_status_shape(event), where)
    values = _status_values(event, connection.ops.adapt_datetimefield_value(timezone.now()))
    params: list[Any] = []
    for name in names:
        if name == "where":
            params.extend(where_params)
        else:
            params.append(values[name])
    with connection.cursor() as cursor:
        cursor.execute(sql + ' RETURNING "origin"', params)
        row = cursor.fetchone()
    return None if row is None else str(row[0])


def _status_update_many(events: Sequence[tuple[ProviderConfig, StatusEvent]]) -> dict[tuple[int, str], str]:
    """Apply callbacks of one shape, each for a different message, in one statement; (provider id, message uuid) →
    origin of each message it changed.
    """
    params: dict[str, Any] = {name: [] for name, _ in _BATCH_COLUMNS}
    for provider, event in events:
        params["provider"].append(provider.pk)
        params["uuid"].append(event.message_uuid)
        params["status"].append(event.status)
        params["at"].append(event.timestamp)
        params["error_code"].append(event.error_code)
        params["error_reason"].append(event.error_reason)
        params["price"].append(event.price)
        params["currency"].append(event.currency)
    params["now"] = timezone.now()
    with server_side_cursor() as cursor:
        cursor.execute(_status_update_many_sql(*_status_shape(events[0][1])), params)
        return {(int(provider_id), str(uuid)): str(origin) for provider_id, uuid, origin in cursor.fetchall()}


def message_statuses_apply(
    *, events: Sequence[tuple[ProviderConfig, StatusEvent]], announcements: list[Announcement]
) -> list[str]:
    """Apply many status callbacks inside the caller's transaction; the outcome of each (see message_status_apply).

    The common case (the message is known and moves forward) takes one statement per shape of callback for the whole
    batch; the rest (repeats, messages not known yet, statuses to ignore) take the path of a
    single callback.
    """
    outcomes = [""] * len(events)
    if len(events) > 1:
        groups: dict[tuple[str, bool, bool], list[int]] = {}
        seen: set[tuple[int, str]] = set()
        for i, (provider, event) in enumerate(events):
            key = (provider.pk, event.message_uuid)
            # A second callback for a message in this batch is left to the single path, after the first.
            if event.known and key not in seen:
                seen.add(key)
                groups.setdefault(_status_shape(event), []).append(i)
        for indexes in groups.values():
            # Rows locked in one order by every batch: two batches written at once wait, never deadlock.
            indexes.sort(key=lambda i: (events[i][0].pk, events[i][1].message_uuid))
            for start in range(0, len(indexes), _BATCH_ROWS):
                chunk = indexes[start : start + _BATCH_ROWS]
                changed = _status_update_many([events[i] for i in chunk])
                for i in chunk:
                    provider, event = events[i]
                    origin = changed.get((provider.pk, event.message_uuid))
                    if origin is not None:
                        outcomes[i] = "applied"
                        _status_announce(provider=provider, event=event, origin=origin, into=announcements)
    for i, (provider, event) in enumerate(events):
        if not outcomes[i]:
            outcomes[i] = message_status_apply(provider=provider, event=event, announcements=announcements)
    return outcomes


# Rows per batched UPDATE at most.
_BATCH_ROWS = 500


def message_status_apply(
    *, provider: ProviderConfig, event: StatusEvent, announcements: list[Announcement] | None = None
) -> str:
    """Apply a status callback: "applied", "duplicate" (nothing to change), "pending" (message not known yet) or
    "ignored" (a status value we do not track).

    An applied change is announced to higher apps after commit; a caller applying many callbacks in one transaction
    passes `announcements` to collect them and enqueues them once (`status_announce_on_commit`).
    """
    if not event.known:
        return "ignored"
    origin = _status_update(_WHERE_UUID, (provider.pk, event.message_uuid), event)
    if origin is None and event.client_ref:
        # The send's answer has not been recorded yet: the callback's client_ref finds the message.
        by_ref = Q(provider_id=provider.pk, client_ref=event.client_ref, message_uuid__isnull=True)
        try:
            with transaction.atomic():
                found = list(Message.objects.filter(by_ref).values_list("origin", flat=True)[:1])
                if found and Message.objects.filter(by_ref).update(message_uuid=event.message_uuid):
                    _status_update(_WHERE_UUID, (provider.pk, event.message_uuid), event)
                    origin = found[0]
        except IntegrityError:
            origin = None
        if origin is None:
            # The send's answer may have recorded the uuid between our two updates (the first found no uuid, the
            # second no longer a NULL one): by uuid once more, or the status would be taken for a duplicate.
            origin = _status_update(_WHERE_UUID, (provider.pk, event.message_uuid), event)
    if origin is not None:
        _status_announce(provider=provider, event=event, origin=origin, into=announcements)
        return "applied"
    known = Message.objects.filter(provider_id=provider.pk).filter(
        Q(message_uuid=event.message_uuid) | (Q(client_ref=event.client_ref) if event.client_ref else Q(pk__in=[]))
    )
    if known.exists():
        return "duplicate"
    try:
        with transaction.atomic():
            PendingStatus.objects.create(
                provider=provider,
                message_uuid=event.message_uuid,
                client_ref=event.client_ref,
                status=event.status,
                payload=_event_payload(event),
            )
    except IntegrityError:
        return "duplicate"
    # The message may have been recorded between our check and our insert: apply right away if so.
    message = Message.objects.filter(
        Q(message_uuid=event.message_uuid) | (Q(client_ref=event.client_ref) if event.client_ref else Q(pk__in=[]))
    ).first()
    if message is not None:
        message_pending_apply(message)
    return "pending"


def _event_payload(event: StatusEvent) -> dict[str, Any]:
    """The stored form of a pending status: a v0.1-shaped callback, which status_parse reads back."""
    payload: dict[str, Any] = {
        "message_uuid": event.message_uuid,
        "to": {"type": "whatsapp", "number": event.to},
        "timestamp": event.timestamp.isoformat(),
        "status": event.status,
        "client_ref": event.client_ref,
    }
    if event.error_code or event.error_reason:
        payload["error"] = {"code": event.error_code, "reason": event.error_reason}
    if event.price is not None:
        payload["usage"] = {"price": str(event.price), "currency": event.currency}
    return payload


def message_pending_apply(message: Message) -> None:
    """Apply (and remove) statuses that arrived before this message was known."""
    match = Q(message_uuid=message.message_uuid) if message.message_uuid else Q(pk__in=[])
    match |= Q(client_ref=message.client_ref)
    for pending in PendingStatus.objects.filter(match, provider_id=message.provider_id):
        with transaction.atomic():
            if not PendingStatus.objects.filter(pk=pending.pk).delete()[0]:
                continue  # applied by a concurrent call
            try:
                event = status_parse(pending.payload)
            except PayloadInvalid:
                continue
            if message.message_uuid is None:
                Message.objects.filter(pk=message.pk, message_uuid__isnull=True).update(message_uuid=event.message_uuid)
                message.message_uuid = event.message_uuid
            if _status_update(_WHERE_PK, (message.pk,), event) is not None:
                _status_announce(provider=message.provider, event=event, origin=message.origin)


# (provider id, message uuid, status, ISO timestamp): what a status task needs to announce one change.
Announcement = tuple[int, str, str, str]


def _status_announce(
    *, provider: ProviderConfig, event: StatusEvent, origin: str, into: list[Announcement] | None = None
) -> None:
    # Only what some app listens for (campaign callbacks, thousands a second, mostly nobody): no task otherwise.
    if origin not in signals.status_announced_origins or not signals.message_status_changed.has_listeners():
        return
    item = (provider.pk, event.message_uuid, event.status, event.timestamp.isoformat())
    if into is not None:
        into.append(item)
    else:
        status_announce_on_commit([item])


def status_announce_on_commit(announcements: Sequence[Announcement]) -> None:
    """One task for all of these changes, enqueued when the current transaction commits."""
    if announcements:
        items = [list(item) for item in announcements]
        transaction.on_commit(lambda: async_task("providers.tasks.status_announce_many", items))


def status_announce(*, announcements: Sequence[Announcement]) -> None:
    """Send message_status_changed for each change, the messages loaded in one query."""
    uuids = {item[1] for item in announcements}
    messages = {(m.provider_id, m.message_uuid): m for m in Message.objects.filter(message_uuid__in=uuids).order_by()}
    for provider_id, message_uuid, status, timestamp in announcements:
        message = messages.get((provider_id, message_uuid))
        if message is not None:
            signals.message_status_changed.send(
                sender=Message, message=message, status=status, timestamp=datetime.fromisoformat(timestamp)
            )


# --- inbound callbacks -----------------------------------------------------------------------------------------


def inbound_receive(*, provider: ProviderConfig, event: InboundEvent, raw: dict[str, Any]) -> InboundMessage | None:
    """Record an inbound message once and open/extend the sender's window; None for a duplicate.

    Opt-out/opt-in, the auto-reply and the announcement run in a task after commit.
    """
    if InboundMessage.objects.filter(message_uuid=event.message_uuid).exists():
        return None
    received = min(event.timestamp, timezone.now())  # a sender's clock ahead of ours must not stretch the window
    contact: Contact | None = None
    try:
        phone = phone_normalize(event.from_number)
    except ValidationError:
        phone = ""
    if phone:
        contact, _ = contact_get_or_create_by_phone(
            phone=phone, defaults={"name": event.profile_name[:255], "whatsapp_consent": Consent.UNTRACKED}
        )
    try:
        with transaction.atomic():
            inbound = InboundMessage.objects.create(
                provider=provider,
                contact=contact,
                message_uuid=event.message_uuid,
                from_number=event.from_number,
                to_number=event.to_number,
                content_type=event.content_type,
                text=event.text,
                media_url=event.media_url,
                button_payload=event.button_payload,
                button_text=event.button_text,
                location=event.location,
                profile_name=event.profile_name,
                opened_window=contact is not None and not contact.window_open(now=received),
                raw=raw,
                received_at=received,
            )
    except IntegrityError:
        return None
    if contact is not None:
        contact_inbound_record(contact=contact, at=received)
    inbound_id = inbound.pk
    transaction.on_commit(lambda: async_task("providers.tasks.inbound_process", inbound_id))
    return inbound


def inbound_process(*, inbound: InboundMessage) -> None:
    """After an inbound is stored: consent keywords, the auto-reply (once per window), then tell higher apps."""
    provider, contact = inbound.provider, inbound.contact
    said = inbound_said(inbound)
    keyword: str | None = None
    if contact is not None and said:
        if said in keywords_parse(provider.opt_out_keywords):
            keyword = "opt_out"
            contact_consent_set(contact=contact, consent=Consent.UNSUBSCRIBED, source="inbound keyword")
        elif said in keywords_parse(provider.opt_in_keywords):
            keyword = "opt_in"
            contact_consent_set(contact=contact, consent=Consent.SUBSCRIBED, source="inbound keyword")
    if (
        keyword is None
        and contact is not None
        and provider.auto_reply_enabled
        and provider.auto_reply_text.strip()
        and inbound.opened_window
        and contact.whatsapp_consent == Consent.UNTRACKED
    ):
        try:
            # origin_ref names the window (the inbound that opened it): one auto-reply per window, even on retry.
            message_send(
                provider=provider,
                to=contact.phone,
                content=TextContent(text=provider.auto_reply_text.strip()),
                origin=Origin.AUTO_REPLY,
                origin_ref=f"window:{inbound.pk}",
                contact=contact,
            )
        except SendRefused as exc:
            logger.warning("Auto-reply to %s not sent: %s", contact.phone, exc)
    signals.inbound_message_received.send(
        sender=InboundMessage, inbound=inbound, contact=contact, provider=provider, keyword=keyword
    )


def callback_log(*, provider: ProviderConfig | None, kind: str, response_status: int, note: str, body: bytes) -> None:
    """Keep a refused or ignored callback for inspection (first 4 KiB, never any header)."""
    CallbackLog.objects.create(
        provider=provider,
        kind=kind if kind in CallbackKind.values else CallbackKind.STATUS,
        response_status=response_status,
        # PostgreSQL text cannot hold NUL, and a refused body is exactly where one turns up.
        note=note[:255].replace("\x00", "\ufffd"),
        body=body[:4096].decode("utf-8", errors="replace").replace("\x00", "\ufffd"),
    )
