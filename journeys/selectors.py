"""Journey reads: lists, per-node and per-edge counts, the path one enrollment took."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db import connection
from django.db.models import Count, QuerySet

from journeys.graph import STAT_KEYS
from journeys.models import (
    RESUME_OUTCOMES,
    Enrollment,
    EnrollmentState,
    ExitReason,
    Journey,
    JourneyStep,
    StepOutcome,
)
from providers.models import MessageStatus
from templates_app.models import Template
from templates_app.rules import template_send_refusal

_ARRIVALS = [o for o in StepOutcome.values if o not in (StepOutcome.REPLIED, StepOutcome.TIMED_OUT)]


def journey_list() -> QuerySet[Journey]:
    return Journey.objects.select_related("current_version").all()


def journey_get(*, pk: int) -> Journey | None:
    return Journey.objects.select_related("current_version").filter(pk=pk).first()


def journey_template_warnings(*, journey: Journey) -> list[str]:
    """For a published journey: the templates its running version sends that WhatsApp has stopped (their sends are
    skipped, with the reason in each contact's steps), one line each."""
    if journey.current_version is None:
        return []
    nodes = [n for n in journey.current_version.nodes if isinstance(n, dict)]
    used: dict[int, list[str]] = defaultdict(list)
    for node in nodes:
        for key in ("template", "fallback_template"):
            if isinstance(node.get(key), int):
                used[node[key]].append(str(node.get("id", "?")))
    warnings = []
    for template in Template.objects.filter(pk__in=used).order_by("name"):
        if (refusal := template_send_refusal(template)) is not None:
            warnings.append(f"{refusal} Node(s) {', '.join(used[template.pk])} skip their send until it is approved.")
    return warnings


def journey_stats(*, journey: Journey) -> dict[str, Any]:
    """Per-node counts across all versions, plus journey totals; three grouped queries."""
    nodes: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(STAT_KEYS, 0))
    steps = JourneyStep.objects.filter(journey=journey)
    for row in steps.filter(outcome__in=_ARRIVALS).values("node").annotate(n=Count("pk")):
        nodes[row["node"]]["entered"] += row["n"]
    replies: dict[str, dict[str, int]] = defaultdict(dict)
    for row in steps.filter(outcome__in=RESUME_OUTCOMES).values("node", "outcome", "detail").annotate(n=Count("pk")):
        if row["outcome"] == StepOutcome.REPLIED:
            nodes[row["node"]]["replied"] += row["n"]
        # Each reply option of a wait (its reply id), "" for any other reply, "timeout" when none came in time.
        option = row["detail"] if row["outcome"] == StepOutcome.REPLIED else "timeout"
        replies[row["node"]][option] = replies[row["node"]].get(option, 0) + row["n"]
    for row in steps.filter(message__isnull=False).values("node", "message__status").annotate(n=Count("pk")):
        counts, status = nodes[row["node"]], row["message__status"]
        counts["sent"] += row["n"]
        if status in (MessageStatus.DELIVERED, MessageStatus.READ):
            counts["delivered"] += row["n"]
        if status == MessageStatus.READ:
            counts["read"] += row["n"]
    enrollments = Enrollment.objects.filter(journey=journey)
    for row in enrollments.values("node", "state", "exit_reason").annotate(n=Count("pk")):
        counts = nodes[row["node"]]
        if row["state"] == EnrollmentState.WAITING:
            counts["waiting"] += row["n"]
        elif row["exit_reason"] == ExitReason.CONVERTED:
            counts["converted"] += row["n"]
        elif row["state"] in (EnrollmentState.EXITED, EnrollmentState.COMPLETED):
            counts["exited"] += row["n"]
    totals = {
        "entered": enrollments.count(),
        "active": enrollments.filter(state__in=[EnrollmentState.ACTIVE, EnrollmentState.WAITING]).count(),
        "completed": enrollments.filter(state=EnrollmentState.COMPLETED).count(),
        "converted": enrollments.filter(exit_reason=ExitReason.CONVERTED).count(),
        "exited": enrollments.filter(state=EnrollmentState.EXITED).count(),
    }
    return {
        "journey": journey.pk,
        "totals": totals,
        "nodes": {k: dict(v) for k, v in nodes.items()},
        "replies": dict(replies),
    }


# Consecutive steps of one enrollment are the edges it went along; a wait's resume step repeats its own node.
_EDGE_COUNTS_SQL = """
SELECT node, following, count(*) FROM (
    SELECT node, lead(node) OVER (PARTITION BY enrollment_id ORDER BY visit) AS following
    FROM journeys_journeystep WHERE journey_id = %s
) AS moves WHERE following IS NOT NULL AND following <> node GROUP BY node, following
"""


def journey_edge_counts(*, journey: Journey) -> dict[str, dict[str, int]]:
    """{from node: {to node: how many went along that edge}}, across all versions."""
    out: dict[str, dict[str, int]] = defaultdict(dict)
    with connection.cursor() as cursor:
        cursor.execute(_EDGE_COUNTS_SQL, [journey.pk])
        for node, following, count in cursor.fetchall():
            out[node][following] = count
    return dict(out)


def enrollment_path(*, journey: Journey, enrollment_id: int) -> dict[str, Any] | None:
    """The nodes one enrollment of this journey went through, in order, and where it is now."""
    enrollment = Enrollment.objects.filter(pk=enrollment_id, journey=journey).select_related("contact").first()
    if enrollment is None:
        return None
    nodes: list[str] = []
    for node in JourneyStep.objects.filter(enrollment=enrollment).order_by("visit").values_list("node", flat=True):
        if not nodes or nodes[-1] != node:
            nodes.append(node)
    return {
        "enrollment": enrollment.pk,
        "contact": enrollment.contact.name or enrollment.contact.phone,
        "nodes": nodes,
        "state": enrollment.state,
        "at": enrollment.node,
    }
