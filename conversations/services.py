"""Writes of the shared inbox: inbound messages open conversations, the team assigns, answers, notes and closes them.

Human takeover: while a conversation is open and assigned, the auto-reply stays quiet (`conversation_holds`, asked
by the inbound handling) and journey messages to that contact wait in the outbox (`journey_hold_gate`, an outbox
gate); closing or unassigning kicks the outbox so that they go, once, in the order they were queued.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Greatest
from django.utils import timezone
from django_q.tasks import async_task

from contacts.models import Contact
from conversations.models import HELD, Conversation, ConversationStatus, Note
from providers.content import TextContent
from providers.interactive import buttons_with_ids, interactive_parse, interactive_summary
from providers.messaging.outbox import outbox_kick_on_commit
from providers.messaging.sending import SendOptedOut, SendRefused, message_prepare
from providers.models import ApiVersion, InboundMessage, Message, MessageStatus, Origin
from providers.nexmo import client as nexmo
from providers.nexmo.errors import NexmoError
from providers.services import provider_credentials
from templates_app.models import Template
from templates_app.rendering import TemplateRenderError, template_rendering
from templates_app.rules import template_send_refusal

LINE_MAX = 255  # Conversation.last_message_text


def _line(text: str) -> str:
    return " ".join(text.split())[:LINE_MAX]


# --- inbound ---------------------------------------------------------------------------------------------------


def conversation_inbound_record(*, inbound: InboundMessage) -> Conversation | None:
    """An inbound message opens its conversation (or reopens a closed one) and counts as unread; None without a
    contact (a sender whose number could not be read)."""
    if inbound.contact_id is None:
        return None
    line = _line(inbound.summary)
    try:
        with transaction.atomic():
            conversation, created = Conversation.objects.get_or_create(
                provider_id=inbound.provider_id,
                contact_id=inbound.contact_id,
                defaults={"unread_count": 1, "last_message_at": inbound.received_at, "last_message_text": line},
            )
    except IntegrityError:  # created by a concurrent inbound of the same customer meanwhile
        conversation, created = (
            Conversation.objects.get(provider_id=inbound.provider_id, contact_id=inbound.contact_id),
            False,
        )
    if not created:
        # One UPDATE: two messages arriving together both count, whatever order their transactions commit in.
        Conversation.objects.filter(pk=conversation.pk).update(
            status=ConversationStatus.OPEN,
            closed_at=None,
            unread_count=F("unread_count") + 1,
            last_message_at=Greatest(F("last_message_at"), inbound.received_at),
            last_message_text=line,
            updated_at=timezone.now(),
        )
        conversation.refresh_from_db()
    return conversation


def conversation_holds(*, provider_id: int, contact_id: int) -> bool:
    """Whether a person handles this contact's conversation with this number now (open and assigned)."""
    return Conversation.objects.filter(HELD, provider_id=provider_id, contact_id=contact_id).exists()


def journey_hold_waiting() -> Q:
    """Journey messages held (a condition on Message, which the outbox leaves out of its fetch): those to a contact
    whose conversation with the sending number is open and assigned. One probe of the conversation's unique
    (contact, provider) index per queued message."""
    return Q(
        Exists(
            Conversation.objects.filter(HELD, contact_id=OuterRef("contact_id"), provider_id=OuterRef("provider_id"))
        )
    )


def journey_hold_gate(items: Sequence[tuple[int, str]]) -> list[int]:
    """Outbox gate for journey messages already fetched or claimed: the same hold (the journey's other steps, and its
    wait-for-reply, carry on)."""
    ids = [pk for pk, _ in items]
    held = set(Message.objects.filter(journey_hold_waiting(), pk__in=ids).values_list("pk", flat=True))
    return [pk for pk in ids if pk not in held]


def _release_held(conversation: Conversation) -> None:
    """Journey messages held for this conversation may go now: start the number's sender once this commits."""
    waiting = Message.objects.filter(
        provider_id=conversation.provider_id,
        contact_id=conversation.contact_id,
        origin=Origin.JOURNEY,
        status=MessageStatus.QUEUED,
    ).exists()
    if waiting:
        outbox_kick_on_commit([conversation.provider_id])


# --- the team's actions ----------------------------------------------------------------------------------------


def conversation_assign(*, conversation: Conversation, user: User | None) -> Conversation:
    """Give the conversation to `user` (None: unassign, which lets held journey messages go)."""
    was_held = conversation.is_held
    conversation.assignee = user
    conversation.save(update_fields=["assignee", "updated_at"])
    if was_held and not conversation.is_held:
        _release_held(conversation)
    return conversation


def conversation_close(*, conversation: Conversation) -> Conversation:
    """Done for now: the next inbound message reopens it. Held journey messages go."""
    was_held = conversation.is_held
    conversation.status = ConversationStatus.CLOSED
    conversation.closed_at = timezone.now()
    conversation.save(update_fields=["status", "closed_at", "updated_at"])
    if was_held:
        _release_held(conversation)
    return conversation


def conversation_reopen(*, conversation: Conversation) -> Conversation:
    conversation.status = ConversationStatus.OPEN
    conversation.closed_at = None
    conversation.save(update_fields=["status", "closed_at", "updated_at"])
    return conversation


def conversation_note_add(*, conversation: Conversation, author: User | None, text: str) -> Note:
    """An internal note; an empty one is refused."""
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": "Write the note first; an empty note is not saved."})
    return Note.objects.create(conversation=conversation, author=author, text=text)


def conversation_read(*, conversation: Conversation) -> None:
    """Someone opened the thread: nothing is unread any more, and the customer's phone shows the messages as read
    (a task, after commit: Nexmo is never called while a page waits)."""
    if conversation.unread_count == 0:
        return
    Conversation.objects.filter(pk=conversation.pk).update(unread_count=0)
    conversation.unread_count = 0
    if conversation.provider.api_version != ApiVersion.V1:
        return  # marking read is a Messages API v1 call; v0.1 numbers have no such request
    latest = (
        InboundMessage.objects.filter(provider_id=conversation.provider_id, contact_id=conversation.contact_id)
        .order_by("-received_at", "-id")
        .values_list("pk", flat=True)
        .first()
    )
    if latest is not None:
        transaction.on_commit(lambda: async_task("conversations.tasks.inbound_mark_read", latest))


def inbound_mark_read(*, inbound: InboundMessage) -> bool:
    """PATCH the message read at Nexmo. WhatsApp then shows it, and every earlier message, as read on the customer's
    phone, so the latest one is enough. False when Nexmo refused (logged by the task's caller, never retried: a read
    receipt is a courtesy)."""
    try:
        nexmo.mark_read(credentials=provider_credentials(inbound.provider), message_uuid=inbound.message_uuid)
    except NexmoError:
        return False
    return True


def _template_content(
    conversation: Conversation, template: Template, parameters: Mapping[str, Any] | None
) -> tuple[Any, str]:
    if template.provider_id != conversation.provider_id:
        raise ValidationError(
            {"template": f"“{template.name}” belongs to another number; choose a template of {conversation.provider}."}
        )
    if (refusal := template_send_refusal(template)) is not None:
        raise ValidationError({"template": refusal})
    try:
        rendered = template_rendering(template, contact=conversation.contact, parameters=parameters or {})
    except TemplateRenderError as error:
        raise ValidationError({"parameters": str(error)}) from None
    return rendered.content, rendered.preview


def conversation_reply(
    *,
    conversation: Conversation,
    author: User | None,
    text: str | None = None,
    template: Template | None = None,
    parameters: Mapping[str, Any] | None = None,
    buttons: Sequence[Mapping[str, Any]] | None = None,
) -> Message:
    """Answer the customer with free text (inside the 24-hour window) or an approved template of the conversation's
    number, through the outbox (send rules, pacing, statuses). Raises ValidationError by field, nothing sent.

    Each reply is its own message (a fresh origin_ref): two people answering at once both send, in order. A reply
    to a closed conversation reopens it.
    """
    if template is not None and text:
        raise ValidationError({"text": "Send either a text or a template, not both."})
    if template is not None and buttons:
        raise ValidationError({"buttons": "Reply buttons go with a text inside the window, not with a template."})
    content: Any
    if template is not None:
        content, line = _template_content(conversation, template, parameters)
        field = "template"
    else:
        text = (text or "").strip()
        if not text:
            raise ValidationError({"text": "The reply is empty: write a message or choose a template."})
        content, line, field = TextContent(text=text), text, "text"
        buttons = buttons_with_ids(buttons or [])
        if buttons:
            # Reply buttons under the text (an interactive message): WhatsApp's limits checked before anything is sent.
            interactive, problems = interactive_parse({"text": text, "buttons": buttons})
            if interactive is None:
                errors: dict[str, list[str]] = {}
                for where, problem in problems:
                    errors.setdefault(where.split(".")[0].split("[")[0], []).append(f"{where}: {problem}")
                raise ValidationError(errors)
            content, line = interactive, interactive_summary(interactive).replace("\n", " ")
    contact: Contact = conversation.contact
    try:
        message, _ = message_prepare(
            provider=conversation.provider,
            to=contact.phone,
            content=content,
            origin=Origin.INBOX,
            origin_ref=f"conversation:{conversation.pk}:{uuid.uuid4().hex}",
            contact=contact,
        )
    except SendOptedOut as refusal:
        raise ValidationError({"contact": str(refusal)}) from None
    except SendRefused as refusal:
        raise ValidationError({field: str(refusal)}) from None
    now = timezone.now()
    Conversation.objects.filter(pk=conversation.pk).update(
        status=ConversationStatus.OPEN,
        closed_at=None,
        unread_count=0,
        last_message_at=Greatest(F("last_message_at"), now),
        last_message_text=_line(line),
        updated_at=now,
    )
    conversation.refresh_from_db()
    outbox_kick_on_commit([conversation.provider_id])
    return message
