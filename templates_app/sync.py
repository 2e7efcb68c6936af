"""Templates through Vonage's Template Management API: submit a draft for review, and sync every template of the
WhatsApp Business Account (statuses, rejection reasons, quality, content) into ours.

The API's shapes are documented in providers/nexmo/templates.py. A sync reads every page first and writes only
once all of them arrived: an error half-way (4xx, 5xx, timeout) leaves our templates as they were. Requests are
paced under Vonage's 40 requests/s with the same pacer as sends (one schedule per WhatsApp Business Account).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from providers.messaging.pacing import slot_wait
from providers.models import ProviderConfig
from providers.nexmo import templates as vonage
from providers.nexmo.errors import NexmoError
from providers.services import provider_credentials
from templates_app.models import MEDIA_HEADERS, UNUSABLE_STATUSES, Category, HeaderType, QualityRating, Status, Template
from templates_app.rendering import template_slots
from templates_app.rules import NAME_MAX, URL_SUFFIX_VARIABLE, template_problems
from templates_app.signals import template_unusable

logger = logging.getLogger(__name__)

SCHEDULE_NAME = "templates sync"
LANGUAGE_MAX = Template._meta.get_field("language").max_length or 16

# WhatsApp's statuses (as Vonage passes them) in ours. The transitional ones a template can pass through count as
# the nearest of ours: in appeal is still refused, pending deletion is already unusable.
STATUS_FROM_WHATSAPP = {
    "APPROVED": Status.APPROVED,
    "PENDING": Status.PENDING,
    "IN_APPEAL": Status.REJECTED,
    "REJECTED": Status.REJECTED,
    "PAUSED": Status.PAUSED,
    "DISABLED": Status.DISABLED,
    "PENDING_DELETION": Status.DISABLED,
    "DELETED": Status.DISABLED,
}
CATEGORY_FROM_WHATSAPP = {c.upper(): c for c in Category.values}
# Categories WhatsApp retired in 2023 (Vonage may still list them until they are migrated).
CATEGORY_FROM_WHATSAPP.update({"TRANSACTIONAL": Category.UTILITY, "OTP": Category.AUTHENTICATION})
BUTTON_TYPES = {"QUICK_REPLY": "quick_reply", "URL": "url", "PHONE_NUMBER": "phone_number"}
# The fields a sync may change (what WhatsApp holds); name, language and provider identify the template.
SYNCED_FIELDS = (
    "category",
    "status",
    "rejected_reason",
    "quality_rating",
    "external_id",
    "header_type",
    "header_text",
    "header_media_url",
    "body",
    "footer",
    "buttons",
    "removed_at",
)


class TemplateSyncError(Exception):
    """Vonage refused or did not answer; nothing was changed here. The message is for people."""

    def __init__(self, message: str, *, error: NexmoError | None = None) -> None:
        super().__init__(message)
        self.error = error


@dataclass(slots=True)
class SyncReport:
    """What a sync changed, counted as the API answers it."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    requests: int = 0
    unusable: list[int] = field(default_factory=list)  # ids of templates that became rejected, paused or disabled

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged, "removed": self.removed}


def management_problems(provider: ProviderConfig) -> dict[str, list[str]]:
    """What the provider lacks to use the Template Management API, by field (empty: nothing)."""
    errors: dict[str, list[str]] = {}
    if not provider.waba_id:
        errors["waba_id"] = [
            "This number has no WhatsApp Business Account id: add it in the number's settings to submit and sync "
            "templates."
        ]
    if not provider.application_id or not provider.private_key:
        errors["private_key"] = ["This number has no Vonage application id and private key to sign the requests."]
    return errors


def _pace(provider: ProviderConfig) -> None:
    slot_wait(key=f"templates:{provider.waba_id}", rate=float(settings.TEMPLATES_API_RATE))


def _error_words(error: NexmoError) -> str:
    if error.status is None:
        return f"Vonage could not be reached ({error.title}). Nothing was changed; try again in a moment."
    if error.status in (401, 403):
        return (
            "Vonage refused the credentials: check the number's application id, private key and "
            "WhatsApp Business Account id."
        )
    if error.status == 404:
        return "Vonage does not know this WhatsApp Business Account id: check it in the number's settings."
    detail = f": {error.detail}" if error.detail else ""
    return f"Vonage answered HTTP {error.status} ({error.title}{detail}). Nothing was changed."


# --- our template → Vonage's shape -----------------------------------------------------------------------------


def template_components(template: Template, *, examples: Mapping[str, str]) -> list[dict[str, Any]]:
    """The template in the create call's `components` (WhatsApp's shape), with an example for every variable."""
    components: list[dict[str, Any]] = []
    kind = template.header_type
    if kind == HeaderType.TEXT:
        header: dict[str, Any] = {"type": "HEADER", "format": "TEXT", "text": template.header_text}
        if "header" in examples:
            header["example"] = {"header_text": [examples["header"]]}
        components.append(header)
    elif kind in MEDIA_HEADERS:
        media = examples.get("header") or template.header_media_url
        components.append({"type": "HEADER", "format": kind.upper(), "example": {"header_handle": [media]}})
    elif kind == HeaderType.LOCATION:
        components.append({"type": "HEADER", "format": "LOCATION"})
    body: dict[str, Any] = {"type": "BODY", "text": template.body}
    numbers = sorted({int(slot.key) for slot in template_slots(template) if slot.kind == "body"})
    if numbers:
        body["example"] = {"body_text": [[examples[str(n)] for n in numbers]]}
    components.append(body)
    if template.footer:
        components.append({"type": "FOOTER", "text": template.footer})
    buttons = []
    for index, button in enumerate(template.buttons or []):
        kind = str(button.get("type"))
        if kind == "quick_reply":
            buttons.append({"type": "QUICK_REPLY", "text": button["text"]})
        elif kind == "url":
            entry = {"type": "URL", "text": button["text"], "url": button["url"]}
            if str(button["url"]).endswith(URL_SUFFIX_VARIABLE):
                entry["example"] = [str(button["url"]).removesuffix(URL_SUFFIX_VARIABLE) + examples[f"button.{index}"]]
            buttons.append(entry)
        elif kind == "phone_number":
            buttons.append({"type": "PHONE_NUMBER", "text": button["text"], "phone_number": button["phone_number"]})
    if buttons:
        components.append({"type": "BUTTONS", "buttons": buttons})
    return components


def submit_examples_needed(template: Template) -> list[tuple[str, str]]:
    """`(key, label)` of every text WhatsApp's reviewers need an example of: variables and URL suffixes (a media
    header's example is a file, uploaded by `template_submit`)."""
    return [(s.key, s.label) for s in template_slots(template) if s.kind in ("body", "header_text", "url_suffix")]


# --- Vonage's shape → our fields -------------------------------------------------------------------------------


def _quality(raw: Any) -> str:
    score = raw.get("score") if isinstance(raw, dict) else raw
    value = str(score or "").lower()
    return value if value in QualityRating.values else ""


def template_fields(remote: Mapping[str, Any]) -> dict[str, Any]:
    """Our fields from one template object of the list (components read as WhatsApp writes them)."""
    fields: dict[str, Any] = {
        "category": CATEGORY_FROM_WHATSAPP.get(str(remote.get("category", "")).upper(), Category.MARKETING),
        "status": STATUS_FROM_WHATSAPP.get(str(remote.get("status", "")).upper(), Status.PENDING),
        "rejected_reason": "",
        "quality_rating": _quality(remote.get("quality_score")),
        "external_id": str(remote.get("id") or "")[:64],
        "header_type": HeaderType.NONE,
        "header_text": "",
        "header_media_url": "",
        "body": "",
        "footer": "",
        "buttons": [],
        "removed_at": None,
    }
    reason = str(remote.get("rejected_reason") or "")
    if fields["status"] != Status.APPROVED and reason.upper() != "NONE":
        fields["rejected_reason"] = reason
    components: list[Any] = remote["components"] if isinstance(remote.get("components"), list) else []
    for component in components:
        if not isinstance(component, dict):
            continue
        kind = str(component.get("type", "")).upper()
        if kind == "HEADER":
            header_format = str(component.get("format", "TEXT")).lower()
            if header_format == HeaderType.TEXT:
                fields["header_type"], fields["header_text"] = HeaderType.TEXT, str(component.get("text", ""))[:255]
            elif header_format in HeaderType.values:
                fields["header_type"] = header_format
                example: dict[str, Any] = component["example"] if isinstance(component.get("example"), dict) else {}
                handles = example.get("header_handle") or []
                if handles and str(handles[0]).startswith(("http://", "https://")):
                    fields["header_media_url"] = str(handles[0])[:1000]
        elif kind == "BODY":
            fields["body"] = str(component.get("text", ""))
        elif kind == "FOOTER":
            fields["footer"] = str(component.get("text", ""))[:255]
        elif kind == "BUTTONS" and isinstance(component.get("buttons"), list):
            fields["buttons"] = [_button(b) for b in component["buttons"] if _button(b)]
    return fields


def _button(raw: Any) -> dict[str, str]:
    """One of WhatsApp's buttons in our shape; {} for kinds we do not send (copy code, flows, OTP)."""
    if not isinstance(raw, dict) or str(raw.get("type", "")).upper() not in BUTTON_TYPES:
        return {}
    kind = BUTTON_TYPES[str(raw["type"]).upper()]
    button = {"type": kind, "text": str(raw.get("text", ""))}
    if kind == "url":
        button["url"] = str(raw.get("url", ""))
    elif kind == "phone_number":
        button["phone_number"] = str(raw.get("phone_number", ""))
    return button


# --- submit ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExampleFile:
    """A media header's example, as uploaded by the marketer."""

    name: str
    content: bytes
    content_type: str


EXAMPLE_FILE_MAX = 16 * 1024 * 1024  # WhatsApp's largest media (video) is 16 MB


def example_file(upload: Any) -> ExampleFile:
    """An uploaded file (Django's UploadedFile) as the submit takes it; a larger one is cut just past the limit, so
    the size check refuses it without reading it all."""
    content = upload.read(EXAMPLE_FILE_MAX + 1)
    return ExampleFile(name=str(upload.name), content=content, content_type=str(upload.content_type or ""))


def _example_file_problem(template: Template, header_file: ExampleFile | None) -> str:
    if template.header_type not in MEDIA_HEADERS:
        return "Only a template with an image or video header takes an example file." if header_file else ""
    if template.header_type == HeaderType.DOCUMENT:
        return (
            "Vonage's media upload takes images and videos only: submit a template with a document header in "
            "WhatsApp Manager, then sync."
        )
    if header_file is None:
        return f"Upload an example {template.header_type} for the header: WhatsApp's reviewers look at it."
    if header_file.content_type not in vonage.UPLOAD_TYPES:
        return f"The example must be a JPEG or PNG image or an MP4 video (this one is {header_file.content_type})."
    if not header_file.content or len(header_file.content) > EXAMPLE_FILE_MAX:
        return "The example file must hold something and be at most 16 MB."
    return ""


def template_submit(
    *, template: Template, examples: Mapping[str, Any] | None = None, header_file: ExampleFile | None = None
) -> Template:
    """Send a draft to WhatsApp's review through Vonage; it becomes `pending`.

    Our rules check it first; a missing example, a provider without what the API needs, or Vonage's refusal is a
    ValidationError on the field concerned (Vonage's `invalid_parameters` named by their parameter). A media header's
    example file is uploaded first (Vonage's media upload) and named by its handle.
    """
    if template.status != Status.DRAFT:
        raise ValidationError(
            {
                "status": [
                    f"Only a draft can be submitted for approval; this one is {template.get_status_display().lower()}."
                ]
            }
        )
    errors: dict[str, list[str]] = dict(management_problems(template.provider))
    for problem in template_problems(template):
        errors.setdefault(problem.field, []).append(problem.text())
    given = {str(k): str(v).strip() for k, v in (examples or {}).items() if v is not None}
    missing = [label for key, label in submit_examples_needed(template) if not given.get(key)]
    if missing:
        errors["examples"] = [f"WhatsApp's reviewers need an example of {', '.join(missing)}."]
    if trouble := _example_file_problem(template, header_file):
        errors["header_file"] = [trouble]
    if errors:
        raise ValidationError(errors)
    credentials = provider_credentials(template.provider)
    try:
        if header_file is not None and template.header_type in MEDIA_HEADERS:
            _pace(template.provider)
            given["header"] = vonage.media_upload(
                credentials=credentials,
                filename=header_file.name,
                content=header_file.content,
                file_type=header_file.content_type,
            )
    except NexmoError as error:
        raise ValidationError({"header_file": [f"The example was not uploaded: {_error_words(error)}"]}) from None
    body = {
        "name": template.name,
        "language": template.language,
        "category": template.category.upper(),
        "components": template_components(template, examples=given),
    }
    _pace(template.provider)
    try:
        answer = vonage.template_create(credentials=credentials, waba_id=template.provider.waba_id, template=body)
    except NexmoError as error:
        if error.code == "timeout":
            # The create may have reached WhatsApp: submitting again could be refused as a duplicate.
            raise ValidationError(
                "No answer from Vonage in time: the template may have been submitted. Sync the number's templates "
                "to see, before submitting again."
            ) from None
        fields: dict[str, list[str]] = {}
        for parameter in error.invalid_parameters:
            name = str(parameter.get("name", ""))
            target = name if name in ("name", "language", "category") else "__all__"
            fields.setdefault(target, []).append(f"WhatsApp refused it: {parameter.get('reason', name)}")
        fields.setdefault("__all__", []).insert(0, _error_words(error))
        raise ValidationError(fields) from None
    template.status = STATUS_FROM_WHATSAPP.get(str(answer.get("status", "")).upper(), Status.PENDING)
    template.external_id = str(answer.get("id") or "")[:64]
    if answer.get("category"):
        template.category = CATEGORY_FROM_WHATSAPP.get(str(answer["category"]).upper(), template.category)
    template.rejected_reason = ""
    template.save(update_fields=["status", "external_id", "category", "rejected_reason", "updated_at"])
    return template


def template_delete_remote(*, template: Template) -> None:
    """Delete this language of the template in WhatsApp too, when WhatsApp knows it (ValidationError if Vonage
    refuses; already gone there is fine)."""
    provider = template.provider
    if not template.external_id or not provider.waba_id or template.removed_at is not None:
        return
    _pace(provider)
    try:
        vonage.template_delete(
            credentials=provider_credentials(provider),
            waba_id=provider.waba_id,
            name=template.name,
            hsm_id=template.external_id,
        )
    except NexmoError as error:
        if error.status != 404:
            raise ValidationError(f"Not deleted: {_error_words(error)}") from None


# --- sync ------------------------------------------------------------------------------------------------------


def _pages(provider: ProviderConfig, report: SyncReport) -> list[dict[str, Any]]:
    credentials = provider_credentials(provider)
    remote: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        _pace(provider)
        report.requests += 1
        try:
            page = vonage.templates_list_page(
                credentials=credentials, waba_id=provider.waba_id, after=after, limit=vonage.PAGE_SIZE
            )
        except NexmoError as error:
            raise TemplateSyncError(_error_words(error), error=error) from None
        remote.extend(page.templates)
        if page.after is None or page.after == after:
            return remote
        after = page.after


def templates_sync(*, provider: ProviderConfig) -> SyncReport:
    """Pull every template of the provider's WhatsApp Business Account: create the new ones, update the changed ones,
    mark the ones deleted at WhatsApp (never delete them: a campaign or journey may name them)."""
    errors = management_problems(provider)
    if errors:
        raise ValidationError(errors)
    report = SyncReport()
    remote = _pages(provider, report)
    now = timezone.now()
    became_unusable: list[tuple[int, str]] = []
    with transaction.atomic():
        local = {(t.name, t.language): t for t in Template.objects.select_for_update().filter(provider=provider)}
        seen: set[tuple[str, str]] = set()
        to_create: list[Template] = []
        to_update: list[Template] = []
        for row in remote:
            key = (str(row.get("name", "")), str(row.get("language", "")))
            if not all(key) or key in seen or len(key[0]) > NAME_MAX or len(key[1]) > LANGUAGE_MAX:
                continue  # not a template WhatsApp could hold (our columns fit every real one)
            seen.add(key)
            fields = template_fields(row)
            template = local.get(key)
            if template is None:
                to_create.append(Template(provider=provider, name=key[0], language=key[1], synced_at=now, **fields))
                continue
            _keep_local_details(template, fields)
            changed = {name: value for name, value in fields.items() if getattr(template, name) != value}
            if not changed:
                report.unchanged += 1
                continue
            if "status" in changed and fields["status"] in UNUSABLE_STATUSES:
                became_unusable.append((template.pk, _unusable_reason(fields["status"], fields["rejected_reason"])))
            for name, value in changed.items():
                setattr(template, name, value)
            template.synced_at = now
            template.updated_at = now
            to_update.append(template)
        for key, template in local.items():
            # Drafts are ours alone; anything else WhatsApp no longer lists was deleted there.
            if key in seen or template.status == Status.DRAFT or template.removed_at is not None:
                continue
            template.removed_at = now
            template.synced_at = now
            template.updated_at = now
            to_update.append(template)
            report.removed += 1
            if template.status == Status.APPROVED:
                became_unusable.append((template.pk, "It was deleted in WhatsApp."))
        Template.objects.bulk_create(to_create, batch_size=1000)
        Template.objects.bulk_update(to_update, [*SYNCED_FIELDS, "synced_at", "updated_at"], batch_size=1000)
        report.created = len(to_create)
        report.updated = len(to_update) - report.removed
        report.unusable = [pk for pk, _ in became_unusable]
        for pk, reason in became_unusable:
            transaction.on_commit(partial(_announce, pk, reason))
    logger.info("Templates of %s synced: %s in %d requests", provider, report.as_dict(), report.requests)
    return report


def _keep_local_details(template: Template, fields: dict[str, Any]) -> None:
    """What WhatsApp does not hold and a sync must not wipe: quick-reply payloads (given at send time, journeys branch
    on them) and the example media URL of a media header when WhatsApp lists no URL of its own."""
    local = template.buttons if isinstance(template.buttons, list) else []
    for index, button in enumerate(fields["buttons"]):
        mine = local[index] if index < len(local) and isinstance(local[index], dict) else {}
        same = mine.get("type") == button["type"] == "quick_reply" and mine.get("text") == button["text"]
        if same and mine.get("payload"):
            button["payload"] = mine["payload"]
    if not fields["header_media_url"] and fields["header_type"] == template.header_type:
        fields["header_media_url"] = template.header_media_url


def _unusable_reason(status: str, reason: str) -> str:
    words = {Status.REJECTED: "rejected", Status.PAUSED: "paused", Status.DISABLED: "disabled"}[Status(status)]
    return f"WhatsApp {words} it" + (f": {reason}" if reason else ".")


def _announce(template_id: int, reason: str) -> None:
    template = Template.objects.select_related("provider").filter(pk=template_id).first()
    if template is not None:
        template_unusable.send(sender=Template, template=template, reason=reason)


def templates_sync_all() -> dict[str, dict[str, int] | str]:
    """The scheduled sync: every active number with a WhatsApp Business Account; one's failure does not stop the
    others. The result of each, by nickname."""
    results: dict[str, dict[str, int] | str] = {}
    for provider in ProviderConfig.objects.filter(is_active=True).exclude(waba_id=""):
        try:
            results[provider.nickname] = templates_sync(provider=provider).as_dict()
        except (TemplateSyncError, ValidationError) as error:
            logger.warning("Templates of %s not synced: %s", provider, error)
            results[provider.nickname] = str(error)
    return results


def templates_sync_schedule_ensure() -> None:
    """The periodic sync, made when a number is saved with a WhatsApp Business Account id (idempotent by name); a
    changed TEMPLATES_SYNC_MINUTES is applied then too."""
    from django_q.models import Schedule

    minutes = int(settings.TEMPLATES_SYNC_MINUTES)
    schedule, created = Schedule.objects.get_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "func": "templates_app.tasks.templates_sync_all",
            "schedule_type": Schedule.MINUTES,
            "minutes": minutes,
        },
    )
    if not created and schedule.minutes != minutes:
        Schedule.objects.filter(pk=schedule.pk).update(minutes=minutes)
