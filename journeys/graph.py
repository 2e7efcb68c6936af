"""The canvas's view of a definition: each node's outgoing slots (set or not), their labels in words, and reading or
setting a slot by its field path. Built on `EDGE_FIELDS` and the `branches` lists, so a node type or branch kind
added to the definition shows up as slots without a case of its own here."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from journeys.definition import EDGE_FIELDS, MESSAGE_STATUSES, PROPERTY_OPS

STAT_KEYS = ("entered", "waiting", "sent", "delivered", "read", "replied", "exited", "converted")
BRANCH_SLOT = re.compile(r"^branches\[(\d+)\]\.next$")

# How an edge reads on the canvas; a field not listed reads as its own name.
_FIELD_WORDS = {"yes": "Yes", "no": "No", "timeout_next": "No reply in time"}


@dataclass(frozen=True, slots=True)
class Slot:
    field: str  # "next", "yes", "branches[1].next", …
    label: str
    target: str  # "" while it leads nowhere


def _branch_label(node: Mapping[str, Any], branch: Mapping[str, Any]) -> str:
    if branch.get("percent") is not None:
        return f"{branch.get('percent')}%"
    for key in ("reply_id", "title", "id"):
        if branch.get(key):
            return str(branch[key])
    return "branch"


def _field_label(node: Mapping[str, Any], field: str) -> str:
    if node.get("type") == "wait_for_reply" and field == "next":
        return "Any other reply" if node.get("branches") else ("Replied " + str(node.get("payload") or "")).strip()
    return _FIELD_WORDS.get(field, "" if field == "next" else field)


def node_slots(node: Mapping[str, Any]) -> list[Slot]:
    """Every outgoing slot of a node, in drawing order: its branches first, then its edge fields."""
    slots: list[Slot] = []
    branches = node.get("branches")
    if isinstance(branches, list):
        for n, branch in enumerate(branches):
            if isinstance(branch, Mapping):
                slots.append(Slot(f"branches[{n}].next", _branch_label(node, branch), str(branch.get("next") or "")))
    for field in EDGE_FIELDS.get(str(node.get("type")), ()):
        slots.append(Slot(field, _field_label(node, field), str(node.get(field) or "")))
    return slots


def slot_target(node: Mapping[str, Any], field: str) -> str | None:
    """Where slot `field` leads ("" when nowhere), or None when the node has no such slot."""
    for slot in node_slots(node):
        if slot.field == field:
            return slot.target
    return None


def slot_set(node: dict[str, Any], field: str, target: str | None) -> dict[str, Any]:
    """A copy of `node` with slot `field` leading to `target` (None: nowhere)."""
    out = dict(node)
    match = BRANCH_SLOT.match(field)
    if match:
        index = int(match.group(1))
        out["branches"] = [
            {**branch, "next": target} if n == index else branch for n, branch in enumerate(node.get("branches") or [])
        ]
    else:
        out[field] = target
    return out


def first_slot_field(node: Mapping[str, Any]) -> str | None:
    """The slot a node inserted on an edge continues along."""
    slots = node_slots(node)
    return slots[0].field if slots else None


# --- the definition in words ------------------------------------------------------------------------------------

OP_WORDS = {
    "eq": "is",
    "neq": "is not",
    "gt": "is more than",
    "gte": "is at least",
    "lt": "is less than",
    "lte": "is at most",
    "contains": "contains",
    "exists": "is set",
    "not_exists": "is not set",
}
assert set(OP_WORDS) == set(PROPERTY_OPS), "every property test needs its words"
STATUS_WORDS = {"delivered": "delivered", "read": "read", "failed": "failed"}
assert set(STATUS_WORDS) == set(MESSAGE_STATUSES), "every message status tested needs its words"


UNITS = {"minutes": 60, "hours": 3600, "days": 86400, "seconds": 1}


def duration_split(seconds: Any) -> tuple[int | None, str]:
    """Seconds as (amount, unit) in the largest unit that divides them."""
    if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds <= 0:
        return None, "days"
    for unit in ("days", "hours", "minutes"):
        if seconds % UNITS[unit] == 0:
            return seconds // UNITS[unit], unit
    return seconds, "seconds"


def duration_words(seconds: Any) -> str:
    amount, unit = duration_split(seconds)
    if amount is None:
        return "?"
    return f"{amount} {unit.rstrip('s') if amount == 1 else unit}"


def condition_words(condition: Any) -> str:
    """A branch's condition as a sentence: "plan is gold", "did purchase", "message of welcome was read"."""
    if not isinstance(condition, Mapping):
        return "no condition yet"
    kind = condition.get("type")
    if kind == "property":
        op = str(condition.get("op") or "eq")
        words = f"{condition.get('property') or '?'} {OP_WORDS.get(op, op)}"
        return words if op in ("exists", "not_exists") else f"{words} {condition.get('value', '')}".strip()
    if kind == "event":
        return f"did {condition.get('event') or '?'} since entering"
    if kind == "message":
        status = STATUS_WORDS.get(str(condition.get("status")), "?")
        return (
            f"message of {condition.get('node') or '?'} was {status} "
            f"within {duration_words(condition.get('within_seconds'))}"
        )
    return "no condition yet"


def node_summary(node: Mapping[str, Any], template_names: Mapping[int, str]) -> str:
    """One line a marketer reads on the node's card."""
    kind = node.get("type")
    if kind == "send_template":
        template = node.get("template")
        name = template_names.get(template) if isinstance(template, int) else None
        return f"Template “{name}”" if name else "No template chosen"
    if kind == "send_text":
        text = str(node.get("text") or "")
        return f"“{text[:40]}{'…' if len(text) > 40 else ''}”"
    if kind == "wait":
        if node.get("until_local_time"):
            return f"Until {node['until_local_time']}, contact's time"
        if node.get("until_property"):
            return f"Until the date in {node['until_property']}"
        return f"For {duration_words(node.get('seconds'))}"
    if kind == "send_interactive":
        text = str(node.get("text") or "")
        listing = node.get("list")
        if isinstance(listing, Mapping):
            count = sum(len(s.get("rows") or []) for s in listing.get("sections") or [] if isinstance(s, Mapping))
            options = f"a list of {count} option{'' if count == 1 else 's'}"
        else:
            count = len(node.get("buttons") or [])
            options = f"{count} button{'' if count == 1 else 's'}"
        return f"“{text[:32]}{'…' if len(text) > 32 else ''}” with {options}"
    if kind == "wait_for_reply":
        what = f"“{node['payload']}”" if node.get("payload") else "a reply"
        up_to = duration_words(node.get("timeout_seconds"))
        return f"Waits for {what} to {node.get('message_node') or '?'}, up to {up_to}"
    if kind == "branch":
        return "If " + condition_words(node.get("condition"))
    if kind == "split":
        parts = [f"{b.get('percent')}%" for b in node.get("branches") or [] if isinstance(b, Mapping)]
        return "Random: " + " / ".join(parts) if parts else "Random split"
    if kind == "update_property":
        value = node.get("value")
        # As the marketer typed it: true, 3, gold (not Python's True).
        said = value if isinstance(value, str) else json.dumps(value)
        return f"Set {node.get('property') or '?'} to {said}"
    if kind == "exit":
        return "The journey ends here"
    return ""
