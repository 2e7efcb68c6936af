"""Writes for templates: create, edit, copy to another language, import, and test sends."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from contacts.models import Contact
from contacts.phones import phone_normalize
from providers.messaging.sending import TEST_SEND_MAX_RECIPIENTS, SendRefused, message_send
from providers.models import ProviderConfig
from templates_app.models import UNIQUE_NAME_MESSAGE, Status, Template
from templates_app.rendering import TemplateRenderError, template_rendering
from templates_app.rules import namespace_problem, namespace_problems, template_errors
from templates_app.selectors import EXPORT_FIELDS
from templates_app.sync import template_delete_remote

EDITABLE_FIELDS = EXPORT_FIELDS


def provider_namespace_set(*, provider: ProviderConfig, namespace: str) -> None:
    """Store the provider's WhatsApp namespace (asked for with its first template)."""
    problems = namespace_problems(namespace)
    if problems:
        raise ValidationError({"whatsapp_namespace": problems})
    provider.whatsapp_namespace = namespace
    provider.save(update_fields=["whatsapp_namespace", "updated_at"])


def _save_checked(template: Template, *, namespace: str | None = None) -> Template:
    """Save after every check; with `namespace` set, the provider's first template also stores its namespace."""
    errors = template_errors(template)
    trouble = "" if namespace is None else namespace_problem(provider=template.provider, namespace=namespace)
    if trouble:
        errors["whatsapp_namespace"] = [trouble]
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            if namespace and not template.provider.whatsapp_namespace:
                provider_namespace_set(provider=template.provider, namespace=namespace)
            template.save()
    except IntegrityError:
        # A concurrent request took the same name + language between our check and our insert.
        raise ValidationError({"name": UNIQUE_NAME_MESSAGE}) from None
    return template


def _fields(data: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(data) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({name: "Not a template field." for name in sorted(unknown)})
    return dict(data)


def template_create(*, provider: ProviderConfig, data: Mapping[str, Any], whatsapp_namespace: str = "") -> Template:
    """A new template on `provider`; its first template also needs the provider's WhatsApp namespace."""
    template = Template(provider=provider, **_fields(data))
    return _save_checked(template, namespace=whatsapp_namespace.strip())


def template_update(*, template: Template, data: Mapping[str, Any]) -> Template:
    for name, value in _fields(data).items():
        setattr(template, name, value)
    return _save_checked(template)


def template_delete(*, template: Template) -> None:
    """Delete a template (in WhatsApp too, when it was submitted or synced); one still used by a campaign or journey
    is refused with a clear error."""
    pk = template.pk
    try:
        with transaction.atomic():
            template.delete()
            # Vonage's refusal rolls the local delete back: the two stay in step.
            template_delete_remote(template=template)
    except ValidationError:
        template.pk = pk  # still stored: delete() had cleared it in memory
        raise
    except ProtectedError as error:
        users = ", ".join(sorted({str(obj) for obj in error.protected_objects})[:5])
        raise ValidationError(f"This template is still used ({users}); remove it from those first.") from None


def template_copy(*, template: Template, language: str, name: str = "") -> Template:
    """The same template in another language, a draft to translate and then submit for WhatsApp's review."""
    data = {field: getattr(template, field) for field in EDITABLE_FIELDS}
    data.update(language=language, name=name or template.name, status=Status.DRAFT)
    return _save_checked(Template(provider=template.provider, **data))


@dataclass(frozen=True, slots=True)
class ImportResult:
    created: int
    updated: int


def templates_import(*, provider: ProviderConfig, document: Any, whatsapp_namespace: str = "") -> ImportResult:
    """Create or update (by name + language) a provider's templates from an export; all rows or none."""
    rows = document.get("templates") if isinstance(document, dict) else document
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise ValidationError({"templates": 'Expected {"templates": [ {...}, ... ]} as written by the export.'})
    if not whatsapp_namespace and isinstance(document, dict) and isinstance(document.get("provider"), dict):
        whatsapp_namespace = str(document["provider"].get("whatsapp_namespace") or "")
    existing = {(t.name, t.language): t for t in Template.objects.filter(provider=provider)}
    seen: set[tuple[str, str]] = set()
    errors: list[str] = []
    to_save: list[tuple[Template, bool]] = []
    for number, row in enumerate(rows, start=1):
        label = f"Template {number} ({row.get('name', '?')}, {row.get('language', '?')})"
        data = {name: row[name] for name in EXPORT_FIELDS if name in row}
        key = (str(data.get("name", "")), str(data.get("language", "")))
        if key in seen:
            errors.append(f"{label}: appears twice in the file.")
            continue
        seen.add(key)
        template = existing.get(key) or Template(provider=provider)
        for name, value in data.items():
            setattr(template, name, value)
        problems = template_errors(template)
        if problems:
            details = "; ".join(f"{name}: {' '.join(messages)}" for name, messages in problems.items())
            errors.append(f"{label}: {details}")
            continue
        to_save.append((template, template.pk is None))
    trouble = namespace_problem(provider=provider, namespace=whatsapp_namespace.strip()) if to_save else ""
    if trouble:
        errors.append(trouble)
    if errors:
        raise ValidationError({"templates": errors})
    with transaction.atomic():
        for template, _ in to_save:
            _save_checked(template, namespace=whatsapp_namespace.strip())
    created = sum(1 for _, is_new in to_save if is_new)
    return ImportResult(created=created, updated=len(to_save) - created)


@dataclass(frozen=True, slots=True)
class TestSendOutcome:
    """What happened for one recipient of a test send."""

    to: str
    contact: Contact | None
    ok: bool
    status_code: int | None = None
    body: dict[str, Any] | None = None
    error: str = ""
    message_id: int | None = None


def template_test_send(
    *,
    template: Template,
    to: Sequence[str] = (),
    contacts: Sequence[Contact] = (),
    parameters: Mapping[str, Any] | None = None,
) -> tuple[str, list[TestSendOutcome]]:
    """Send `template` now to typed numbers and/or test profiles; any status may be tested.

    Returns the rendered preview and one outcome per distinct recipient. Bad numbers and missing parameters raise
    ValidationError (on `to` / `parameters`) before anything is sent.
    """
    numbers: list[str] = []
    bad: list[str] = []
    for raw in to:
        try:
            numbers.append(phone_normalize(raw))
        except ValidationError as error:
            bad.extend(error.messages)
    if bad:
        raise ValidationError({"to": bad})
    if not numbers and not contacts:
        raise ValidationError({"to": "Choose a test profile or enter a phone number."})
    try:
        rendered = template_rendering(template, parameters=parameters)
    except TemplateRenderError as error:
        raise ValidationError({"parameters": str(error)}) from None

    recipients: dict[str, Contact | None] = {contact.phone: contact for contact in contacts}
    for number in numbers:
        recipients.setdefault(number, None)
    if len(recipients) > TEST_SEND_MAX_RECIPIENTS:
        raise ValidationError(
            {"to": f"A test send goes to at most {TEST_SEND_MAX_RECIPIENTS} recipients; this has {len(recipients)}."}
        )
    known = {contact.phone: contact for contact in Contact.objects.filter(phone__in=numbers)}
    for number in numbers:
        recipients[number] = recipients[number] or known.get(number)

    outcomes = []
    for phone, contact in recipients.items():
        try:
            result = message_send(
                provider=template.provider,
                to=phone,
                content=rendered.content,
                origin="test",
                origin_ref=f"template:{template.pk}",
                contact=contact,
            )
        except SendRefused as refusal:
            outcomes.append(TestSendOutcome(to=phone, contact=contact, ok=False, error=str(refusal)))
            continue
        outcomes.append(
            TestSendOutcome(
                to=phone,
                contact=contact,
                ok=result.ok,
                status_code=result.status_code,
                body=result.body,
                message_id=result.message.pk,
                error="" if result.ok else "Nexmo did not accept the message.",
            )
        )
    return rendered.preview, outcomes
