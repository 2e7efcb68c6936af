"""Contacts and segments pages: list, profile, CSV import with progress, export, and the segment builder."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.roles import is_marketer, marketer_required
from contacts import selectors, services
from contacts.forms import (
    ContactEditForm,
    ContactFilterForm,
    ImportMappingForm,
    ImportUploadForm,
    SegmentBuilder,
    builder_change,
    property_text,
)
from contacts.models import Contact, ContactImport, ImportStatus, Segment
from contacts.profile import profile_sections
from contacts.segments import segment_definition_describe
from whatsapp_project.safe_input import id_from

PAGE_SIZE = 50


def _marketer_only(request: HttpRequest) -> None:
    """The role check for streaming views (the decorator is typed for plain responses)."""
    if not is_marketer(request.user):
        raise PermissionDenied


@marketer_required
def contact_list(request: HttpRequest) -> HttpResponse:
    form = ContactFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    contacts = selectors.contact_search(
        query=filters.get("q", ""), consent=filters.get("consent", ""), test_profile=filters.get("test_profile", "")
    )
    page = Paginator(contacts, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "contacts/contact_list.html",
        {"form": form, "page": page, "query": query.urlencode(), "has_any": Contact.objects.exists()},
    )


@marketer_required
def contact_detail(request: HttpRequest, pk: int) -> HttpResponse:
    contact = get_object_or_404(Contact, pk=pk)
    properties = contact.properties if isinstance(contact.properties, dict) else {}
    return render(
        request,
        "contacts/contact_detail.html",
        {
            "contact": contact,
            "properties": [(key, property_text(value)) for key, value in sorted(properties.items())],
            "consent_history": contact.consent_changes.all()[:50],
            "events": selectors.contact_events(contact=contact),
            "sections": profile_sections(contact),
        },
    )


@marketer_required
def contact_edit(request: HttpRequest, pk: int) -> HttpResponse:
    contact = get_object_or_404(Contact, pk=pk)
    form = ContactEditForm(request.POST or None, contact=contact)
    if request.method == "POST" and form.is_valid():
        reason = form.cleaned_data["consent_reason"].strip()
        services.contact_update(contact=contact, data=form.changes(), source="ui", consent_reason=reason)
        messages.success(request, "Contact saved.")
        return redirect("contact-detail", pk=contact.pk)
    return render(request, "contacts/contact_form.html", {"contact": contact, "form": form})


def contact_export(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """All contacts, or those of `?segment=<id>`, as a streamed CSV."""
    _marketer_only(request)
    raw = request.GET.get("segment", "")
    segment_id = id_from(raw)
    if raw and segment_id is None:
        return HttpResponseBadRequest("?segment= takes a segment id.", content_type="text/plain; charset=utf-8")
    if segment_id is not None:
        segment = get_object_or_404(Segment, pk=segment_id)
        contacts, filename = selectors.segment_contacts(segment), f"segment-{segment.pk}.csv"
    else:
        contacts, filename = Contact.objects.all(), "contacts.csv"
    response = StreamingHttpResponse(selectors.contacts_csv_lines(contacts), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- imports -----------------------------------------------------------------------------------------------------


@marketer_required
def import_new(request: HttpRequest) -> HttpResponse:
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = services.contact_import_create(upload=form.cleaned_data["file"], user=request.user)
        except ValidationError as exc:
            for message in exc.message_dict.get("file", exc.messages):
                form.add_error("file", message)
        else:
            return redirect("contact-import-detail", pk=job.pk)
    recent = ContactImport.objects.all()[:10]
    return render(request, "contacts/import_new.html", {"form": form, "recent": recent})


@marketer_required
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Step 2 (map the columns) while the import waits for its mapping; afterwards its progress and summary."""
    job = get_object_or_404(ContactImport, pk=pk)
    if job.status != ImportStatus.MAPPING:
        refused = selectors.contact_import_refused_rows(job=job) if job.is_finished else []
        return render(request, "contacts/import_detail.html", {"job": job, "refused": refused})
    form = ImportMappingForm(
        request.POST or None,
        columns=job.columns,
        mapping=job.mapping,
        samples=selectors.contact_import_samples(job=job),
        default_country=job.default_country,
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.contact_import_start(
                contact_import=job, mapping=form.mapping(), default_country=form.cleaned_data["default_country"]
            )
        except ValidationError as exc:
            for key, errors in exc.message_dict.items():
                column = key.removeprefix("mapping.")
                field = f"col_{job.columns.index(column)}" if column in job.columns else None
                for error in errors:
                    form.add_error(field, error)
        else:
            return redirect("contact-import-detail", pk=job.pk)
    return render(request, "contacts/import_mapping.html", {"job": job, "form": form})


@marketer_required
def import_status(request: HttpRequest, pk: int) -> JsonResponse:
    """What the progress bar polls."""
    job = get_object_or_404(ContactImport, pk=pk)
    return JsonResponse(
        {
            "status": job.status,
            "status_label": job.get_status_display(),
            "finished": job.is_finished,
            "progress_percent": job.progress_percent,
            "rows_processed": job.rows_processed,
            "created": job.created_count,
            "updated": job.updated_count,
            "skipped": job.skipped_count,
            "invalid": job.invalid_count,
            "error": job.error,
        }
    )


def import_errors(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    _marketer_only(request)
    job = get_object_or_404(ContactImport, pk=pk)
    response = StreamingHttpResponse(selectors.csv_lines(selectors.import_errors_rows(job)), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
    return response


# --- segments ----------------------------------------------------------------------------------------------------


@marketer_required
def segment_list(request: HttpRequest) -> HttpResponse:
    segments = [(segment, segment_definition_describe(segment.definition)) for segment in selectors.segment_list()]
    return render(request, "contacts/segment_list.html", {"segments": segments})


@marketer_required
def segment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    segment = get_object_or_404(Segment, pk=pk)
    return render(
        request,
        "contacts/segment_detail.html",
        {
            "segment": segment,
            "preview": selectors.segment_preview(segment),
            "description": segment_definition_describe(segment.definition),
        },
    )


def _builder_page(request: HttpRequest, segment: Segment | None) -> HttpResponse:
    action = request.POST.get("action", "save") if request.method == "POST" else ""
    if action.startswith(("add_", "remove_")):
        builder = SegmentBuilder(builder_change(request.POST, action))
        builder.hush()
    elif request.method == "POST":
        builder = SegmentBuilder(request.POST)
        if builder.is_valid():
            assert builder.definition is not None
            try:
                if segment is None:
                    segment = services.segment_create(name=builder.name, definition=builder.definition)
                else:
                    services.segment_update(segment=segment, name=builder.name, definition=builder.definition)
            except ValidationError as exc:
                builder.segment.add_error(None, exc.messages)
            else:
                messages.success(request, f"Segment “{segment.name}” saved.")
                return redirect("segment-detail", pk=segment.pk)
    elif segment is not None:
        builder = SegmentBuilder(name=segment.name, definition=segment.definition)
    else:
        builder = SegmentBuilder()
    context: dict[str, Any] = {
        "builder": builder,
        "segment": segment,
        "preview_url": reverse("segment-preview"),
        "property_keys": selectors.contact_property_keys(),
        "event_names": selectors.event_names(),
    }
    return render(request, "contacts/segment_form.html", context)


@marketer_required
def segment_create(request: HttpRequest) -> HttpResponse:
    return _builder_page(request, None)


@marketer_required
def segment_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _builder_page(request, get_object_or_404(Segment, pk=pk))


@marketer_required
@require_POST
def segment_delete(request: HttpRequest, pk: int) -> HttpResponse:
    segment = get_object_or_404(Segment, pk=pk)
    services.segment_delete(segment=segment)
    messages.success(request, f"Segment “{segment.name}” deleted.")
    return redirect("segment-list")


@marketer_required
@require_POST
def segment_preview(request: HttpRequest) -> JsonResponse:
    """Live preview for the builder: count and a sample for the form as it stands (nothing is saved)."""
    builder = SegmentBuilder(request.POST)
    if not builder.is_valid(need_name=False) or builder.definition is None:
        problems = [
            f"{form.fields[name].label or name}: {' '.join(errs)}" if name != "__all__" else " ".join(errs)
            for form in [builder.segment, *builder.groups.forms, *builder.conditions.forms]
            for name, errs in form.errors.items()
            if name != "name"
        ]
        return JsonResponse({"valid": False, "errors": problems or ["Complete the conditions."]})
    preview = selectors.segment_definition_preview(definition=builder.definition)
    return JsonResponse(
        {
            "valid": True,
            "count": preview["count"],
            "reach": preview["reach"]["text"],
            "sample": [
                {"id": c.pk, "name": c.name, "phone": c.phone, "url": reverse("contact-detail", args=[c.pk])}
                for c in preview["sample"]
            ],
        }
    )
