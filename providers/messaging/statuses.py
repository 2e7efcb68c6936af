"""Status callbacks: applied through the one transition table, one at a time or in batches, and announced."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django_q.tasks import async_task

from providers import signals
from providers.messaging import transitions
from providers.models import (
    Message,
    MessageStatus,
    PendingStatus,
    ProviderConfig,
)
from providers.nexmo.webhooks import PayloadInvalid, StatusEvent, status_parse
from whatsapp_project.db import server_side_cursor

logger = logging.getLogger(__name__)

S = MessageStatus

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
