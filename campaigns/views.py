"""Campaign pages: list, the wizard, the detail page with live progress, recipients and CSV export."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.roles import is_marketer, marketer_required
from campaigns import services
from campaigns.audience_lists import audience_list_upload
from campaigns.charts import timeline_chart
from campaigns.forms import AudienceForm, DetailsForm
from campaigns.models import Audience, Campaign, CampaignStatus, RecipientState, SkipReason
from campaigns.selectors import (
    SKIP_WORDS,
    campaign_reach,
    campaign_recipients,
    campaign_recipients_csv,
    campaign_stats,
    stats_rates,
)
from campaigns.selectors import campaign_list as campaigns_all
from contacts.selectors import contact_test_profiles
from providers.models import MessageStatus
from templates_app.rendering import CONTACT_FIELDS, template_preview_parts, template_slots
from templates_app.rules import template_send_refusal


@marketer_required
def campaign_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(campaigns_all(), 50).get_page(request.GET.get("page"))
    rows = [(campaign, stats_rates(campaign.stats or {})) for campaign in page]
    return render(request, "campaigns/campaign_list.html", {"page": page, "rows": rows})


@marketer_required
def campaign_new(request: HttpRequest) -> HttpResponse:
    """Wizard step 1: name, template (and so the number), audience; an uploaded list is read here, once."""
    if request.method == "POST":
        form = AudienceForm(request.POST, request.FILES)
    else:
        form = AudienceForm(request.GET or None)
    if form.is_bound and form.is_valid():
        upload = form.cleaned_data.get("audience_file")
        if form.cleaned_data["audience"] == Audience.UPLOADED_LIST and upload is not None:
            try:
                form.cleaned_data["audience_list"] = audience_list_upload(
                    handle=upload, name=upload.name or "", size=upload.size, user=request.user
                )
            except ValidationError as exc:
                form.add_error("audience_file", exc.messages)
        if form.is_valid():
            return redirect(f"/campaigns/new/details/?{urlencode(form.query())}")
    return render(request, "campaigns/campaign_new.html", {"form": form, "step": 1})


def _sample_contact() -> dict[str, Any]:
    """The first test profile's fields and properties, for the preview to show a real person's values."""
    sample = contact_test_profiles().first()
    if sample is None:
        return {}
    return {**{name: getattr(sample, name) or "" for name in CONTACT_FIELDS}, "properties": sample.properties or {}}


@marketer_required
def campaign_new_details(request: HttpRequest) -> HttpResponse:
    """Wizard step 2: personalisation beside a live preview, then schedule, limits and goal (folded); saves a draft
    and opens it for review."""
    first = AudienceForm(request.GET)
    if not first.is_valid():
        return redirect("campaign-new")
    template = first.cleaned_data["template"]
    slots = template_slots(template)
    media = any(slot.kind == "header_media" for slot in slots)
    form = DetailsForm(request.POST or None, slots=slots, media_header=media)
    if request.method == "POST" and form.is_valid():
        variables = form.variables()
        data = {
            "name": first.cleaned_data["name"],
            "provider": template.provider,
            "template": template,
            "audience": first.cleaned_data["audience"],
            "segment": first.cleaned_data.get("segment"),
            "audience_list": first.cleaned_data.get("audience_list"),
            "variables": variables,
            **{k: v for k, v in form.cleaned_data.items() if not k.startswith("var_")},
        }
        data["header_media_url"] = data.get("header_media_url") or ""
        data["conversion_event"] = data.get("conversion_event") or ""
        # Each value's problem beside its own field, in words (the API names them by slot key instead).
        problems = services.campaign_variables_problems(
            template=template, variables=variables, header_media_url=data["header_media_url"]
        )
        for key, problem in problems.items():
            form.add_error(form.slot_field(key), problem)
        try:
            campaign = services.campaign_create(data=data, user=request.user)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                if field == "variables" and problems:
                    continue  # already shown beside each value's field
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, "Draft saved. Review it, send a test, then launch.")
            return redirect("campaign-show", pk=campaign.pk)
    sample = _sample_contact()
    draft = Campaign(
        template=template,
        provider=template.provider,
        audience=first.cleaned_data["audience"],
        segment=first.cleaned_data.get("segment"),
        audience_list=first.cleaned_data.get("audience_list"),
    )
    context = {
        "form": form,
        "first": first.cleaned_data,
        "audience_label": Audience(first.cleaned_data["audience"]).label,
        "template": template,
        "message_json": json.dumps(template_preview_parts(template)),
        "sample": sample,
        "sample_json": json.dumps(sample, default=str),
        "reach": campaign_reach(campaign=draft, variables=False),
        "step": 2,
    }
    return render(request, "campaigns/campaign_details.html", context)


@marketer_required
def campaign_new_reach(request: HttpRequest) -> JsonResponse:
    """Wizard step 1's live count: who the chosen audience would reach, by the launch's own rules."""
    form = AudienceForm(request.GET)
    form.is_valid()
    data = form.cleaned_data
    audience = data.get("audience")
    if not audience or (audience == Audience.SEGMENT and not data.get("segment")):
        return JsonResponse({"text": ""})
    if audience == Audience.UPLOADED_LIST and not data.get("audience_list"):
        return JsonResponse({"text": "Choose the file and go on: the next step shows who the list reaches."})
    draft = Campaign(audience=audience, segment=data.get("segment"), audience_list=data.get("audience_list"))
    return JsonResponse(campaign_reach(campaign=draft, variables=False))


def _people(n: int) -> str:
    return f"{n} person" if n == 1 else f"{n} people"


def _action_context(campaign: Campaign, stats: dict[str, Any]) -> dict[str, Any]:
    """The buttons that fit the campaign's state now, each confirmation saying how many people it touches."""
    context: dict[str, Any] = {"campaign": campaign, "stats": stats}
    if campaign.status not in (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED):
        # Launch is offered only while the template can be sent, with WhatsApp's reason when it cannot.
        context["template_refusal"] = template_send_refusal(campaign.template)
    not_planned = not stats.get("audience")
    if campaign.status in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED) and not_planned:
        # Before planning the recipients do not exist yet: count who launching now would reach.
        reach = campaign_reach(campaign=campaign)
        context["reach"] = reach
        affected = reach["reachable"]
        when = f" on {timezone.localtime(campaign.scheduled_at):%d %b %Y at %H:%M}" if campaign.scheduled_at else " now"
        context["launch_question"] = f"Send to {_people(affected)}{when}?"
    else:
        affected = int(stats.get("pending") or 0)
    context["cancel_question"] = (
        f"Cancel the campaign? {_people(affected)} will not get it."
        if affected
        else "Cancel the campaign? Nobody is waiting to be sent."
    )
    return context


def _recipients_context(campaign: Campaign, query: Any) -> dict[str, Any]:
    state, status, q = query.get("state", ""), query.get("status", ""), query.get("q", "")
    rows = Paginator(campaign_recipients(campaign=campaign, state=state, status=status, q=q), 50)
    filters = {"state": state, "status": status, "q": q}
    more = {k: v for k, v in filters.items() if v}
    return {"campaign": campaign, "page": rows.get_page(query.get("page")), "filters": filters, "more": urlencode(more)}


def _progress_context(campaign: Campaign, stats: dict[str, Any]) -> dict[str, Any]:
    skipped = [(SKIP_WORDS.get(r, r).capitalize(), n) for r, n in (stats.get("skipped_by_reason") or {}).items()]
    return {"campaign": campaign, "stats": stats, "skipped": skipped, "rates": stats_rates(stats)}


@marketer_required
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(campaigns_all(), pk=pk)
    stats = campaign_stats(campaign=campaign)
    context = {
        **_progress_context(campaign, stats),
        **_recipients_context(campaign, request.GET),
        **_action_context(campaign, stats),
        "chart": timeline_chart(stats.get("timeline")),
        "states": [*RecipientState.choices, *((v, f"Skipped: {label}") for v, label in SkipReason.choices)],
        "statuses": MessageStatus.choices,
    }
    return render(request, "campaigns/campaign_detail.html", context)


@marketer_required
def campaign_progress(request: HttpRequest, pk: int) -> JsonResponse:
    """The small JSON the detail page polls: the status, and the page's parts redrawn from the rollup (progress and
    funnel, chart, recipients with the page's filters; the buttons only when the status is not the one shown)."""
    campaign = get_object_or_404(campaigns_all(), pk=pk)
    stats = campaign_stats(campaign=campaign, max_age_seconds=2.0)
    chart_html = render_to_string(
        "campaigns/includes/timeline_chart.html", {"chart": timeline_chart(stats.get("timeline"))}
    )
    data: dict[str, Any] = {
        "status": campaign.status,
        "status_label": campaign.get_status_display(),
        "pause_reason": campaign.pause_reason,
        "stats": stats,
        "chart_html": chart_html,
        "progress_html": render_to_string("campaigns/includes/progress.html", _progress_context(campaign, stats)),
        "recipients_html": render_to_string(
            "campaigns/includes/recipients_table.html", _recipients_context(campaign, request.GET)
        ),
    }
    if request.GET.get("shown") != campaign.status:
        data["actions_html"] = render_to_string(
            "campaigns/includes/actions.html", _action_context(campaign, stats), request=request
        )
    return JsonResponse(data)


ACTIONS = {
    "launch": lambda c: services.campaign_schedule(campaign=c, scheduled_at=c.scheduled_at),
    "pause": lambda c: services.campaign_pause(campaign=c),
    "resume": lambda c: services.campaign_resume(campaign=c),
    "cancel": lambda c: services.campaign_cancel(campaign=c),
    "retry": lambda c: services.campaign_retry_failed(campaign=c),
    "test": lambda c: services.campaign_test_send(campaign=c),
}
DONE = {
    "pause": "Paused: nothing more is sent until you resume.",
    "resume": "Resumed: sending goes on.",
    "cancel": "Cancelled: nobody else will get this campaign.",
}


@marketer_required
@require_POST
def campaign_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=pk)
    act = ACTIONS.get(action)
    if act is None:
        messages.error(request, "Unknown action.")
        return redirect("campaign-show", pk=pk)
    try:
        result = act(campaign)
    except services.CampaignActionRefused as exc:
        # A button clicked on a page older than the campaign's state (it completed or changed meanwhile).
        messages.error(request, str(exc))
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
    else:
        if action == "test" and isinstance(result, list):
            problems = [r for r in result if isinstance(r, str)]
            messages.success(request, f"Test sent to {len(result) - len(problems)} test profile(s).")
            for problem in problems:
                messages.error(request, problem)
        elif action == "retry":
            count = result if isinstance(result, int) else 0
            messages.success(request, f"{_people(count)} to send again." if count else "Nothing to send again.")
        elif action == "launch":
            when = campaign.scheduled_at
            if when is not None and when > timezone.now():
                messages.success(request, f"Scheduled for {timezone.localtime(when):%d %b %Y at %H:%M}.")
            else:
                messages.success(request, "Launched: sending now.")
        else:
            messages.success(request, DONE[action])
    return redirect("campaign-show", pk=pk)


def campaign_export(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    # Streaming views check the role inline: the decorator's type only covers HttpResponse views.
    if not is_marketer(request.user):
        raise PermissionDenied
    campaign = get_object_or_404(Campaign, pk=pk)
    response = StreamingHttpResponse(campaign_recipients_csv(campaign=campaign), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}-recipients.csv"'
    return response
