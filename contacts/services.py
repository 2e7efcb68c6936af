"""Writes to contacts. Views, APIs, admin actions, tasks and other apps call these; they never write rows directly."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from contacts.models import Consent, ConsentChange, Contact
from contacts.phones import phone_normalize


def contact_get_or_create_by_phone(*, phone: str, defaults: dict[str, object] | None = None) -> tuple[Contact, bool]:
    """The contact with this phone (any format phonenumbers accepts), created as `untracked` if unknown."""
    e164 = phone_normalize(phone)
    try:
        return Contact.objects.get(phone=e164), False
    except Contact.DoesNotExist:
        pass
    try:
        with transaction.atomic():
            return Contact.objects.create(phone=e164, **(defaults or {})), True
    except IntegrityError:
        # Another request created it between our read and our insert.
        return Contact.objects.get(phone=e164), False


def contact_consent_set(*, contact: Contact, consent: str, source: str, at: datetime | None = None) -> bool:
    """Change consent and record it in the history; returns False (and writes nothing) when it is unchanged."""
    if consent not in Consent.values:
        raise ValueError(f"Unknown consent {consent!r}")
    at = at or timezone.now()
    with transaction.atomic():
        updated = (
            Contact.objects.filter(pk=contact.pk)
            .exclude(whatsapp_consent=consent)
            .update(whatsapp_consent=consent, consent_source=source, consent_changed_at=at, updated_at=at)
        )
        if not updated:
            return False
        ConsentChange.objects.create(contact=contact, consent=consent, source=source, changed_at=at)
    contact.whatsapp_consent, contact.consent_source, contact.consent_changed_at = consent, source, at
    return True


def contact_inbound_record(*, contact: Contact, at: datetime) -> None:
    """Open or extend the 24-hour window; an older (late, re-delivered) inbound never moves it backwards."""
    Contact.objects.filter(pk=contact.pk).filter(Q(last_inbound_at__isnull=True) | Q(last_inbound_at__lt=at)).update(
        last_inbound_at=at
    )
    if contact.last_inbound_at is None or contact.last_inbound_at < at:
        contact.last_inbound_at = at
