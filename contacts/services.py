"""Writes to contacts. Views, APIs, admin actions, tasks and other apps call these; they never write rows directly."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django_q.tasks import async_task

from contacts import importing
from contacts.models import Consent, ConsentChange, Contact, ContactImport, Event, ImportStatus, Segment
from contacts.phones import phone_normalize
from contacts.segments import segment_definition_clean
from contacts.signals import event_recorded, events_recorded


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


def contact_consent_set(
    *, contact: Contact, consent: str, source: str, at: datetime | None = None, reason: str = ""
) -> bool:
    """Change consent and record it (with why, if a person says) in the history; False when it is unchanged."""
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
        ConsentChange.objects.create(contact=contact, consent=consent, source=source, reason=reason, changed_at=at)
    contact.whatsapp_consent, contact.consent_source, contact.consent_changed_at = consent, source, at
    return True


def contact_inbound_record(*, contact: Contact, at: datetime) -> None:
    """Open or extend the 24-hour window; an older (late, re-delivered) inbound never moves it backwards."""
    Contact.objects.filter(pk=contact.pk).filter(Q(last_inbound_at__isnull=True) | Q(last_inbound_at__lt=at)).update(
        last_inbound_at=at
    )
    if contact.last_inbound_at is None or contact.last_inbound_at < at:
        contact.last_inbound_at = at


# --- contacts ----------------------------------------------------------------------------------------------------

CONTACT_EDITABLE = ("external_id", "phone", "name", "email", "timezone", "language", "properties", "is_test_profile")


def contact_create(*, data: dict[str, Any], source: str = "api") -> Contact:
    """Create a contact from validated data; a consent other than untracked is recorded in its history."""
    consent = data.pop("whatsapp_consent", Consent.UNTRACKED)
    fields = {k: v for k, v in data.items() if k in CONTACT_EDITABLE}
    fields["phone"] = phone_normalize(str(fields["phone"]))
    with transaction.atomic():
        contact = Contact.objects.create(**fields)
        if consent != Consent.UNTRACKED:
            contact_consent_set(contact=contact, consent=consent, source=source)
    return contact


def contact_update(*, contact: Contact, data: dict[str, Any], source: str = "api", consent_reason: str = "") -> Contact:
    """Change the given fields; a consent change goes through the history like every other."""
    consent = data.pop("whatsapp_consent", None)
    fields = {k: v for k, v in data.items() if k in CONTACT_EDITABLE}
    if "phone" in fields:
        fields["phone"] = phone_normalize(str(fields["phone"]))
    with transaction.atomic():
        for name, value in fields.items():
            setattr(contact, name, value)
        if fields:
            contact.save(update_fields=[*fields, "updated_at"])
        if consent is not None:
            contact_consent_set(contact=contact, consent=consent, source=source, reason=consent_reason)
    return contact


def contact_delete(*, contact: Contact) -> None:
    contact.delete()


# --- events ------------------------------------------------------------------------------------------------------

MAX_EVENTS_PER_BATCH = 1000


@dataclass(frozen=True, slots=True)
class EventInput:
    """One validated event of a batch; `index` is its position in the request."""

    index: int
    name: str
    properties: dict[str, Any]
    occurred_at: datetime
    event_id: str | None
    external_id: str | None
    phone: str | None


def event_record(
    *,
    contact: Contact,
    name: str,
    properties: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
    event_id: str | None = None,
) -> tuple[Event, bool]:
    """Store one event for a known contact; with an `event_id` already stored, returns that one and False."""
    if event_id:
        existing = Event.objects.filter(event_id=event_id).first()
        if existing:
            return existing, False
    try:
        with transaction.atomic():
            event = Event.objects.create(
                contact=contact,
                name=name,
                properties=properties or {},
                occurred_at=occurred_at or timezone.now(),
                event_id=event_id or None,
            )
    except IntegrityError:
        # The same event_id arrived concurrently; the first one stored wins.
        return Event.objects.get(event_id=event_id), False
    _announce([(event, contact, False)])
    return event, True


def _announce(recorded: list[tuple[Event, Contact, bool]]) -> None:
    """Once committed: `event_recorded` for each stored event, then `events_recorded` once for all of them."""
    if not recorded:
        return

    def send() -> None:
        for event, contact, created in recorded:
            event_recorded.send(sender=Event, event=event, contact=contact, created_contact=created)
        events_recorded.send(sender=Event, events=[(event, contact) for event, contact, _ in recorded])

    transaction.on_commit(send)


def event_record_batch(*, events: list[EventInput], create_contacts: bool = False) -> list[dict[str, Any]]:
    """Store a batch of validated events; one result per input, in order.

    Each result is `{"index", "status": "created" | "duplicate" | "rejected", "id"?, "contact_id"?, "errors"?}`.
    A rejected row never stops the others from being stored.
    """
    results: dict[int, dict[str, Any]] = {}
    externals = {e.external_id for e in events if e.external_id}
    phones = {e.phone for e in events if e.phone}
    by_ext = {c.external_id: c for c in Contact.objects.filter(external_id__in=externals)} if externals else {}
    by_phone = {c.phone: c for c in Contact.objects.filter(phone__in=phones)} if phones else {}
    wanted_ids = {e.event_id for e in events if e.event_id}
    stored = dict(Event.objects.filter(event_id__in=wanted_ids).values_list("event_id", "id")) if wanted_ids else {}
    created_contacts: set[int] = set()
    batch_ids: dict[str, int] = {}
    recorded: list[tuple[Event, Contact, bool]] = []
    accepted: list[tuple[EventInput, Contact]] = []
    for item in events:
        if item.event_id and item.event_id in stored:
            results[item.index] = {"index": item.index, "status": "duplicate", "id": stored[item.event_id]}
            continue
        if item.event_id and item.event_id in batch_ids:
            results[item.index] = {
                "index": item.index,
                "status": "duplicate",
                "detail": f"Same event_id as event {batch_ids[item.event_id]} of this batch.",
            }
            continue
        contact = by_ext.get(item.external_id) if item.external_id else None
        if contact is None and item.phone:
            contact = by_phone.get(item.phone)
            if contact is not None and item.external_id and contact.external_id not in (None, item.external_id):
                results[item.index] = _rejected(
                    item.index, "phone", f"{item.phone} belongs to the contact with external id {contact.external_id}."
                )
                continue
        if contact is None:
            if not create_contacts or not item.phone:
                who = f"external id {item.external_id}" if item.external_id else f"phone {item.phone}"
                hint = " (send create_contacts: true with a phone to create it)" if not create_contacts else ""
                field = "external_id" if item.external_id and not item.phone else "phone"
                if create_contacts and not item.phone:
                    hint = "; a phone is needed to create it"
                results[item.index] = _rejected(item.index, field, f"No contact with {who}{hint}.")
                continue
            try:
                contact, made = contact_get_or_create_by_phone(
                    phone=item.phone, defaults={"external_id": item.external_id} if item.external_id else None
                )
            except IntegrityError:
                results[item.index] = _rejected(
                    item.index, "external_id", f"External id {item.external_id} belongs to another contact."
                )
                continue
            if made:
                created_contacts.add(contact.pk)
            by_phone[contact.phone] = contact
            if contact.external_id:
                by_ext[contact.external_id] = contact
        if item.event_id:
            batch_ids[item.event_id] = item.index
        accepted.append((item, contact))
    for (item, contact), (event, made) in zip(accepted, _events_insert(accepted), strict=True):
        if made:
            recorded.append((event, contact, contact.pk in created_contacts))
        results[item.index] = {
            "index": item.index,
            "status": "created" if made else "duplicate",
            "id": event.pk,
            "contact_id": contact.pk,
        }
    _announce(recorded)
    return [results[i] for i in sorted(results)]


def _events_insert(accepted: list[tuple[EventInput, Contact]]) -> list[tuple[Event, bool]]:
    """Insert the batch's events in one statement; when one of them was stored meanwhile by a concurrent twin (the
    same event_id), insert them one by one so that one becomes a duplicate. (event, created) for each, in order."""
    rows = [
        Event(
            contact=contact,
            name=item.name,
            properties=item.properties,
            occurred_at=item.occurred_at,
            event_id=item.event_id,
        )
        for item, contact in accepted
    ]
    try:
        with transaction.atomic():
            return [(event, True) for event in Event.objects.bulk_create(rows, batch_size=1000)]
    except IntegrityError:
        return [event_record_quiet(contact=contact, item=item) for item, contact in accepted]


def event_record_quiet(*, contact: Contact, item: EventInput) -> tuple[Event, bool]:
    """Insert one event; a concurrent twin with the same event_id makes this a duplicate, not an error."""
    try:
        with transaction.atomic():
            return (
                Event.objects.create(
                    contact=contact,
                    name=item.name,
                    properties=item.properties,
                    occurred_at=item.occurred_at,
                    event_id=item.event_id,
                ),
                True,
            )
    except IntegrityError:
        return Event.objects.get(event_id=item.event_id), False


def _rejected(index: int, field: str, message: str) -> dict[str, Any]:
    return {"index": index, "status": "rejected", "errors": {field: [message]}}


# --- segments ----------------------------------------------------------------------------------------------------


def segment_create(*, name: str, definition: dict[str, Any]) -> Segment:
    """Validate and save a segment (ValidationError names each wrong field of the definition)."""
    clean = segment_definition_clean(definition)
    return Segment.objects.create(name=name.strip(), definition=clean)


def segment_update(*, segment: Segment, name: str | None = None, definition: dict[str, Any] | None = None) -> Segment:
    if name is not None:
        segment.name = name.strip()
    if definition is not None:
        segment.definition = segment_definition_clean(definition)
    segment.save()
    return segment


def segment_delete(*, segment: Segment) -> None:
    segment.delete()


# --- imports -----------------------------------------------------------------------------------------------------


def contact_import_create(*, upload: File, user: Any | None) -> ContactImport:
    """Keep an uploaded CSV on disk and read its header; ValidationError when the file as a whole is refused."""
    limit = importing.max_bytes()
    if upload.size and upload.size > limit:
        raise ValidationError(
            {
                "file": [
                    f"The file is {upload.size:,} bytes; the limit is {limit:,} bytes. Split it and upload the parts."
                ]
            }
        )
    name = Path(upload.name or "contacts.csv").name[:255]
    target = importing.import_dir() / f"{uuid.uuid4().hex}.csv"
    size = 0
    try:
        with target.open("wb") as out:
            for chunk in upload.chunks():
                size += len(chunk)
                if size > limit:
                    raise ValidationError({"file": [f"The file is larger than the limit of {limit:,} bytes."]})
                out.write(chunk)
        try:
            columns = importing.header_read(target)
        except importing.FileRefused as exc:
            raise ValidationError({"file": [str(exc)]}) from None
        return ContactImport.objects.create(
            file_path=str(target),
            original_name=name,
            size_bytes=size,
            columns=columns,
            mapping=importing.mapping_guess(columns),
            created_by=user if getattr(user, "is_authenticated", False) else None,
        )
    except BaseException:
        # Whatever stopped it (a refusal, a full disk, an interrupted upload), no orphan file stays behind.
        target.unlink(missing_ok=True)
        raise


def contact_import_start(
    *,
    contact_import: ContactImport,
    mapping: dict[str, str] | None = None,
    default_country: str | None = None,
    enqueue: bool = True,
) -> ContactImport:
    """Fix the mapping and queue the import task (after commit); only a job still waiting for its mapping starts.

    `default_country` (a region code such as GB) is the country of phone numbers written without one.
    With `enqueue=False` the caller runs it itself (`contact_import_run`), as the management command does.
    """
    clean = importing.mapping_clean(mapping if mapping is not None else contact_import.mapping, contact_import.columns)
    country = importing.default_country_clean(
        default_country if default_country is not None else contact_import.default_country
    )
    claimed = ContactImport.objects.filter(pk=contact_import.pk, status=ImportStatus.MAPPING).update(
        mapping=clean, default_country=country, status=ImportStatus.QUEUED
    )
    if not claimed:
        raise ValidationError({"status": ["This import has already been started."]})
    contact_import.refresh_from_db()
    if not enqueue:
        return contact_import
    job_id = contact_import.pk
    transaction.on_commit(
        lambda: async_task("contacts.tasks.contact_import_task", job_id, task_name=f"import-{job_id}")
    )
    return contact_import


def contact_import_run(*, contact_import: ContactImport) -> ContactImport:
    """Run the import now, in this process (the task and the management command call this)."""
    return importing.contact_import_run(contact_import=contact_import)


def contact_import_discard(*, contact_import: ContactImport) -> None:
    """Forget an import that was never started, and its uploaded file."""
    Path(contact_import.file_path).unlink(missing_ok=True)
    contact_import.delete()
