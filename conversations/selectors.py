"""Reads of the shared inbox: the conversation list with its filters, a thread's messages in time order, the held
journeys, the unread badge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import F, Q, QuerySet, Value

from conversations.models import Conversation, ConversationStatus, Note
from journeys.models import JourneyVersion
from providers.interactive import interactive_titles
from providers.models import InboundMessage, Message, MessageStatus, Origin

# The list's filters (UI tabs and the API's `status` / `assignee` / `unread`).
ASSIGNEE_ME = "me"
ASSIGNEE_NONE = "none"


def conversations_list(
    *,
    user: AbstractBaseUser | AnonymousUser | None = None,
    status: str = "",
    assignee: str | int | None = None,
    unread: bool = False,
    provider: int | None = None,
    search: str = "",
) -> QuerySet[Conversation]:
    """Conversations, latest message first, filtered by whichever arguments are given. `assignee` is "me" (`user`),
    "none" or a user id. Each filter matches one of the list's partial indexes (models.Conversation)."""
    queryset = Conversation.objects.select_related("contact", "provider", "assignee")
    if status:
        queryset = queryset.filter(status=status)
    if assignee == ASSIGNEE_ME:
        queryset = queryset.filter(assignee_id=getattr(user, "pk", None))
    elif assignee == ASSIGNEE_NONE:
        queryset = queryset.filter(assignee__isnull=True)
    elif assignee not in (None, ""):
        queryset = queryset.filter(assignee_id=int(assignee))
    if unread:
        queryset = queryset.filter(unread_count__gt=0)
    if provider:
        queryset = queryset.filter(provider_id=provider)
    if search := search.strip():
        digits = "".join(ch for ch in search if ch.isdigit())
        match = Q(contact__name__icontains=search)
        if digits:
            # "+44 7700 900001", "07700900001" and "447700900001" all find +447700900001.
            match |= Q(contact__phone__contains=digits.lstrip("0") or digits)
        queryset = queryset.filter(match)
    return queryset.order_by("-last_message_at", "-id")


def conversations_unread_count() -> int:
    """Open conversations with something nobody has read yet: the navigation's badge."""
    return Conversation.objects.filter(status=ConversationStatus.OPEN, unread_count__gt=0).count()


# --- a thread --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ThreadItem:
    """One message of a thread as the inbox shows it, inbound or outbound."""

    id: int
    direction: str  # "in" | "out"
    type: str  # text, image, location, button, template, …
    text: str
    created_at: datetime
    status: str = ""  # outbound only: queued → … → read, or a failure
    template_name: str = ""  # outbound templates: the template's name
    media_url: str = ""
    error: str = ""
    options: tuple[str, ...] = ()  # outbound interactive messages: the titles of their buttons or list rows


def _thread_keys(conversation: Conversation) -> QuerySet[Any]:
    """(direction, id, at) of every message of the thread, in time order: one UNION the database pages through (the
    contact's message indexes serve both halves), so a thread of 10,000 messages costs one page, not all of them."""
    outbound = (
        Message.objects.filter(provider_id=conversation.provider_id, contact_id=conversation.contact_id)
        .annotate(direction=Value("out"), at=F("created_at"))
        .values_list("direction", "id", "at")
        .order_by()
    )
    inbound = (
        InboundMessage.objects.filter(provider_id=conversation.provider_id, contact_id=conversation.contact_id)
        .annotate(direction=Value("in"), at=F("received_at"))
        .values_list("direction", "id", "at")
        .order_by()
    )
    return outbound.union(inbound, all=True)


def thread_keys(*, conversation: Conversation, newest_first: bool = False) -> QuerySet[Any]:
    keys = _thread_keys(conversation)
    return keys.order_by("-at", "-id") if newest_first else keys.order_by("at", "id")


def thread_items(*, keys: list[tuple[str, int, datetime]]) -> list[ThreadItem]:
    """The messages named by `thread_keys` rows, loaded in two queries, in the order given."""
    outbound = Message.objects.in_bulk([pk for direction, pk, _ in keys if direction == "out"])
    inbound = InboundMessage.objects.in_bulk([pk for direction, pk, _ in keys if direction == "in"])
    items: list[ThreadItem] = []
    for direction, pk, _ in keys:
        if direction == "out" and pk in outbound:
            items.append(_outbound_item(outbound[pk]))
        elif direction == "in" and pk in inbound:
            items.append(_inbound_item(inbound[pk]))
    return items


def _outbound_item(message: Message) -> ThreadItem:
    text, name = message.content_summary, ""
    options: tuple[str, ...] = ()
    if message.content_type in ("template", "custom"):
        # The log's summary of a template is its name, then the message as the customer read it.
        name, _, text = text.partition("\n")
    elif message.content_type == "interactive":
        # Its options are drawn as buttons under the text, so the summary's last line (them, in brackets) goes.
        options = tuple(interactive_titles(message.request_body or {}))
        text = text.rpartition("\n")[0] if options else text
    return ThreadItem(
        id=message.pk,
        direction="out",
        type="template" if name else message.content_type,
        text=text,
        created_at=message.created_at,
        status=message.status,
        template_name=name,
        error=message.error_text,
        options=options,
    )


def _inbound_item(inbound: InboundMessage) -> ThreadItem:
    return ThreadItem(
        id=inbound.pk,
        direction="in",
        type=inbound.content_type,
        # The button's label, the location's name and place, the media's caption: the summary says it in words.
        text=inbound.text if inbound.media_url else inbound.summary,
        created_at=inbound.received_at,
        media_url=inbound.media_url,
    )


def thread_latest(*, conversation: Conversation, limit: int) -> tuple[list[ThreadItem], bool]:
    """The thread's latest `limit` messages in time order, and whether earlier ones exist."""
    keys = list(thread_keys(conversation=conversation, newest_first=True)[: limit + 1])
    more = len(keys) > limit
    return thread_items(keys=list(reversed(keys[:limit]))), more


def thread_notes(*, conversation: Conversation, since: datetime | None = None) -> QuerySet[Note]:
    notes = Note.objects.filter(conversation=conversation).select_related("author")
    return notes.filter(created_at__gte=since) if since is not None else notes


def held_journeys(*, conversation: Conversation) -> list[tuple[str, int]]:
    """The journeys whose messages to this contact wait while the conversation is assigned: (name, messages)."""
    refs = Message.objects.filter(
        provider_id=conversation.provider_id,
        contact_id=conversation.contact_id,
        origin=Origin.JOURNEY,
        status=MessageStatus.QUEUED,
    ).values_list("origin_ref", flat=True)
    # origin_ref is "journey:<version id>:<node>:…" (journeys.runtime).
    counts: dict[int, int] = {}
    for ref in refs:
        parts = ref.split(":")
        if len(parts) > 2 and parts[1].isdigit():
            counts[int(parts[1])] = counts.get(int(parts[1]), 0) + 1
    names: dict[str, int] = {}
    for version in JourneyVersion.objects.filter(pk__in=counts).select_related("journey"):
        names[version.journey.name] = names.get(version.journey.name, 0) + counts[version.pk]
    return sorted(names.items())
