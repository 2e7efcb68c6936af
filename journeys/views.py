"""The journey builder: list, settings, nodes and edges by forms, the graph with per-node counts, status actions."""

from __future__ import annotations

from collections.abc import Callable

from django import forms as django_forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.roles import marketer_required
from journeys import selectors, services
from journeys.forms import NODE_LABELS, JourneySettingsForm, NodeForm, NodeTypeForm
from journeys.graph import journey_graph
from journeys.models import Journey


def _journey(pk: int) -> Journey:
    journey = selectors.journey_get(pk=pk)
    if journey is None:
        raise Http404("No such journey.")
    return journey


def _problems_to_form(form: django_forms.Form, exc: services.JourneyInvalid, node_id: str = "") -> None:
    for problem in exc.problems:
        field = problem.field.split(".")[0].removeprefix("trigger_")
        if problem.node == node_id and field in form.fields:
            form.add_error(field, problem.message)
        elif problem.field.startswith("trigger") and "trigger_type" in form.fields:
            form.add_error(None, str(problem))
        else:
            form.add_error(None, str(problem))


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
            messages.success(request, "Journey created: now add its nodes.")
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
    journey = _journey(pk)
    stats = selectors.journey_stats(journey=journey)
    graph = journey_graph(entry_node=journey.entry_node, nodes=journey.nodes, stats=stats["nodes"])
    context = {
        "journey": journey,
        "graph": graph,
        "stats": stats,
        "problems": services.journey_problems(journey=journey, complete=True),
        "template_warnings": selectors.journey_template_warnings(journey=journey),
        "type_form": NodeTypeForm(),
        "nodes": [n for n in journey.nodes if isinstance(n, dict)],
        "stat_keys": selectors.STAT_KEYS,
    }
    return render(request, "journeys/journey_detail.html", context)


@marketer_required
def journey_stats_fragment(request: HttpRequest, pk: int) -> HttpResponse:
    """Only the graph, for the page to refresh the counts."""
    journey = _journey(pk)
    stats = selectors.journey_stats(journey=journey)
    graph = journey_graph(entry_node=journey.entry_node, nodes=journey.nodes, stats=stats["nodes"])
    return render(request, "journeys/_graph.html", {"graph": graph, "journey": journey})


@marketer_required
def node_edit(request: HttpRequest, pk: int, node_id: str | None = None) -> HttpResponse:
    journey = _journey(pk)
    node = None
    if node_id is not None:
        node = next((n for n in journey.nodes if isinstance(n, dict) and n.get("id") == node_id), None)
        if node is None:
            raise Http404("No such node.")
        kind = str(node.get("type"))
    else:
        kind = request.GET.get("type") or request.POST.get("type") or ""
    if kind not in NODE_LABELS:
        messages.error(request, "Choose a node type.")
        return redirect("journey-detail", pk=journey.pk)
    form = NodeForm(request.POST or None, kind=kind, journey=journey, node=node)
    if request.method == "POST" and form.is_valid():
        new = form.node()
        try:
            services.journey_node_save(journey=journey, node=new, replacing=node_id)
        except services.JourneyInvalid as exc:
            _problems_to_form(form, exc, node_id=new["id"])
        else:
            messages.success(request, f"Node {new['id']} saved.")
            return redirect("journey-detail", pk=journey.pk)
    title = f"{'Edit' if node else 'Add'} node: {NODE_LABELS[kind]}"
    return render(request, "journeys/node_form.html", {"form": form, "journey": journey, "title": title, "kind": kind})


@marketer_required
@require_POST
def node_delete(request: HttpRequest, pk: int, node_id: str) -> HttpResponse:
    journey = _journey(pk)
    try:
        services.journey_node_delete(journey=journey, node_id=node_id)
    except services.JourneyInvalid as exc:
        messages.error(request, "; ".join(str(p) for p in exc.problems))
    else:
        messages.success(request, f"Node {node_id} deleted.")
    return redirect("journey-detail", pk=journey.pk)


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
