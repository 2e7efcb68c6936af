"""Provider screens (Settings > Channels > WhatsApp), the test send, and the message log."""

from __future__ import annotations

import json
import uuid

from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.roles import marketer_required, staff_required
from providers import selectors, services
from providers.content import TextContent
from providers.forms import MessageFilterForm, ProviderForm, TestMessageForm
from providers.messaging import sending
from providers.models import ProviderConfig


@marketer_required
def provider_list(request: HttpRequest) -> HttpResponse:
    return render(request, "providers/provider_list.html", {"providers": selectors.provider_list()})


@staff_required
def provider_choose(request: HttpRequest) -> HttpResponse:
    return render(request, "providers/provider_choose.html")


@staff_required
def provider_add(request: HttpRequest) -> HttpResponse:
    form = ProviderForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            provider = services.provider_create(data=form.service_data())
        except ValidationError as exc:
            form.apply_errors(exc)
        else:
            flash.success(request, f"{provider.nickname} is connected. Paste the callback URLs into Nexmo next.")
            return redirect("provider-detail", pk=provider.pk)
    return render(request, "providers/provider_form.html", {"form": form, "title": "Add a Nexmo WhatsApp number"})


@staff_required
def provider_edit(request: HttpRequest, pk: int) -> HttpResponse:
    provider = get_object_or_404(ProviderConfig, pk=pk)
    form = ProviderForm(request.POST or None, request.FILES or None, provider=provider)
    if request.method == "POST" and form.is_valid():
        try:
            services.provider_update(provider=provider, data=form.service_data())
        except ValidationError as exc:
            form.apply_errors(exc)
        else:
            flash.success(request, "Saved.")
            return redirect("provider-detail", pk=provider.pk)
    return render(
        request, "providers/provider_form.html", {"form": form, "provider": provider, "title": f"Edit {provider}"}
    )


@staff_required
def provider_detail(request: HttpRequest, pk: int) -> HttpResponse:
    provider = get_object_or_404(ProviderConfig, pk=pk)
    recent = selectors.message_log_entries(selectors.message_log(filters={"provider": provider})[:10])
    return render(request, "providers/provider_detail.html", {"provider": provider, "recent": recent})


@staff_required
@require_POST
def provider_token_regenerate(request: HttpRequest, pk: int) -> HttpResponse:
    provider = get_object_or_404(ProviderConfig, pk=pk)
    services.provider_callback_token_regenerate(provider=provider)
    flash.warning(request, "New callback URLs: paste them into the Nexmo dashboard; the old ones no longer work.")
    return redirect("provider-detail", pk=provider.pk)


@staff_required
def provider_test(request: HttpRequest, pk: int) -> HttpResponse:
    provider = get_object_or_404(ProviderConfig, pk=pk)
    form = TestMessageForm(request.POST or None)
    context: dict[str, object] = {"provider": provider, "form": form, "wa_me": sending.wa_me_link(provider)}
    if request.method == "POST" and form.is_valid():
        try:
            result = sending.message_send(
                provider=provider,
                to=form.cleaned_data["to"],
                content=TextContent(text=form.cleaned_data["text"]),
                origin="test",
                origin_ref=f"test:{uuid.uuid4()}",
            )
        except sending.SendRefused as exc:
            context["refused"] = str(exc)
        else:
            context["result"] = result
            context["response_json"] = json.dumps(
                {"status_code": result.status_code, "body": result.body}, indent=2, sort_keys=True
            )
    return render(request, "providers/provider_test.html", context)


@marketer_required
def message_list(request: HttpRequest) -> HttpResponse:
    form = MessageFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    page = Paginator(selectors.message_log(filters=filters), 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "entries": selectors.message_log_entries(page.object_list),
        "query": query.urlencode(),
    }
    return render(request, "providers/message_list.html", context)
