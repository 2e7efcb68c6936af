"""`/inbox/`: the shared inbox's screens. Thin: forms check the input, services and selectors do the work."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_POST

from accounts.roles import marketer_required
from conversations import selectors, services
from conversations.forms import (
    VIEWS,
    AssignForm,
    InboxFilterForm,
    NoteForm,
    ReplyForm,
    TemplateChoiceForm,
    TemplateReplyForm,
)
from conversations.models import Conversation
from templates_app.models import Template
from templates_app.rendering import template_preview_parts

PAGE_SIZE = 50
# The thread page shows this many of the latest messages (a thread of 10,000 loads one page, not all of it).
THREAD_LATEST = 200


def _list_context(request: HttpRequest) -> dict[str, Any]:
    form = InboxFilterForm(request.GET or None)
    filters = form.filters() if request.GET else InboxFilterForm({}).filters()
    page = Paginator(selectors.conversations_list(user=request.user, **filters), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    tabs_query = query.copy()
    tabs_query.pop("view", None)
    return {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "tabs_query": tabs_query.urlencode(),
        "tabs": [(key, label) for key, (label, _) in VIEWS.items()],
        "view": request.GET.get("view") or "open",
    }


@marketer_required
def inbox(request: HttpRequest) -> HttpResponse:
    return render(request, "conversations/inbox.html", _list_context(request))


@marketer_required
def inbox_rows(request: HttpRequest) -> JsonResponse:
    """The list's rows and the unread count, polled by the list page so new messages show without a reload."""
    html = render_to_string("conversations/includes/inbox_rows.html", _list_context(request), request=request)
    return JsonResponse({"html": html, "unread": selectors.conversations_unread_count()})


def _thread_context(conversation: Conversation) -> dict[str, Any]:
    items, earlier = selectors.thread_latest(conversation=conversation, limit=THREAD_LATEST)
    since: datetime | None = items[0].created_at if earlier and items else None
    entries: list[tuple[datetime, int, str, Any]] = [(item.created_at, 0, "message", item) for item in items]
    entries += [
        (note.created_at, 1, "note", note) for note in selectors.thread_notes(conversation=conversation, since=since)
    ]
    entries.sort(key=lambda entry: (entry[0], entry[1]))
    return {
        "conversation": conversation,
        "entries": [(kind, value) for _, _, kind, value in entries],
        "earlier": earlier,
        "latest": THREAD_LATEST,
        "held": selectors.held_journeys(conversation=conversation),
    }


def _conversation(pk: int) -> Conversation:
    return get_object_or_404(Conversation.objects.select_related("contact", "provider", "assignee"), pk=pk)


@marketer_required
def thread(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _conversation(pk)
    services.conversation_read(conversation=conversation)
    return _thread_page(request, conversation)


def _thread_page(
    request: HttpRequest,
    conversation: Conversation,
    *,
    reply_form: ReplyForm | None = None,
    template_form: TemplateReplyForm | None = None,
    note_form: NoteForm | None = None,
    status: int = 200,
) -> HttpResponse:
    """The thread page, with the forms as posted when one of them was refused (status 400)."""
    context = _thread_context(conversation)
    context.update(_composer_context(request, conversation, reply_form=reply_form, template_form=template_form))
    context["note_form"] = note_form or NoteForm()
    context["assign_form"] = AssignForm(initial={"user": conversation.assignee_id})
    return render(request, "conversations/thread.html", context, status=status)


@marketer_required
def thread_messages(request: HttpRequest, pk: int) -> JsonResponse:
    """The thread's messages (ticks included), polled by the open thread; whoever looks at it has read them."""
    conversation = _conversation(pk)
    services.conversation_read(conversation=conversation)
    html = render_to_string(
        "conversations/includes/thread_messages.html", _thread_context(conversation), request=request
    )
    return JsonResponse({"html": html, "status": conversation.status})


def _composer_context(
    request: HttpRequest,
    conversation: Conversation,
    *,
    reply_form: ReplyForm | None = None,
    template_form: TemplateReplyForm | None = None,
) -> dict[str, Any]:
    """Free text inside the 24-hour window; outside it, only approved templates of the number, with their values."""
    context: dict[str, Any] = {"window_open": conversation.window_open}
    if conversation.window_open and template_form is None:
        context["reply_form"] = reply_form or ReplyForm()
        return context
    choice = TemplateChoiceForm(request.GET if "template" in request.GET else None, conversation=conversation)
    template: Template | None = template_form.chosen if template_form is not None else None
    if template is None and choice.is_valid():
        template = choice.cleaned_data["template"]
    context["choice_form"] = choice
    if template is not None:
        context["template"] = template
        context["template_form"] = template_form or TemplateReplyForm(template=template)
        context["message_json"] = json.dumps(template_preview_parts(template))
    return context


@marketer_required
@require_POST
def reply(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _conversation(pk)
    reply_form: ReplyForm | None = None
    template_form: TemplateReplyForm | None = None
    arguments: dict[str, Any]
    if "template" in request.POST:
        chosen = str(request.POST["template"])
        template = Template.objects.filter(pk=int(chosen)).first() if chosen.isdigit() and len(chosen) < 19 else None
        if template is None:
            messages.error(request, "Choose a template first.")
            return redirect("conversation-thread", pk=pk)
        template_form = TemplateReplyForm(request.POST, template=template)
        valid = template_form.is_valid()
        arguments = {"template": template, "parameters": template_form.parameters() if valid else {}}
    else:
        reply_form = ReplyForm(request.POST)
        valid = reply_form.is_valid()
        arguments = {
            "text": reply_form.cleaned_data.get("text", "") if valid else "",
            "buttons": reply_form.buttons() if valid else [],
        }
    if valid:
        try:
            services.conversation_reply(conversation=conversation, author=request.user, **arguments)  # type: ignore[arg-type]
        except ValidationError as error:
            # The service names API fields (text, template, parameters, contact): on the page, the text's own errors
            # go under the text box, the others on top of the form.
            form: Any = template_form if template_form is not None else reply_form
            for field, problems in error.message_dict.items():
                for problem in problems:
                    form.add_error(field if field == "text" and field in form.fields else None, problem)
        else:
            return redirect("conversation-thread", pk=pk)
    return _thread_page(request, conversation, reply_form=reply_form, template_form=template_form, status=400)


@marketer_required
@require_POST
def note_add(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _conversation(pk)
    form = NoteForm(request.POST)
    if form.is_valid():
        services.conversation_note_add(
            conversation=conversation,
            author=request.user,  # type: ignore[arg-type]
            text=form.cleaned_data["text"],
        )
        return redirect("conversation-thread", pk=pk)
    return _thread_page(request, conversation, note_form=form, status=400)


@marketer_required
@require_POST
def assign(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _conversation(pk)
    if request.POST.get("me"):
        user: Any = request.user
    else:
        form = AssignForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Choose someone from the list to assign the conversation to.")
            return redirect("conversation-thread", pk=pk)
        user = form.cleaned_data["user"]
    services.conversation_assign(conversation=conversation, user=user)
    if user is None:
        messages.success(request, "Unassigned: held journey messages go out now.")
    else:
        messages.success(
            request,
            f"Assigned to {'you' if user == request.user else user.get_username()}: the "
            "auto-reply is off and journeys wait while the conversation is open.",
        )
    return redirect("conversation-thread", pk=pk)


@marketer_required
@require_POST
def close(request: HttpRequest, pk: int) -> HttpResponse:
    services.conversation_close(conversation=_conversation(pk))
    messages.success(request, "Closed. The customer's next message reopens it.")
    return redirect("conversation-thread", pk=pk)


@marketer_required
@require_POST
def reopen(request: HttpRequest, pk: int) -> HttpResponse:
    services.conversation_reopen(conversation=_conversation(pk))
    return redirect("conversation-thread", pk=pk)
