from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.roles import marketer_required
from providers.models import ProviderConfig
from templates_app import services, sync
from templates_app.forms import (
    BUTTON_SLOTS,
    TemplateCopyForm,
    TemplateFilterForm,
    TemplateForm,
    TemplateImportForm,
    TemplateSubmitForm,
    TestSendForm,
)
from templates_app.models import Status, Template
from templates_app.rendering import template_preview_text
from templates_app.selectors import templates_export, templates_list
from whatsapp_project.safe_input import id_from

PAGE_SIZE = 50


@marketer_required
def template_list(request: HttpRequest) -> HttpResponse:
    filters = TemplateFilterForm(request.GET or None)
    chosen = filters.cleaned_data if filters.is_valid() else {}
    provider = chosen.get("provider")
    queryset = templates_list(
        provider=provider.pk if provider else None,
        status=chosen.get("status", ""),
        language=chosen.get("language", ""),
        category=chosen.get("category", ""),
    )
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "templates_app/template_list.html",
        {
            "filters": filters,
            "page": page,
            "query": query.urlencode(),
            "provider": provider,
            "has_providers": ProviderConfig.objects.exists(),
            "sync_providers": ProviderConfig.objects.order_by("nickname"),
            "sync_minutes": settings.TEMPLATES_SYNC_MINUTES,
        },
    )


@marketer_required
@require_POST
def templates_sync(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Sync now": pull the number's templates from WhatsApp (through Vonage) and say what changed."""
    provider = get_object_or_404(ProviderConfig, pk=pk)
    try:
        report = sync.templates_sync(provider=provider)
    except ValidationError as error:
        messages.error(request, f"{provider.nickname}: {' '.join(error.messages)}")
    except sync.TemplateSyncError as error:
        messages.error(request, f"{provider.nickname}: {error}")
    else:
        counts = report.as_dict()
        messages.success(
            request,
            f"Synced {provider.nickname} with WhatsApp: {counts['created']} new, {counts['updated']} updated, "
            f"{counts['unchanged']} unchanged, {counts['removed']} deleted in WhatsApp.",
        )
        if report.unusable:
            names = ", ".join(
                Template.objects.filter(pk__in=report.unusable).order_by("name").values_list("name", flat=True)
            )
            messages.warning(
                request,
                f"WhatsApp stopped {names}: running campaigns using it are paused and journeys skip its sends "
                "until it is approved again.",
            )
    return redirect(f"{reverse('template-list')}?provider={provider.pk}")


@marketer_required
def template_submit(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Submit for approval": an example of each variable for WhatsApp's reviewers, then off to Vonage."""
    template = get_object_or_404(Template.objects.select_related("provider"), pk=pk)
    if template.status != Status.DRAFT:
        messages.error(request, f"Only a draft can be submitted; this template is {template.get_status_display()}.")
        return redirect("template-edit", pk=pk)
    form = TemplateSubmitForm(request.POST or None, request.FILES or None, template=template)
    if request.method == "POST" and form.is_valid():
        try:
            sync.template_submit(template=template, examples=form.examples(), header_file=form.header_file())
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(
                request,
                f"Template {template.name} ({template.language}) sent to WhatsApp for review: it is pending until "
                "WhatsApp decides; the next sync brings the answer.",
            )
            return redirect("template-edit", pk=pk)
    return render(
        request,
        "templates_app/template_submit.html",
        {
            "form": form,
            "template": template,
            "preview": template_preview_text(template),
            "missing": sync.management_problems(template.provider),
        },
    )


def _template_form_page(request: HttpRequest, template: Template | None) -> HttpResponse:
    form = TemplateForm(request.POST or None, instance=template)
    if request.method == "POST" and form.is_valid():
        data = form.template_data()
        provider = form.cleaned_data["provider"]
        try:
            if template is None:
                saved = services.template_create(
                    provider=provider,
                    data=data,
                    whatsapp_namespace=form.cleaned_data.get("whatsapp_namespace", ""),
                )
            else:
                template.provider = provider
                saved = services.template_update(template=template, data=data)
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, f"Template {saved.name} ({saved.language}) saved.")
            return redirect("template-list")
    without_namespace = list(ProviderConfig.objects.filter(whatsapp_namespace="").values_list("pk", flat=True))
    return render(
        request,
        "templates_app/template_form.html",
        {
            "form": form,
            "template": template,
            "providers_without_namespace": json.dumps(without_namespace),
            "button_slots": BUTTON_SLOTS,
        },
    )


@marketer_required
def template_create(request: HttpRequest) -> HttpResponse:
    return _template_form_page(request, None)


@marketer_required
def template_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _template_form_page(request, get_object_or_404(Template.objects.select_related("provider"), pk=pk))


@marketer_required
def template_copy(request: HttpRequest, pk: int) -> HttpResponse:
    template = get_object_or_404(Template, pk=pk)
    form = TemplateCopyForm(request.POST or None, initial={"name": template.name})
    if request.method == "POST" and form.is_valid():
        try:
            copy = services.template_copy(
                template=template, language=form.cleaned_data["language"], name=form.cleaned_data["name"]
            )
        except ValidationError as error:
            for name, problems in error.message_dict.items():
                form.add_error(name if name in form.fields else None, problems)
        else:
            messages.success(request, f"Copied to {copy.language}; edit the text in the new language.")
            return redirect("template-edit", pk=copy.pk)
    return render(request, "templates_app/template_copy.html", {"form": form, "template": template})


@marketer_required
@require_POST
def template_delete(request: HttpRequest, pk: int) -> HttpResponse:
    template = get_object_or_404(Template, pk=pk)
    try:
        services.template_delete(template=template)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("template-edit", pk=pk)
    messages.success(request, f"Template {template.name} ({template.language}) deleted.")
    return redirect("template-list")


@marketer_required
def template_test_send(request: HttpRequest, pk: int) -> HttpResponse:
    template = get_object_or_404(Template.objects.select_related("provider"), pk=pk)
    form = TestSendForm(request.POST or None, template=template)
    outcomes = None
    preview = template_preview_text(template)
    if request.method == "POST" and form.is_valid():
        try:
            preview, outcomes = services.template_test_send(
                template=template,
                to=form.numbers(),
                contacts=list(form.cleaned_data["contacts"]),
                parameters=form.parameters(),
            )
        except ValidationError as error:
            form.add_error(None, error.messages)
    results = [
        {"outcome": outcome, "payload": json.dumps(outcome.body, indent=2) if outcome.body is not None else ""}
        for outcome in outcomes or []
    ]
    return render(
        request,
        "templates_app/template_test_send.html",
        {"form": form, "template": template, "preview": preview, "results": results, "sent": outcomes is not None},
    )


@marketer_required
def template_export(request: HttpRequest) -> HttpResponse:
    provider_id = id_from(request.GET.get("provider"))
    if provider_id is None:
        return HttpResponseBadRequest("?provider= takes a provider id.", content_type="text/plain; charset=utf-8")
    provider = get_object_or_404(ProviderConfig, pk=provider_id)
    response = JsonResponse(templates_export(provider=provider), json_dumps_params={"indent": 2})
    filename = f"templates-{provider.pk}.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@marketer_required
def template_import(request: HttpRequest) -> HttpResponse:
    form = TemplateImportForm(request.POST or None, request.FILES or None, initial=request.GET.dict())
    if request.method == "POST" and form.is_valid():
        try:
            result = services.templates_import(
                provider=form.cleaned_data["provider"],
                document=form.cleaned_data["file"],
                whatsapp_namespace=form.cleaned_data["whatsapp_namespace"],
            )
        except ValidationError as error:
            for name, problems in error.message_dict.items():
                form.add_error("file" if name == "templates" else None, problems)
        else:
            messages.success(request, f"Imported: {result.created} created, {result.updated} updated.")
            return redirect("template-list")
    return render(request, "templates_app/template_import.html", {"form": form})
