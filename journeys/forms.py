"""Builder forms: journey settings (trigger, re-entry, limits) and one node form whose fields depend on the type."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from contacts.models import Segment
from journeys.definition import MESSAGE_STATUSES, NODE_TYPES, PROPERTY_OPS, SENDING_TYPES, TRIGGER_TYPES
from journeys.models import Journey, Reentry
from providers.models import ProviderConfig
from templates_app.models import Status as TemplateStatus
from templates_app.models import Template
from whatsapp_project.safe_input import InputRefused, json_loads

TRIGGER_LABELS = {
    "event": "Contact does an event",
    "segment_entry": "Contact enters a segment",
    "inbound_keyword": "Inbound message matches a keyword",
    "quick_reply": "Contact taps a quick-reply button",
}
NODE_LABELS = {
    "send_template": "Send template",
    "send_text": "Send text (24 h window)",
    "send_interactive": "Send buttons or a list (24 h window)",
    "wait": "Wait",
    "wait_for_reply": "Wait for reply",
    "branch": "Branch (yes / no)",
    "split": "Random split",
    "update_property": "Update contact property",
    "exit": "Exit",
}


def _json_field(value: str, label: str) -> Any:
    try:
        return json_loads(value) if value.strip() else {}
    except json.JSONDecodeError as error:
        raise forms.ValidationError(f"{label} must be JSON ({error.msg}).") from None
    except InputRefused as error:
        raise forms.ValidationError(f"{label}: {error}") from None


class JourneySettingsForm(forms.Form):
    name = forms.CharField(max_length=255)
    trigger_type = forms.ChoiceField(label="Trigger", choices=[(t, TRIGGER_LABELS[t]) for t in TRIGGER_TYPES])
    trigger_event = forms.CharField(label="Event name", required=False, help_text="For an event trigger, e.g. signup.")
    trigger_filters = forms.CharField(
        label="Event property filters",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text='JSON, e.g. {"plan": "gold"}; empty: any.',
    )
    trigger_segment = forms.ModelChoiceField(label="Segment", queryset=Segment.objects.all(), required=False)
    trigger_keyword = forms.CharField(label="Keyword", required=False)
    trigger_payload = forms.CharField(label="Quick-reply payload", required=False)
    entry_node = forms.ChoiceField(label="Entry node", required=False)
    provider = forms.ModelChoiceField(
        queryset=ProviderConfig.objects.filter(is_active=True),
        required=False,
        help_text="The number texts go from (templates go from their own).",
    )
    reentry = forms.ChoiceField(choices=Reentry.choices)
    reentry_days = forms.IntegerField(min_value=1, required=False)
    goal_event = forms.CharField(required=False, help_text="Contacts who do this event exit as converted.")
    entry_limit = forms.IntegerField(min_value=1, required=False)
    quiet_hours_start = forms.TimeField(required=False, help_text="HH:MM in the contact's time zone.")
    quiet_hours_end = forms.TimeField(required=False)
    cap_messages = forms.IntegerField(min_value=1, required=False, label="Frequency cap: messages")
    cap_days = forms.IntegerField(min_value=1, initial=1, label="… per days")

    def __init__(self, *args: Any, journey: Journey | None = None, **kwargs: Any) -> None:
        if journey is not None and "initial" not in kwargs:
            trigger = journey.trigger or {}
            kwargs["initial"] = {
                "name": journey.name,
                "trigger_type": trigger.get("type", "event"),
                "trigger_event": trigger.get("event", ""),
                "trigger_filters": json.dumps(trigger["filters"]) if trigger.get("filters") else "",
                "trigger_segment": trigger.get("segment"),
                "trigger_keyword": trigger.get("keyword", ""),
                "trigger_payload": trigger.get("payload", ""),
                "entry_node": journey.entry_node,
                "provider": journey.provider_id,
                "reentry": journey.reentry,
                "reentry_days": journey.reentry_days,
                "goal_event": journey.goal_event,
                "entry_limit": journey.entry_limit,
                "quiet_hours_start": journey.quiet_hours_start,
                "quiet_hours_end": journey.quiet_hours_end,
                "cap_messages": journey.cap_messages,
                "cap_days": journey.cap_days,
            }
        super().__init__(*args, **kwargs)
        ids = [n["id"] for n in (journey.nodes if journey else []) if isinstance(n, dict) and "id" in n]
        entry_field = self.fields["entry_node"]
        assert isinstance(entry_field, forms.ChoiceField)
        entry_field.choices = [("", "—"), *((i, i) for i in ids)]
        if journey is None:
            del self.fields["entry_node"]

    def clean_trigger_filters(self) -> Any:
        value = _json_field(self.cleaned_data["trigger_filters"], "Filters")
        if not isinstance(value, dict):
            raise forms.ValidationError('Filters are an object, e.g. {"plan": "gold"}.')
        return value

    def journey_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        kind = data["trigger_type"]
        trigger: dict[str, Any] = {"type": kind}
        if kind == "event":
            trigger.update(event=data["trigger_event"].strip(), filters=data["trigger_filters"] or {})
        elif kind == "segment_entry":
            trigger["segment"] = data["trigger_segment"].pk if data["trigger_segment"] else None
        elif kind == "inbound_keyword":
            trigger["keyword"] = data["trigger_keyword"].strip()
        else:
            trigger["payload"] = data["trigger_payload"].strip()
        out = {
            k: data[k]
            for k in (
                "name",
                "provider",
                "reentry",
                "reentry_days",
                "goal_event",
                "entry_limit",
                "quiet_hours_start",
                "quiet_hours_end",
                "cap_messages",
                "cap_days",
            )
        }
        out["trigger"] = trigger
        if "entry_node" in data:
            out["entry_node"] = data["entry_node"]
        return out


class NodeTypeForm(forms.Form):
    type = forms.ChoiceField(label="Node type", choices=[(t, NODE_LABELS[t]) for t in NODE_TYPES])


class NodeForm(forms.Form):
    """The fields of one node type; `node()` gives the definition object."""

    id = forms.RegexField(regex=r"^[A-Za-z0-9_-]{1,64}$", label="Node id", help_text="Letters, digits, - and _.")

    def __init__(self, *args: Any, kind: str, journey: Journey, node: dict[str, Any] | None = None, **kwargs: Any):
        self.kind = kind
        others = [n for n in journey.nodes if isinstance(n, dict) and n.get("id") != (node or {}).get("id")]
        targets = [("", "— none —"), *((n["id"], f"{n['id']} ({n.get('type')})") for n in others)]
        senders = [("", "—"), *((n["id"], n["id"]) for n in journey.nodes if n.get("type") in SENDING_TYPES)]
        templates = Template.objects.filter(status=TemplateStatus.APPROVED).order_by("name")
        if node is not None and "initial" not in kwargs:
            kwargs["initial"] = self._initial(node)
        super().__init__(*args, **kwargs)
        f = self.fields

        def target(name: str, label: str) -> None:
            f[name] = forms.ChoiceField(label=label, choices=targets, required=False)

        if kind == "send_template":
            f["template"] = forms.ModelChoiceField(queryset=templates)
            f["variables"] = forms.CharField(
                required=False,
                widget=forms.Textarea(attrs={"rows": 2}),
                help_text='JSON, e.g. {"1": {"property": "name", "fallback": "there"}}.',
            )
            target("next", "Next")
        elif kind == "send_text":
            f["text"] = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
            f["fallback_template"] = forms.ModelChoiceField(
                queryset=templates, required=False, help_text="Sent instead outside the 24-hour window; none: skip."
            )
            target("next", "Next")
        elif kind == "wait":
            f["seconds"] = forms.IntegerField(min_value=1, required=False, help_text="Give one of the three.")
            f["until_local_time"] = forms.RegexField(regex=r"^\d\d:\d\d$", required=False, help_text="HH:MM")
            f["until_property"] = forms.CharField(required=False, help_text="A contact property holding a date.")
            target("next", "Next")
        elif kind == "wait_for_reply":
            f["message_node"] = forms.ChoiceField(choices=senders, help_text="The send node whose message is answered.")
            f["payload"] = forms.CharField(required=False, help_text="Quick-reply payload; empty: any reply.")
            f["timeout_seconds"] = forms.IntegerField(min_value=1, initial=86400)
            target("next", "On reply")
            target("timeout_next", "On timeout")
        elif kind == "branch":
            f["condition_type"] = forms.ChoiceField(
                choices=[
                    ("message", "Message status"),
                    ("property", "Contact property"),
                    ("event", "Event since entry"),
                ]
            )
            f["message_node"] = forms.ChoiceField(choices=senders, required=False, label="Message of node")
            f["status"] = forms.ChoiceField(choices=[("", "—"), *((s, s) for s in MESSAGE_STATUSES)], required=False)
            f["within_seconds"] = forms.IntegerField(min_value=1, required=False)
            f["property"] = forms.CharField(required=False)
            f["op"] = forms.ChoiceField(choices=[(o, o) for o in PROPERTY_OPS], required=False)
            f["value"] = forms.CharField(required=False)
            f["event"] = forms.CharField(required=False)
            target("yes", "Yes")
            target("no", "No")
        elif kind == "split":
            f["branches"] = forms.CharField(
                help_text="One per line: percent and next node, e.g. `50 a`; a line with only a percent holds out.",
                widget=forms.Textarea(attrs={"rows": 3}),
            )
        elif kind == "update_property":
            f["property"] = forms.CharField()
            f["value"] = forms.CharField(required=False, help_text='JSON (true, 3, "gold") or plain text.')
            target("next", "Next")

    @staticmethod
    def _initial(node: dict[str, Any]) -> dict[str, Any]:
        initial = dict(node)
        if "variables" in node:
            initial["variables"] = json.dumps(node["variables"]) if node["variables"] else ""
        if node.get("type") == "split":
            initial["branches"] = "\n".join(
                f"{b.get('percent')} {b.get('next') or ''}".strip() for b in node.get("branches", [])
            )
        if node.get("type") == "update_property":
            initial["value"] = json.dumps(node.get("value"))
        if node.get("type") == "branch":
            c = node.get("condition") or {}
            initial.update(
                condition_type=c.get("type"),
                message_node=c.get("node"),
                status=c.get("status"),
                within_seconds=c.get("within_seconds"),
                property=c.get("property"),
                op=c.get("op"),
                value="" if c.get("value") is None else c.get("value"),
                event=c.get("event"),
            )
        return initial

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.kind == "send_template" and "variables" in data:
            try:
                data["variables"] = _json_field(data["variables"], "Variables")
            except forms.ValidationError as error:
                self.add_error("variables", error)
        if self.kind == "split" and data.get("branches"):
            branches = []
            for line in str(data["branches"]).splitlines():
                parts = line.split()
                if not parts:
                    continue
                if not parts[0].rstrip("%").isdigit():
                    self.add_error("branches", f"{line.strip()!r}: start with a percentage.")
                    break
                branches.append({"percent": int(parts[0].rstrip("%")), "next": parts[1] if len(parts) > 1 else None})
            data["branches"] = branches
        return data

    def node(self) -> dict[str, Any]:
        d = self.cleaned_data
        node: dict[str, Any] = {"id": d["id"], "type": self.kind}
        if self.kind == "send_template":
            node.update(template=d["template"].pk, variables=d.get("variables") or {}, next=d["next"])
        elif self.kind == "send_text":
            fallback = d.get("fallback_template")
            node.update(text=d["text"], fallback_template=fallback.pk if fallback else None, next=d["next"])
        elif self.kind == "wait":
            for key in ("seconds", "until_local_time", "until_property"):
                if d.get(key) not in (None, ""):
                    node[key] = d[key]
            node["next"] = d["next"]
        elif self.kind == "wait_for_reply":
            node.update(
                message_node=d["message_node"],
                payload=d["payload"].strip() or None,
                timeout_seconds=d["timeout_seconds"],
                next=d["next"],
                timeout_next=d["timeout_next"],
            )
        elif self.kind == "branch":
            kind = d["condition_type"]
            if kind == "message":
                condition = {
                    "type": kind,
                    "node": d["message_node"],
                    "status": d["status"],
                    "within_seconds": d["within_seconds"],
                }
            elif kind == "property":
                condition = {"type": kind, "property": d["property"], "op": d["op"] or "eq", "value": d["value"]}
            else:
                condition = {"type": kind, "event": d["event"]}
            node.update(condition=condition, yes=d["yes"], no=d["no"])
        elif self.kind == "split":
            node["branches"] = d["branches"]
        elif self.kind == "update_property":
            raw = d.get("value") or ""
            try:
                value: Any = json_loads(raw)
            except ValueError:  # not JSON (or JSON we cannot store): the text itself
                value = raw
            node.update(property=d["property"].strip(), value=value, next=d["next"])
        return node
