"""Reads for providers and the message log."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, F, Func, Q, QuerySet, TextField, Value
from django.db.models.functions import Coalesce, NullIf, Upper
from django.utils import timezone

from contacts.models import Contact
from providers.models import InboundMessage, Message, ProviderConfig


def provider_list() -> QuerySet[ProviderConfig]:
    return ProviderConfig.objects.all()


def message_list(*, filters: dict[str, Any] | None = None) -> QuerySet[Message]:
    """Messages newest first, filtered by status, provider, origin and a search over number/uuid/client_ref."""
    filters = filters or {}
    messages = Message.objects.select_related("provider", "contact")
    if filters.get("status"):
        messages = messages.filter(status=filters["status"])
    if filters.get("provider"):
        messages = messages.filter(provider=filters["provider"])
    if filters.get("origin"):
        messages = messages.filter(origin=filters["origin"])
    if filters.get("q"):
        term = str(filters["q"]).strip()
        messages = messages.filter(
            Q(to__icontains=term) | Q(message_uuid=term) | Q(client_ref=term) | Q(contact__name__icontains=term)
        )
    return messages


def keywords_parse(text: str) -> set[str]:
    """A provider's comma-separated keyword setting (`opt_out_keywords`, `opt_in_keywords`) as upper-case words."""
    return {word.strip().upper() for word in text.split(",") if word.strip()}


def inbound_said(inbound: InboundMessage) -> str:
    """What an inbound message says, as compared with the keywords: its text, else its button's payload."""
    return (inbound.text or inbound.button_payload).strip().upper()


def inbound_opt_outs(
    inbound: QuerySet[InboundMessage], *, keywords: str
) -> tuple[QuerySet[InboundMessage], QuerySet[InboundMessage]]:
    """(the opt-outs, everything else) among `inbound`: the messages saying one of the provider's opt-out
    `keywords`, in SQL as `inbound_said` says it in Python."""
    words = sorted(keywords_parse(keywords))
    text = Coalesce(NullIf(F("text"), Value("")), F("button_payload"), output_field=TextField())
    said = Upper(Func(text, Value(" \t\r\n"), function="BTRIM", output_field=TextField()))
    if not words:
        return inbound.none(), inbound
    marked = inbound.alias(said=said)
    return marked.filter(said__in=words), marked.exclude(said__in=words)


def inbound_list() -> QuerySet[InboundMessage]:
    return InboundMessage.objects.select_related("provider", "contact")


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One line of the message log: a message we sent (`sent`) or one a customer sent us (`received`)."""

    at: datetime
    sent: Message | None = None
    received: InboundMessage | None = None


def message_log(*, filters: dict[str, Any] | None = None) -> QuerySet[Any]:
    """Sent and received messages newest first, as (direction, id, at) rows to paginate; `message_log_entries` loads
    a page of them. Direction "out" or "in" keeps one side; a status or origin filter only matches sent messages."""
    filters = filters or {}
    direction = filters.get("direction") or ""
    parts: list[QuerySet[Any]] = []
    if direction != "in":
        parts.append(
            message_list(filters=filters)
            .order_by()
            .annotate(direction=Value("out"), at=F("created_at"))
            .values_list("direction", "id", "at")
        )
    if direction != "out" and not filters.get("status") and not filters.get("origin"):
        received = InboundMessage.objects.all()
        if filters.get("provider"):
            received = received.filter(provider=filters["provider"])
        if filters.get("q"):
            term = str(filters["q"]).strip()
            received = received.filter(
                Q(from_number__icontains=term.lstrip("+")) | Q(message_uuid=term) | Q(contact__name__icontains=term)
            )
        received = received.order_by().annotate(direction=Value("in"), at=F("received_at"))
        parts.append(received.values_list("direction", "id", "at"))
    if not parts:
        return Message.objects.none().values_list("id")
    log = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
    return log.order_by("-at", "-id")


def message_log_entries(rows: Iterable[tuple[str, int, datetime]]) -> list[LogEntry]:
    """The messages behind a page of `message_log` rows, in the same order (two queries)."""
    rows = list(rows)
    sent = message_list().in_bulk([pk for direction, pk, _ in rows if direction == "out"])
    received = inbound_list().in_bulk([pk for direction, pk, _ in rows if direction == "in"])
    return [
        LogEntry(at=at, sent=sent.get(pk)) if direction == "out" else LogEntry(at=at, received=received.get(pk))
        for direction, pk, at in rows
    ]


# Messages that reached (or may have reached) the customer count towards frequency caps; ones that never left us
# (`failed`) or that Nexmo refused (`rejected`) do not.
_COUNTS_TOWARDS_CAP = ("queued", "sending", "submitted", "delivered", "read", "unknown", "undeliverable")


def contacts_message_counts(*, contact_ids: Iterable[int], days: int) -> dict[int, int]:
    """How many messages that count towards a frequency cap each contact got in the last `days` days (same rule as
    `contacts_over_frequency_cap`); contacts with none are left out."""
    since = timezone.now() - timedelta(days=days)
    ids = list(contact_ids)
    counts: dict[int, int] = {}
    for start in range(0, len(ids), 5000):
        rows = (
            Message.objects.filter(
                contact_id__in=ids[start : start + 5000], created_at__gte=since, status__in=_COUNTS_TOWARDS_CAP
            )
            .values("contact_id")
            .annotate(sent=Count("id"))
            .values_list("contact_id", "sent")
        )
        counts.update(rows)
    return counts


def contacts_over_frequency_cap(*, contact_ids: Iterable[int], limit: int, days: int) -> set[int]:
    """The contacts among `contact_ids` that already got `limit` or more WhatsApp messages in the last `days` days.

    Counted across every origin (campaigns, journeys, tests, auto-replies), in one grouped query per 5,000 ids.
    """
    return {
        contact
        for contact, sent in contacts_message_counts(contact_ids=contact_ids, days=days).items()
        if sent >= limit
    }


def contacts_over_frequency_cap_query(*, limit: int, days: int) -> tuple[str, tuple[Any, ...]]:
    """SQL (and its parameters) selecting the ids of contacts over the cap, for set-based planning; same rule as
    `contacts_over_frequency_cap`."""
    since = timezone.now() - timedelta(days=days)
    over = (
        Message.objects.filter(contact_id__isnull=False, created_at__gte=since, status__in=_COUNTS_TOWARDS_CAP)
        .values("contact_id")
        .annotate(sent=Count("id"))
        .filter(sent__gte=limit)
        .values_list("contact_id", flat=True)
        .order_by()
    )
    sql, params = over.query.sql_with_params()
    return sql, tuple(params)


def contact_timeline(contact: Contact, *, limit: int = 50) -> dict[str, Any]:
    """The contact's latest messages both ways, newest first (the profile page's Messages section)."""
    sent: list[dict[str, Any]] = [
        {
            "at": m.created_at,
            "inbound": False,
            "origin": m.get_origin_display(),
            "summary": m.content_summary,
            "status": m.status,
        }
        for m in Message.objects.filter(contact=contact).order_by("-created_at")[:limit]
    ]
    inbound = list(InboundMessage.objects.filter(contact=contact).order_by("-received_at")[:limit])
    answered = answered_messages(inbound)
    received: list[dict[str, Any]] = [
        {
            "at": m.received_at,
            "inbound": True,
            "origin": "Customer",
            "summary": m.summary,
            "status": "",
            "in_reply_to": answered.get(m.context_message_uuid, ""),
        }
        for m in inbound
    ]
    return {"messages": sorted(sent + received, key=lambda item: item["at"], reverse=True)[:limit]}


def answered_messages(inbound: Iterable[InboundMessage]) -> dict[str, str]:
    """message_uuid → what our message said, for the messages these inbound ones answer (their reply context)."""
    uuids = {m.context_message_uuid for m in inbound if m.context_message_uuid}
    if not uuids:
        return {}
    rows = Message.objects.filter(message_uuid__in=uuids).values_list("message_uuid", "content_summary")
    return {uuid: summary for uuid, summary in rows if uuid}
