"""The journey builder: list, settings, the canvas (its state as JSON, side panels as HTML fragments, edge, entry,
delete, layout and test-event actions) and status actions. Every edit goes through the journey services, so the
canvas, the API and publish judge a definition by the same checks."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django import forms as django_forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.roles import marketer_required
from contacts.selectors import contact_test_profiles
from journeys import selectors, services
from journeys.definition import NODE_TYPES, Problem
from journeys.forms import (
    NODE_LABELS,
    TRIGGER_LABELS,
    JourneySettingsForm,
    NodeForm,
    awaited_choices,
    node_id_free,
)
from journeys.graph import BRANCH_SLOT, Slot, node_slots, node_summary
from journeys.models import Journey, JourneyStatus
from templates_app.models import Template
from whatsapp_project.safe_input import json_loads

# What each type of step does, under its name in the "add a step" picker.
NODE_HINTS = {
    "send_template": "A WhatsApp template, personalised for each contact.",
    "send_text": "Free text, inside the 24-hour window after their last message.",
    "send_interactive": "A message with reply buttons or a list to choose from (24-hour window).",
    "wait": "Pause for a while, or until a time of day.",
    "wait_for_reply": "Wait for an answer to a message, with a time limit.",
    "branch": "Go one way or another: plan is gold, did purchase…",
    "split": "Send random shares of contacts down different paths.",
    "update_property": "Write a value on the contact, e.g. onboarded = true.",
    "exit": "The end of the journey.",
}


def _journey(pk: int) -> Journey:
    journey = selectors.journey_get(pk=pk)
    if journey is None:
        raise Http404("No such journey.")
    return journey


# Definition fields that the panels ask for under another name.
_PANEL_FIELDS = {"seconds": "wait_amount", "timeout_seconds": "timeout_amount", "within_seconds": "within_amount"}
_BRANCH_FIELD = re.compile(r"^branches\[(\d+)\]\.(percent|next)$")
_OPTION_FIELD = re.compile(r"^(?:buttons\[(\d+)\]|list\.sections\[(\d+)\](?:\.rows\[(\d+)\])?)\.(\w+)$")


def _form_field(problem: Problem, form: django_forms.Form) -> str:
    """The form field a problem is about: `trigger.event` → trigger_event, `condition.node` → message_node, …"""
    match = _BRANCH_FIELD.match(problem.field)
    if match:
        return f"branch_{match.group(1)}_{match.group(2)}"
    match = _OPTION_FIELD.match(problem.field)
    if match:
        button, section, row, part = match.groups()
        if button is not None:
            return f"button_{button}_{part}"
        return f"row_{section}_{row}_{part}" if row is not None else f"section_{section}_{part}"
    if problem.field == "list.button":
        return "list_button"
    if problem.field.startswith("trigger."):
        return problem.field.replace(".", "_")
    last = problem.field.split(".")[-1]
    last = "message_node" if problem.field == "condition.node" else last
    return _PANEL_FIELDS.get(last, last)


def _problems_to_form(form: django_forms.Form, exc: services.JourneyInvalid, node_id: str = "") -> None:
    for problem in exc.problems:
        field = _form_field(problem, form)
        if problem.node == node_id and field in form.fields:
            form.add_error(field, problem.message)
        else:
            form.add_error(None, str(problem) if problem.node != node_id else problem.message)


def _refused(problems: list[Problem]) -> JsonResponse:
    return JsonResponse({"errors": [p.message if not p.node else str(p) for p in problems]}, status=400)


def _body(request: HttpRequest) -> dict[str, Any]:
    """The JSON object posted by the canvas; bad JSON raises JourneyInvalid, answered as a 400."""
    try:
        body = json_loads(request.body or b"{}")
    except ValueError as error:
        raise services.JourneyInvalid([Problem("", "body", f"Send a JSON object ({error}).")]) from None
    if not isinstance(body, dict):
        raise services.JourneyInvalid([Problem("", "body", "Send a JSON object.")])
    return body


def _text(body: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value in (None, "") and not required:
        return None
    if not isinstance(value, str) or not value:
        raise services.JourneyInvalid([Problem("", name, f"Give {name} as text.")])
    return value


def trigger_words(trigger: Any) -> str:
    if not isinstance(trigger, dict) or not trigger.get("type"):
        return "No trigger chosen yet"
    kind = trigger["type"]
    detail = trigger.get("event") or trigger.get("keyword") or trigger.get("payload") or trigger.get("segment") or ""
    label = TRIGGER_LABELS.get(kind, str(kind))
    return f"{label}: {detail}" if detail else label


@marketer_required
def journey_list(request: HttpRequest) -> HttpResponse:
    return render(request, "journeys/journey_list.html", {"journeys": selectors.journey_list()})


@marketer_required
def journey_create(request: HttpRequest) -> HttpResponse:
    form = JourneySettingsForm(
        request.POST or None, initial={"reentry": "never", "cap_days": 1, "trigger_type": "event"}
    )
    if request.method == "POST" and form.is_valid():
        try:
            journey = services.journey_create(data=form.journey_data())
        except services.JourneyInvalid as exc:
            _problems_to_form(form, exc)
        else:
            messages.success(request, "Journey created: add its first step on the canvas.")
            return redirect("journey-detail", pk=journey.pk)
    return render(request, "journeys/journey_form.html", {"form": form, "title": "New journey"})


@marketer_required
def journey_settings(request: HttpRequest, pk: int) -> HttpResponse:
    journey = _journey(pk)
    form = JourneySettingsForm(request.POST or None, journey=journey)
    if request.method == "POST" and form.is_valid():
        try:
            services.journey_update(journey=journey, data=form.journey_data())
        except services.JourneyInvalid as exc:
            _problems_to_form(form, exc)
        else:
            messages.success(request, "Settings saved.")
            return redirect("journey-detail", pk=journey.pk)
    return render(
        request, "journeys/journey_form.html", {"form": form, "title": f"{journey.name}: settings", "journey": journey}
    )


@marketer_required
def journey_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The canvas; journey_canvas.js draws it from `canvas_state`."""
    journey = _journey(pk)
    context = {
        "journey": journey,
        "trigger": trigger_words(journey.trigger),
        "stats": selectors.journey_stats(journey=journey),
        "template_warnings": selectors.journey_template_warnings(journey=journey),
        "test_profiles": contact_test_profiles(),
        "node_types": [(t, NODE_LABELS.get(t, t), NODE_HINTS.get(t, "")) for t in NODE_TYPES],
    }
    return render(request, "journeys/journey_detail.html", context)


def _state(journey: Journey, enrollment_id: int | None = None) -> dict[str, Any]:
    stats = selectors.journey_stats(journey=journey)
    moves = selectors.journey_edge_counts(journey=journey)
    problems = services.journey_problems(journey=journey, complete=True)
    nodes = [n for n in journey.nodes if isinstance(n, dict) and isinstance(n.get("id"), str)]
    ids = {n["id"] for n in nodes}
    # Every template the steps name, read once: names for the cards, quick replies for the waits' options.
    template_ids = [n[f] for n in nodes for f in ("template", "fallback_template") if isinstance(n.get(f), int)]
    templates = Template.objects.in_bulk(template_ids)
    names = {pk: template.name for pk, template in templates.items()}
    by_node: dict[str, list[str]] = {}
    general: list[str] = []
    for problem in problems:
        if problem.node in ids:
            by_node.setdefault(problem.node, []).append(problem.message)
        elif problem.field == "entry_node" and not nodes:
            general.append("Add the first step of the journey.")
        else:
            general.append(problem.message if not problem.node else str(problem))
    by_id = {n["id"]: n for n in nodes}
    titles = {
        n["id"]: {k.casefold(): t for k, t in awaited_choices(by_id.get(str(n.get("message_node"))), templates)}
        for n in nodes
        if n.get("type") == "wait_for_reply"
    }

    def slot_label(node: dict[str, Any], slot: Slot) -> str:
        # A reply option reads as the button the customer taps, not its id.
        if node.get("type") == "wait_for_reply" and slot.field.startswith("branches["):
            return f"“{titles[node['id']].get(slot.label.casefold(), slot.label)}”"
        return slot.label

    def slot_count(node: dict[str, Any], slot: Slot) -> int:
        """How many went along a path: a wait's replies by the option they took, others by their next step."""
        if not slot.target:
            return 0
        if node.get("type") == "wait_for_reply":
            taken = stats["replies"].get(node["id"], {})
            match = BRANCH_SLOT.match(slot.field)
            if match:
                branch = (node.get("branches") or [])[int(match.group(1))]
                return int(taken.get(str(branch.get("reply_id")), 0))
            return int(taken.get("timeout" if slot.field == "timeout_next" else "", 0))
        return int(moves.get(node["id"], {}).get(slot.target, 0))

    version = journey.current_version
    return {
        "journey": {
            "id": journey.pk,
            "name": journey.name,
            "status": journey.status,
            "version": version.number if version else None,
            "entry_node": journey.entry_node,
            "trigger": trigger_words(journey.trigger),
            "editable": journey.status != JourneyStatus.STOPPED,
            "totals": stats["totals"],
        },
        "nodes": [
            {
                "id": node["id"],
                "type": node.get("type"),
                "label": NODE_LABELS.get(str(node.get("type")), str(node.get("type"))),
                "summary": node_summary(node, names),
                "entry": node["id"] == journey.entry_node,
                "position": (journey.layout or {}).get(node["id"]),
                "problems": by_node.get(node["id"], []),
                "stats": stats["nodes"].get(node["id"], dict.fromkeys(selectors.STAT_KEYS, 0)),
                "slots": [
                    {
                        "field": slot.field,
                        "label": slot_label(node, slot),
                        "target": slot.target if slot.target in ids else "",
                        "count": slot_count(node, slot),
                    }
                    for slot in node_slots(node)
                ],
            }
            for node in nodes
        ],
        "problems": general,
        "ready": not problems,
        "path": selectors.enrollment_path(journey=journey, enrollment_id=enrollment_id) if enrollment_id else None,
    }


@marketer_required
@require_GET
def canvas_state(request: HttpRequest, pk: int) -> JsonResponse:
    """Nodes with their slots, words, problems and counts, and the path a test enrollment took (`?enrollment=`)."""
    journey = _journey(pk)
    raw = request.GET.get("enrollment", "")
    return JsonResponse(_state(journey, int(raw) if raw.isdigit() else None))


def _canvas_action(act: Callable[[HttpRequest, Journey, dict[str, Any]], Any]) -> Callable[..., JsonResponse]:
    """A JSON POST that changes the journey: the new state, or 400 with the problems in words."""

    @marketer_required
    @require_POST
    def view(request: HttpRequest, pk: int) -> JsonResponse:
        journey = _journey(pk)
        try:
            extra = act(request, journey, _body(request)) or {}
        except services.JourneyInvalid as exc:
            return _refused(exc.problems)
        journey.refresh_from_db()
        return JsonResponse({**_state(journey, extra.get("enrollment")), **extra})

    view.__name__ = act.__name__
    return view


@_canvas_action
def canvas_edge(request: HttpRequest, journey: Journey, body: dict[str, Any]) -> None:
    """Connect (or, with an empty target, cut) one outgoing path of a node."""
    node, field = _text(body, "node"), _text(body, "field")
    assert node is not None and field is not None
    services.journey_edge_set(journey=journey, node_id=node, field=field, target=_text(body, "target", required=False))


@_canvas_action
def canvas_entry(request: HttpRequest, journey: Journey, body: dict[str, Any]) -> None:
    node = _text(body, "node")
    assert node is not None
    services.journey_entry_set(journey=journey, node_id=node)


@_canvas_action
def canvas_delete(request: HttpRequest, journey: Journey, body: dict[str, Any]) -> None:
    """Delete a step; what led to it leads on to its one next step, else is left open for the checks to show."""
    node = _text(body, "node")
    assert node is not None
    if not any(isinstance(n, dict) and n.get("id") == node for n in journey.nodes):
        raise services.JourneyInvalid([Problem(node, "id", "There is no such step in this journey.")])
    services.journey_node_delete(journey=journey, node_id=node, mend=True)


@_canvas_action
def canvas_layout(request: HttpRequest, journey: Journey, body: dict[str, Any]) -> None:
    """Keep dragged positions (`{"positions": {id: [x, y]}}`), or lay out again (`{"reset": true}`)."""
    if body.get("reset") is True:
        services.journey_layout_save(journey=journey, positions=None)
        return
    positions = body.get("positions")
    if not isinstance(positions, dict):
        raise services.JourneyInvalid([Problem("", "positions", "Give positions as {node id: [x, y]}.")])
    services.journey_layout_save(journey=journey, positions=positions)


@_canvas_action
def canvas_test(request: HttpRequest, journey: Journey, body: dict[str, Any]) -> dict[str, Any]:
    """Run the live journey for one test profile; the answer carries the path it took so far."""
    raw = str(body.get("contact") or "")
    contact = contact_test_profiles().filter(pk=int(raw)).first() if raw.isdigit() else None
    if contact is None:
        raise services.JourneyInvalid([Problem("", "contact", "Choose one of the test profiles.")])
    enrollment = services.journey_test_event(journey=journey, contact=contact)
    return {"enrollment": enrollment.pk}


def _preview(form: NodeForm) -> dict[str, Any] | None:
    """What the customer will see, drawn under the field that decides it (journey_canvas.js keeps an interactive
    message's preview up to date as it is typed)."""
    if form.kind == "send_interactive":
        return {"after": "choice_kind", "live": True}
    template = form.template
    if template is None:
        return None
    header = template.header_text if template.header_type == "text" else ""
    if template.header_type not in ("none", "text", ""):
        header = f"[{template.get_header_type_display()}]"
    return {
        "after": "template",
        "header": header,
        "body": template.body,
        "footer": template.footer,
        "buttons": [str(b.get("text") or "") for b in template.buttons or [] if isinstance(b, dict)],
    }


def _panel_save(
    request: HttpRequest, journey: Journey, kind: str, node: dict[str, Any] | None, *, after: str, field: str
) -> tuple[NodeForm, str]:
    """Save the posted panel (a new step on slot `after`/`field`, or the step `node`): the form, and the id saved
    ("" when refused: the form carries the errors)."""
    old_id = node["id"] if node else None
    form = NodeForm(request.POST, kind=kind, journey=journey, node=node)
    if not form.is_valid():
        return form, ""
    new = form.node()
    try:
        if node is None and after:
            services.journey_node_insert(journey=journey, node=new, after=after, field=field)
        else:
            services.journey_node_save(journey=journey, node=new, replacing=old_id)
    except services.JourneyInvalid as exc:
        _problems_to_form(form, exc, node_id=new["id"])
        return form, ""
    if old_id and old_id != new["id"] and old_id in (journey.layout or {}):
        # A renamed step stays where it was dragged to.
        services.journey_layout_save(journey=journey, positions={new["id"]: journey.layout[old_id]})
    return form, str(new["id"])


@marketer_required
def node_panel(request: HttpRequest, pk: int, node_id: str | None = None) -> HttpResponse:
    """The side panel of a step: GET draws it, POST saves it (a new step on the slot `after`/`field` when given).

    Answers the panel again: with the errors (400), or saved (200, header X-Journey-Saved: the step's id). A POST
    with `_rerender` only draws it again from the values so far (a template or a condition kind was changed)."""
    journey = _journey(pk)
    source = request.POST if request.method == "POST" else request.GET
    node = None
    if node_id is not None:
        node = next((n for n in journey.nodes if isinstance(n, dict) and n.get("id") == node_id), None)
        if node is None:
            raise Http404("No such step.")
        kind = str(node.get("type"))
    else:
        kind = source.get("type", "")
    if kind not in NODE_TYPES or not hasattr(NodeForm, f"_fields_{kind}"):
        return HttpResponse("Choose a kind of step.", status=400, content_type="text/plain")
    after, field = source.get("after", ""), source.get("field", "")
    saved = ""
    if request.method == "POST" and source.get("_rerender"):
        form = NodeForm(initial=source.dict(), kind=kind, journey=journey, node=node)
    elif request.method == "POST":
        form, saved = _panel_save(request, journey, kind, node, after=after, field=field)
        if saved:
            journey.refresh_from_db()
            node = next(n for n in journey.nodes if isinstance(n, dict) and n.get("id") == saved)
            form = NodeForm(kind=kind, journey=journey, node=node)
    elif node is None:
        initial = {"id": node_id_free(journey, kind), "wait_amount": 1, "timeout_amount": 1, "within_amount": 1}
        if kind == "split":
            initial.update(branch_0_percent=50, branch_1_percent=50)
        form = NodeForm(initial=initial, kind=kind, journey=journey)
    else:
        form = NodeForm(kind=kind, journey=journey, node=node)
    status = 400 if request.method == "POST" and not source.get("_rerender") and not saved else 200
    # A step not saved yet has no problems of its own: the journey's checks are not run for it.
    problems = (
        [p.message for p in services.journey_problems(journey=journey, complete=True) if p.node == node["id"]]
        if node
        else []
    )
    node_key = node["id"] if node else None
    context = {
        "journey": journey,
        "form": form,
        "kind": kind,
        "kind_label": NODE_LABELS.get(kind, kind),
        "node": node,
        "problems": problems,
        "preview": _preview(form),
        "action": reverse("journey-node-panel-edit", args=[journey.pk, node_key])
        if node_key
        else reverse("journey-node-panel", args=[journey.pk]),
        "after": after if node is None else "",
        "field": field if node is None else "",
        "saved": bool(saved),
    }
    response = render(request, "journeys/_panel.html", context, status=status)
    if saved:
        response["X-Journey-Saved"] = saved
    return response


def _action(service: Callable[..., Journey], done: str) -> Callable[[HttpRequest, int], HttpResponse]:
    @marketer_required
    @require_POST
    def view(request: HttpRequest, pk: int) -> HttpResponse:
        journey = _journey(pk)
        try:
            service(journey=journey)
        except services.JourneyInvalid as exc:
            messages.error(request, "Not done: " + "; ".join(str(p) for p in exc.problems))
        else:
            messages.success(request, done)
        return redirect("journey-detail", pk=journey.pk)

    return view


journey_publish = _action(services.journey_publish, "Published: the journey is live.")
journey_pause = _action(services.journey_pause, "Paused.")
journey_resume = _action(services.journey_resume, "Resumed.")
journey_stop = _action(services.journey_stop, "Stopped: everyone inside has exited.")
