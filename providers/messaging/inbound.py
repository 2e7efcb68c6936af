"""Inbound callbacks: store what a customer sent (opening its inbox conversation), then react (opt-out and opt-in
keywords, the auto-reply)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_q.tasks import async_task

from contacts.models import Consent, Contact
from contacts.phones import phone_normalize
from contacts.services import contact_consent_set, contact_get_or_create_by_phone, contact_inbound_record
from providers import signals
from providers.content import TextContent
from providers.messaging.sending import SendRefused, message_send
from providers.models import (
    InboundMessage,
    Origin,
    ProviderConfig,
)
from providers.nexmo.webhooks import InboundEvent
from providers.selectors import inbound_said, keywords_parse

logger = logging.getLogger(__name__)

# Higher apps hook in here without this module knowing them (dependencies point one way): the inbox records each
# stored inbound in its conversation, in the callback's request, and says when a person, not the auto-reply, answers.
InboundRecorder = Callable[[InboundMessage], object]
AutoReplyHold = Callable[[int, int], bool]  # (provider id, contact id) → True: no auto-reply now
_recorders: list[InboundRecorder] = []
_auto_reply_holds: list[AutoReplyHold] = []


def inbound_recorder_register(recorder: InboundRecorder) -> None:
    if recorder not in _recorders:
        _recorders.append(recorder)


def auto_reply_hold_register(hold: AutoReplyHold) -> None:
    if hold not in _auto_reply_holds:
        _auto_reply_holds.append(hold)


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
                context_message_uuid=event.context_uuid,
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
        for recorder in _recorders:
            recorder(inbound)
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
        # A person handles the conversation: they answer, not the machine.
        and not any(hold(provider.pk, contact.pk) for hold in _auto_reply_holds)
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
