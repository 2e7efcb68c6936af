"""The journey definition (DESIGN "journey"): trigger and node shapes, and the checks run before publishing.

Each problem names the node and the field, so the API, the builder and publish all show the same message.
Shape checks (`definition_problems(..., complete=False)`) apply to every save; a draft may still have loose ends.
Completeness checks (`complete=True`) run on publish: unknown next nodes, missing branches, unreachable nodes,
dangling waits and unknown or unapproved templates.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from providers.interactive import interactive_parse

NODE_TYPES = (
    "send_template",
    "send_text",
    "send_interactive",
    "wait",
    "wait_for_reply",
    "branch",
    "split",
    "update_property",
    "exit",
)
TRIGGER_TYPES = ("event", "segment_entry", "inbound_keyword", "quick_reply")
NODE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
PROPERTY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
LOCAL_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
MESSAGE_STATUSES = ("delivered", "read", "failed")
PROPERTY_OPS = ("eq", "neq", "gt", "gte", "lt", "lte", "contains", "exists", "not_exists")
MAX_WAIT_SECONDS = 366 * 24 * 3600

# Which fields of each node type point at other nodes (edges), in drawing order.
EDGE_FIELDS: dict[str, tuple[str, ...]] = {
    "send_template": ("next",),
    "send_text": ("next",),
    "send_interactive": ("next",),
    "wait": ("next",),
    "wait_for_reply": ("next", "timeout_next"),
    "branch": ("yes", "no"),
    "split": (),
    "update_property": ("next",),
    "exit": (),
}
SENDING_TYPES = ("send_template", "send_text", "send_interactive")
# Fields holding a list of {..., "next"} objects: a split's percentages, a wait for a reply's reply options.
BRANCH_LISTS = {"split": "percent", "wait_for_reply": "reply_id"}


@dataclass(frozen=True, slots=True)
class Problem:
    node: str  # "" for the journey itself (trigger, entry node)
    field: str
    message: str

    def __str__(self) -> str:
        where = f"node {self.node!r}, " if self.node else ""
        return f"{where}{self.field}: {self.message}"


def trigger_problems(trigger: Any, *, segment_exists: Callable[[int], bool] | None = None) -> list[Problem]:
    if not isinstance(trigger, Mapping) or not trigger:
        return [Problem("", "trigger", f"Choose a trigger: one of {', '.join(TRIGGER_TYPES)}.")]
    kind = trigger.get("type")
    if kind not in TRIGGER_TYPES:
        return [Problem("", "trigger.type", f"Unknown trigger type {kind!r}; use one of {', '.join(TRIGGER_TYPES)}.")]
    problems: list[Problem] = []
    if kind == "event":
        if not isinstance(trigger.get("event"), str) or not trigger["event"].strip():
            problems.append(Problem("", "trigger.event", "Name the event that starts the journey, e.g. signup."))
        filters = trigger.get("filters", {})
        if filters is not None and not isinstance(filters, Mapping):
            problems.append(
                Problem("", "trigger.filters", 'Filters are an object of property → value, e.g. {"plan": "gold"}.')
            )
    elif kind == "segment_entry":
        segment = trigger.get("segment")
        if isinstance(segment, bool) or not isinstance(segment, int):
            problems.append(Problem("", "trigger.segment", "Give the id of the segment whose new members enter."))
        elif segment_exists is not None and not segment_exists(segment):
            problems.append(Problem("", "trigger.segment", f"There is no segment {segment}."))
    elif kind == "inbound_keyword":
        if not isinstance(trigger.get("keyword"), str) or not trigger["keyword"].strip():
            problems.append(Problem("", "trigger.keyword", "Give the keyword customers send, e.g. JOIN."))
    elif not isinstance(trigger.get("payload"), str) or not trigger["payload"].strip():
        problems.append(Problem("", "trigger.payload", "Give the quick-reply button payload, e.g. YES."))
    return problems


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _check_condition(node_id: str, condition: Any, ids: set[str], sending: set[str]) -> list[Problem]:
    field = "condition"
    if not isinstance(condition, Mapping):
        return [Problem(node_id, field, "Choose a condition: message status, contact property or event.")]
    kind = condition.get("type")
    if kind == "message":
        problems = []
        if condition.get("status") not in MESSAGE_STATUSES:
            problems.append(Problem(node_id, f"{field}.status", f"Use one of {', '.join(MESSAGE_STATUSES)}."))
        target = condition.get("node")
        if not isinstance(target, str) or not target:
            problems.append(Problem(node_id, f"{field}.node", "Choose the sending step whose message is checked."))
        elif ids and target not in sending:
            problems.append(Problem(node_id, f"{field}.node", f"{target!r} is not a sending step of this journey."))
        if not _positive_int(condition.get("within_seconds")):
            problems.append(Problem(node_id, f"{field}.within_seconds", "Give how long to wait for it, in seconds."))
        return problems
    if kind == "property":
        problems = []
        if not isinstance(condition.get("property"), str) or not condition["property"]:
            problems.append(Problem(node_id, f"{field}.property", "Name the contact property to test."))
        if condition.get("op", "eq") not in PROPERTY_OPS:
            problems.append(Problem(node_id, f"{field}.op", f"Use one of {', '.join(PROPERTY_OPS)}."))
        return problems
    if kind == "event":
        if not isinstance(condition.get("event"), str) or not condition["event"].strip():
            return [Problem(node_id, f"{field}.event", "Name the event that must have happened since entry.")]
        return []
    return [Problem(node_id, f"{field}.type", "Use message, property or event.")]


def _node_shape(node: Mapping[str, Any], ids: set[str], sending: set[str]) -> list[Problem]:
    node_id = str(node["id"])
    kind = node.get("type")
    out: list[Problem] = []

    def need(ok: bool, field: str, message: str) -> None:
        if not ok:
            out.append(Problem(node_id, field, message))

    if kind == "send_template":
        need(_positive_int(node.get("template")), "template", "Choose an approved template.")
        need(isinstance(node.get("variables", {}), Mapping), "variables", "Variables are an object keyed by number.")
    elif kind in ("send_text", "send_interactive"):
        if kind == "send_text":
            need(isinstance(node.get("text"), str) and bool(node.get("text", "").strip()), "text", "Write the text.")
        else:
            out.extend(Problem(node_id, field, message) for field, message in interactive_parse(node)[1])
        fallback = node.get("fallback_template")
        need(fallback in (None, "") or _positive_int(fallback), "fallback_template", "Choose a template or none.")
    elif kind == "wait":
        given = [k for k in ("seconds", "until_local_time", "until_property") if node.get(k) not in (None, "")]
        if len(given) != 1:
            out.append(Problem(node_id, "seconds", "Give exactly one of seconds, until_local_time or until_property."))
        elif given[0] == "seconds":
            seconds = node["seconds"]
            need(_positive_int(seconds) and seconds <= MAX_WAIT_SECONDS, "seconds", "Give 1 s to 366 days.")
        elif given[0] == "until_local_time":
            need(
                isinstance(node["until_local_time"], str) and bool(LOCAL_TIME.match(node["until_local_time"])),
                "until_local_time",
                "Give a time of day as HH:MM, e.g. 09:30.",
            )
        else:
            need(
                isinstance(node["until_property"], str) and bool(node["until_property"]),
                "until_property",
                "Name the contact property holding the date.",
            )
    elif kind == "wait_for_reply":
        target = node.get("message_node")
        if not isinstance(target, str) or not target:
            out.append(Problem(node_id, "message_node", "Choose the sending step whose message is answered."))
        elif ids and target not in sending:
            out.append(Problem(node_id, "message_node", f"{target!r} is not a sending step of this journey."))
        need(node.get("payload") is None or isinstance(node.get("payload"), str), "payload", "Payload is text.")
        out.extend(_reply_branch_problems(node_id, node.get("branches")))
        seconds = node.get("timeout_seconds")
        need(
            _positive_int(seconds) and int(seconds or 0) <= MAX_WAIT_SECONDS, "timeout_seconds", "Give 1 s to 366 days."
        )
    elif kind == "branch":
        out.extend(_check_condition(node_id, node.get("condition"), ids, sending))
    elif kind == "split":
        branches = node.get("branches")
        if not isinstance(branches, list) or len(branches) < 2:
            out.append(Problem(node_id, "branches", "A split needs at least two branches."))
        else:
            total = 0
            for n, branch in enumerate(branches):
                if not isinstance(branch, Mapping) or not _positive_int(branch.get("percent")):
                    out.append(Problem(node_id, f"branches[{n}].percent", "Give a whole percentage above 0."))
                    continue
                total += int(branch["percent"])
            if total != 100 and not out:
                out.append(Problem(node_id, "branches", f"The percentages add up to {total}, not 100."))
    elif kind == "update_property":
        prop = node.get("property")
        need(
            isinstance(prop, str) and bool(PROPERTY_NAME.match(prop)),
            "property",
            "Name the property: letters, digits and underscores.",
        )
        need("value" in node, "value", "Give the value to store.")
    return out


def _reply_branch_problems(node_id: str, branches: Any) -> list[Problem]:
    if branches in (None, []):
        return []
    if not isinstance(branches, list):
        return [Problem(node_id, "branches", "Reply options are a list of {reply_id, next}.")]
    out: list[Problem] = []
    seen: set[str] = set()
    for n, branch in enumerate(branches):
        reply_id = branch.get("reply_id") if isinstance(branch, Mapping) else None
        if not isinstance(reply_id, str) or not reply_id.strip():
            out.append(Problem(node_id, f"branches[{n}].reply_id", "Choose the button or list row this path is for."))
        elif reply_id.strip().casefold() in seen:
            out.append(Problem(node_id, f"branches[{n}].reply_id", f"Two paths are for the reply {reply_id!r}."))
        else:
            seen.add(reply_id.strip().casefold())
    return out


def reply_choices(node: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """(reply id, title) a customer can tap on the message `node` sends: interactive buttons or list rows; a template's
    quick replies come from the template itself (the caller adds them)."""
    if not node or node.get("type") != "send_interactive":
        return []
    content, _ = interactive_parse(node)
    return content.choices() if content is not None else []


def definition_problems(
    *,
    entry_node: str,
    nodes: Any,
    complete: bool,
    template_ok: Callable[[int], str | None] | None = None,
) -> list[Problem]:
    """Everything wrong with a definition; `template_ok(id)` returns None or why that template cannot be used."""
    if not isinstance(nodes, list):
        return [Problem("", "nodes", "Nodes are a list of objects, each with an id and a type.")]
    problems: list[Problem] = []
    by_id: dict[str, Mapping[str, Any]] = {}
    for n, node in enumerate(nodes):
        if not isinstance(node, Mapping):
            problems.append(Problem("", f"nodes[{n}]", "Each node is an object with an id and a type."))
            continue
        node_id = node.get("id")
        if not isinstance(node_id, str) or not NODE_ID.match(node_id):
            problems.append(Problem("", f"nodes[{n}].id", "Give an id of letters, digits, - and _ (up to 64)."))
            continue
        if node_id in by_id:
            problems.append(Problem(node_id, "id", "Two steps have this id."))
            continue
        if node.get("type") not in NODE_TYPES:
            problems.append(
                Problem(node_id, "type", f"Unknown type {node.get('type')!r}; use one of {', '.join(NODE_TYPES)}.")
            )
            continue
        by_id[node_id] = node
    ids = set(by_id)
    sending = {i for i, node in by_id.items() if node["type"] in SENDING_TYPES}
    for node in by_id.values():
        problems.extend(_node_shape(node, ids, sending))
    for node_id, node in by_id.items():
        for label, target in _all_targets(node):
            if target and target not in ids:
                problems.append(Problem(node_id, label, f"Points at {target!r}, which is not a step of this journey."))
    if entry_node and entry_node not in ids:
        problems.append(Problem("", "entry_node", f"{entry_node!r} is not a step of this journey."))
    if not complete:
        return problems
    if not entry_node:
        problems.append(Problem("", "entry_node", "Choose the step contacts start at."))
    for node_id, node in by_id.items():
        kind = node["type"]
        for field in EDGE_FIELDS[kind]:
            if not node.get(field):
                message = (
                    "Choose where the timeout leads."
                    if field == "timeout_next"
                    else f"Choose where “{field}” leads."
                    if field in ("yes", "no")
                    else "Choose the step that follows."
                )
                if kind == "wait_for_reply":
                    message = "A wait for a reply needs both a reply path and a timeout path (dangling wait)."
                elif kind == "wait":
                    message = "A wait needs the step that follows it (dangling wait)."
                problems.append(Problem(node_id, field, message))
        # (A split's branch without `next` is a hold-out group; a reply option always leads somewhere.)
        if kind == "wait_for_reply" and isinstance(node.get("branches"), list):
            for n, branch in enumerate(node["branches"]):
                if isinstance(branch, Mapping) and not branch.get("next"):
                    problems.append(Problem(node_id, f"branches[{n}].next", "Choose where this path leads."))
            awaited = by_id.get(str(node.get("message_node")))
            choices = {reply_id.casefold() for reply_id, _ in reply_choices(awaited)}
            for n, branch in enumerate(node["branches"]):
                reply_id = branch.get("reply_id") if isinstance(branch, Mapping) else None
                if awaited and awaited["type"] == "send_interactive" and isinstance(reply_id, str) and reply_id:
                    if reply_id.strip().casefold() not in choices:
                        problems.append(
                            Problem(
                                node_id,
                                f"branches[{n}].reply_id",
                                f"{reply_id!r} is not a button or row of {awaited['id']!r}.",
                            )
                        )
        if template_ok is not None:
            for field in ("template", "fallback_template"):
                template_id = node.get(field)
                if isinstance(template_id, int) and _positive_int(template_id):
                    why = template_ok(template_id)
                    if why:
                        problems.append(Problem(node_id, field, why))
    if entry_node in ids:
        reachable = _reachable(entry_node, by_id)
        for node_id in by_id:
            if node_id not in reachable:
                problems.append(Problem(node_id, "id", "Unreachable: no path from the start leads here."))
    return problems


def _all_targets(node: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    kind = node["type"]
    for field in EDGE_FIELDS[kind]:
        value = node.get(field)
        if value not in (None, ""):
            yield field, str(value)
    if kind in BRANCH_LISTS and isinstance(node.get("branches"), list):
        for n, branch in enumerate(node["branches"]):
            if isinstance(branch, Mapping) and branch.get("next") not in (None, ""):
                yield f"branches[{n}].next", str(branch["next"])


def _reachable(start: str, by_id: Mapping[str, Mapping[str, Any]]) -> set[str]:
    seen = {start}
    todo = [start]
    while todo:
        node = by_id.get(todo.pop())
        if node is None:
            continue
        for _, target in _all_targets(node):
            if target in by_id and target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def problems_by_field(problems: Iterable[Problem]) -> dict[str, list[str]]:
    """API shape: journey-level problems under their field (`trigger`, `entry_node`, …), node problems under `nodes`."""
    out: dict[str, list[str]] = {}
    for problem in problems:
        key = re.split(r"[.\[]", problem.field)[0] if not problem.node else "nodes"
        out.setdefault(key, []).append(str(problem) if key == "nodes" else problem.message)
    return out
