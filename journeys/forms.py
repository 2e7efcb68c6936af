"""Builder forms: journey settings (trigger, re-entry, limits) and one node form whose fields depend on the type."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from django import forms

from contacts.models import Segment
from journeys.definition import SENDING_TYPES, TRIGGER_TYPES, reply_choices
from journeys.graph import OP_WORDS, STATUS_WORDS, UNITS, duration_split
from journeys.models import Journey, Reentry
from providers.interactive import option_id
from providers.models import ProviderConfig
from templates_app.models import Template
from templates_app.rendering import template_slots, template_variables_problems
from templates_app.selectors import templates_approved
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
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "plan = gold"}),
        help_text="Only events with these properties start it, one per line: plan = gold. Empty: any.",
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
                "trigger_filters": "\n".join(f"{k} = {v}" for k, v in (trigger.get("filters") or {}).items()),
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
        text = self.cleaned_data["trigger_filters"].strip()
        if text.startswith("{"):  # as the API takes them
            value = _json_field(text, "Filters")
            if not isinstance(value, dict):
                raise forms.ValidationError('Filters are an object, e.g. {"plan": "gold"}.')
            return value
        filters: dict[str, str] = {}
        for line in text.splitlines():
            if not line.strip():
                continue
            key, equals, value = line.partition("=")
            if not equals or not key.strip():
                raise forms.ValidationError(f"Write each filter as property = value: “{line.strip()}” has no =.")
            filters[key.strip()] = value.strip()
        return filters

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


# Seconds last: rarely wanted, but a wait made through the API keeps its exact length when edited here.
UNIT_CHOICES = [("minutes", "minutes"), ("hours", "hours"), ("days", "days"), ("seconds", "seconds")]
WAIT_MODES = [
    ("delay", "For a while"),
    ("time", "Until a time of day (contact's time zone)"),
    ("property", "Until a date kept on the contact"),
]
CONDITION_KINDS = [
    ("property", "A contact property"),
    ("event", "The contact did an event since entering"),
    ("message", "What happened to a message"),
]
VARIABLE_SOURCES = [
    ("property", "Contact property"),
    ("event", "Property of the trigger event"),
    ("value", "Fixed text"),
]
MAX_SPLIT_BRANCHES = 6
INTERACTIVE_KINDS = [("buttons", "Up to 3 reply buttons"), ("list", "A list of options (up to 10)")]
MAX_BUTTONS = 3  # WhatsApp's limit (providers.interactive checks it too)
MAX_SECTIONS = 3  # the panel's own; a list made through the API may have more and keeps them
MAX_ROWS = 10
# The panel's repeated fields, grouped in rows: button_0_title, row_1_2_id, reply_3_next, branch_0_percent, …
_ROW_GROUP = re.compile(r"^((?:button|reply|branch)_\d+|row_\d+_\d+)_[a-z]+$")
# The prefix of the id a new node gets (welcome_1, wait_2, …): the marketer may rename it in the panel.
ID_PREFIXES = {
    "send_template": "message",
    "send_text": "text",
    "send_interactive": "choice",
    "wait": "wait",
    "wait_for_reply": "reply",
    "branch": "branch",
    "split": "split",
    "update_property": "update",
    "exit": "exit",
}


def node_id_free(journey: Journey, kind: str) -> str:
    """An id no node of the journey has yet, from the type: message_1, message_2, …"""
    taken = {n.get("id") for n in journey.nodes if isinstance(n, dict)}
    prefix = ID_PREFIXES.get(kind, kind)
    number = 1
    while f"{prefix}_{number}" in taken:
        number += 1
    return f"{prefix}_{number}"


def quick_reply_options(template: Template | None) -> list[tuple[str, str]]:
    """(payload, button text) for each quick-reply button: without its own payload, WhatsApp sends the text."""
    if template is None:
        return []
    options = []
    for button in template.buttons or []:
        if isinstance(button, dict) and button.get("type") == "quick_reply":
            options.append((str(button.get("payload") or button.get("text") or ""), str(button.get("text") or "")))
    return [option for option in options if option[0]]


def awaited_choices(
    node: dict[str, Any] | None, templates: Mapping[int, Template] | None = None
) -> list[tuple[str, str]]:
    """(reply id, title) a customer can answer the message of send step `node` with: an interactive message's
    buttons or rows, or the quick-reply buttons of the template it sends (or falls back to). `templates`: the
    journey's templates by id when the caller loaded them already."""
    if node is None:
        return []
    if node.get("type") == "send_interactive":
        return reply_choices(node)
    template_id = node.get("template") or node.get("fallback_template")
    if not isinstance(template_id, int):
        return []
    template = templates.get(template_id) if templates is not None else Template.objects.filter(pk=template_id).first()
    return quick_reply_options(template)


def node_title(node: dict[str, Any]) -> str:
    return f"{node.get('id')} · {NODE_LABELS.get(str(node.get('type')), node.get('type'))}"


class NodeForm(forms.Form):
    """The side panel of one node type, in words; `node()` gives the definition object.

    Some fields depend on earlier choices (a template's variables, an awaited message's buttons, a condition's
    kind): the panel is drawn again when those change, from the values so far (`initial`), without checking them."""

    id = forms.RegexField(
        regex=r"^[A-Za-z0-9_-]{1,64}$",
        label="Step name",
        help_text="Letters, digits, - and _; other steps refer to it.",
        error_messages={"invalid": "Use letters, digits, - and _ only (no spaces)."},
    )

    def __init__(self, *args: Any, kind: str, journey: Journey, node: dict[str, Any] | None = None, **kwargs: Any):
        self.kind = kind
        self.journey = journey
        self.template: Template | None = None
        self.slot_keys: list[tuple[str, str]] = []
        self.reply_count = 0
        if node is not None and "initial" not in kwargs:
            kwargs["initial"] = self._initial(node)
        super().__init__(*args, **kwargs)
        mine = (node or {}).get("id")
        nodes = [n for n in journey.nodes if isinstance(n, dict)]
        self.targets = [("", "— nowhere yet —"), *((n["id"], node_title(n)) for n in nodes if n.get("id") != mine)]
        self.senders = [n for n in nodes if n.get("type") in SENDING_TYPES and n.get("id") != mine]
        getattr(self, f"_fields_{kind}")()

    # --- helpers -----------------------------------------------------------------------------------------------

    def choice(self, name: str) -> Any:
        """The value chosen so far: posted when bound, else the initial one."""
        if self.is_bound:
            return self.data.get(name)
        return self.initial.get(name)

    def _target(self, name: str, label: str) -> None:
        self.fields[name] = forms.ChoiceField(label=label, choices=self.targets, required=False)

    def _rerender(self, name: str) -> None:
        self.fields[name].widget.attrs["data-rerender"] = "1"

    def _duration(self, prefix: str, label: str, required: bool = True) -> None:
        self.fields[f"{prefix}_amount"] = forms.IntegerField(
            label=label, min_value=1, max_value=100_000, required=required, initial=1
        )
        self.fields[f"{prefix}_unit"] = forms.ChoiceField(label="Unit", choices=UNIT_CHOICES, initial="days")

    def _seconds(self, prefix: str) -> int | None:
        amount = self.cleaned_data.get(f"{prefix}_amount")
        unit = self.cleaned_data.get(f"{prefix}_unit") or "days"
        return int(amount) * UNITS[unit] if amount else None

    def _sender_choices(self, empty: str) -> list[tuple[str, str]]:
        wanted = [n["template"] for n in self.senders if isinstance(n.get("template"), int)]
        names = dict(Template.objects.filter(pk__in=wanted).values_list("pk", "name"))
        choices = [("", empty)]
        for n in self.senders:
            what = {"send_interactive": "buttons or list", "send_text": "text"}.get(str(n.get("type")), "template")
            if n.get("template") in names:
                what = f"template “{names[n['template']]}”"
            choices.append((n["id"], f"{n['id']} ({what})"))
        return choices

    def rows(self) -> list[list[forms.BoundField]]:
        """The visible fields in rows: a duration's amount and unit, a variable's three fields, a split path."""
        rows: list[list[forms.BoundField]] = []
        grouped: dict[str, list[forms.BoundField]] = {}
        for bound in self.visible_fields():
            name = bound.name
            match = _ROW_GROUP.match(name)
            if match:
                key = match.group(1)
            elif name.startswith("var_") or name.endswith(("_amount", "_unit")):
                key = name.rsplit("_", 1)[0]
            else:
                key = name
            if key not in grouped:
                grouped[key] = []
                rows.append(grouped[key])
            grouped[key].append(bound)
        return rows

    # --- the fields of each type ---------------------------------------------------------------------------------

    def _fields_send_template(self) -> None:
        templates = templates_approved().order_by("name", "language")
        field = forms.ModelChoiceField(queryset=templates, label="Message template", empty_label="— choose —")
        field.label_from_instance = lambda t: f"{t.name} ({t.language})"  # type: ignore[method-assign,assignment]
        self.fields["template"] = field
        self._rerender("template")
        chosen = self.choice("template")
        if chosen and str(chosen).isdigit():
            self.template = templates.filter(pk=int(chosen)).first()
        if self.template is not None:
            for slot in template_slots(self.template):
                if slot.kind not in ("body", "header_text", "url_suffix"):
                    continue
                if slot.kind == "body":
                    label = f"Variable {slot.label}"
                elif slot.kind == "header_text":
                    label = "Header {{1}}"
                else:
                    label = f"Link ending of button {int(slot.key.split('.')[-1]) + 1}"
                self.slot_keys.append((slot.key, label))
                self.fields[f"var_{slot.key}_source"] = forms.ChoiceField(
                    label=f"{label}: fill with", choices=VARIABLE_SOURCES
                )
                self.fields[f"var_{slot.key}_name"] = forms.CharField(
                    label="Property or text",
                    required=False,
                    widget=forms.TextInput(attrs={"placeholder": "e.g. name"}),
                )
                self.fields[f"var_{slot.key}_fallback"] = forms.CharField(
                    label="If it is empty",
                    required=False,
                    widget=forms.TextInput(attrs={"placeholder": "e.g. there"}),
                )
        self._target("next", "Then go to")

    def _fields_send_text(self) -> None:
        self.fields["text"] = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), label="Message")
        self._fallback_field()
        self._target("next", "Then go to")

    def _fields_wait(self) -> None:
        self.fields["mode"] = forms.ChoiceField(label="Wait", choices=WAIT_MODES, initial="delay")
        self._rerender("mode")
        mode = self.choice("mode") or "delay"
        if mode == "delay":
            self._duration("wait", "How long")
        elif mode == "time":
            self.fields["until_local_time"] = forms.RegexField(
                regex=r"^([01]\d|2[0-3]):[0-5]\d$",
                label="Until",
                widget=forms.TimeInput(attrs={"type": "time"}),
                help_text="The next time it is this time where the contact lives.",
                error_messages={"invalid": "Give a time of day such as 09:00."},
            )
        else:
            self.fields["until_property"] = forms.CharField(
                label="Contact property holding the date", help_text="e.g. renewal_date"
            )
        self._target("next", "Then go to")

    def _fields_wait_for_reply(self) -> None:
        self.fields["message_node"] = forms.ChoiceField(
            label="Reply to which message", choices=self._sender_choices("— choose a send step —")
        )
        self._rerender("message_node")
        awaited = next((n for n in self.senders if n.get("id") == self.choice("message_node")), None)
        # Where each reply option led so far (posted, or the step's own branches), by reply id.
        chosen: dict[str, str] = {}
        for n in range(MAX_ROWS * 2):
            reply_id = self.choice(f"reply_{n}_id")
            if reply_id:
                chosen[str(reply_id)] = str(self.choice(f"reply_{n}_next") or "")
        options = awaited_choices(awaited)
        current = self.choice("payload")
        if current:
            # An older wait for one given reply (other replies keep it waiting): its one path, until the marketer
            # lets any reply count, which brings the options' own paths.
            title = dict(options).get(current, current)
            self.fields["payload"] = forms.ChoiceField(
                label="Which reply counts",
                choices=[(current, f"Only “{title}”"), ("", "Any reply (each option can have its own path)")],
                required=False,
            )
            self._rerender("payload")
            self._target("next", f"When they choose “{title}”, go to")
            options = []
        known = {reply_id for reply_id, _ in options}
        options += [(reply_id, reply_id) for reply_id in chosen if reply_id not in known and not current]
        for n, (reply_id, title) in enumerate(options):
            self.fields[f"reply_{n}_id"] = forms.CharField(widget=forms.HiddenInput, initial=reply_id)
            self.fields[f"reply_{n}_next"] = forms.ChoiceField(
                label=f"When they choose “{title}”, go to",
                choices=[("", "— the path for any other reply —"), *self.targets[1:]],
                required=False,
            )
            if not self.is_bound:
                self.initial[f"reply_{n}_id"] = reply_id
                self.initial[f"reply_{n}_next"] = chosen.get(reply_id, "")
        self.reply_count = len(options)
        if not current:
            self._target("next", "Any other reply, go to" if options else "When they reply, go to")
        self._duration("timeout", "Wait up to")
        self._target("timeout_next", "If no reply in time, go to")

    def _fields_send_interactive(self) -> None:
        self.fields["text"] = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label="Message")
        self.fields["header"] = forms.CharField(label="Title above it", required=False, help_text="Optional.")
        self.fields["footer"] = forms.CharField(label="Small print below it", required=False, help_text="Optional.")
        self.fields["choice_kind"] = forms.ChoiceField(
            label="Customers choose with", choices=INTERACTIVE_KINDS, initial="buttons"
        )
        self._rerender("choice_kind")
        if (self.choice("choice_kind") or "buttons") == "buttons":
            for n in range(MAX_BUTTONS):
                self.fields[f"button_{n}_title"] = forms.CharField(
                    label=f"Button {n + 1}", required=n == 0, max_length=20
                )
                self.fields[f"button_{n}_id"] = forms.CharField(
                    label="Reply id", required=False, help_text="Empty: made from the title."
                )
        else:
            self.fields["list_button"] = forms.CharField(
                label="Label of the list button", max_length=20, help_text="e.g. See the options"
            )
            sections = [s for s in range(MAX_SECTIONS) if self._section_used(s)]
            count = min(MAX_SECTIONS, sections[-1] + 2 if sections else 1)
            for s in range(count):
                self.fields[f"section_{s}_title"] = forms.CharField(
                    label=f"Section {s + 1} title", required=False, help_text="Needed when there are several."
                )
                used = [r for r in range(MAX_ROWS) if self.choice(f"row_{s}_{r}_title")]
                for r in range(min(MAX_ROWS, used[-1] + 2 if used else 1)):
                    self.fields[f"row_{s}_{r}_title"] = forms.CharField(label=f"Option {r + 1}", required=False)
                    self.fields[f"row_{s}_{r}_id"] = forms.CharField(label="Reply id", required=False)
                    self.fields[f"row_{s}_{r}_description"] = forms.CharField(label="Description", required=False)
        self._fallback_field()
        self._target("next", "Then go to")

    def _fallback_field(self) -> None:
        """What a free-form step (text, buttons) sends instead outside the 24-hour window."""
        self.fields["fallback_template"] = forms.ModelChoiceField(
            queryset=templates_approved().order_by("name"),
            required=False,
            label="Outside the 24-hour window, send instead",
            empty_label="— nothing (skip) —",
        )

    def _section_used(self, s: int) -> bool:
        return bool(self.choice(f"section_{s}_title")) or any(
            self.choice(f"row_{s}_{r}_title") for r in range(MAX_ROWS)
        )

    def _fields_branch(self) -> None:
        self.fields["condition_type"] = forms.ChoiceField(label="Check", choices=CONDITION_KINDS, initial="property")
        self._rerender("condition_type")
        kind = self.choice("condition_type") or "property"
        if kind == "property":
            self.fields["property"] = forms.CharField(label="Property", help_text="e.g. plan")
            self.fields["op"] = forms.ChoiceField(label="Is", choices=list(OP_WORDS.items()), initial="eq")
            self.fields["value"] = forms.CharField(label="Value", required=False, help_text="e.g. gold")
        elif kind == "event":
            self.fields["event"] = forms.CharField(label="Event", help_text="e.g. purchase")
        else:
            self.fields["message_node"] = forms.ChoiceField(
                label="The message of", choices=self._sender_choices("— choose a send step —")
            )
            self.fields["status"] = forms.ChoiceField(label="Was", choices=list(STATUS_WORDS.items()))
            self._duration("within", "Within")
        self._target("yes", "If yes, go to")
        self._target("no", "If no, go to")

    def _fields_split(self) -> None:
        filled = [n for n in range(MAX_SPLIT_BRANCHES) if self.choice(f"branch_{n}_percent")]
        count = min(MAX_SPLIT_BRANCHES, filled[-1] + 2 if filled else 2)  # one empty row to add a path
        for n in range(count):
            self.fields[f"branch_{n}_percent"] = forms.IntegerField(
                label=f"Path {n + 1}: percent",
                min_value=1,
                max_value=100,
                required=False,
                widget=forms.NumberInput(attrs={"data-percent": "1"}),
            )
            self._target(f"branch_{n}_next", f"Path {n + 1}: go to")

    def _fields_update_property(self) -> None:
        self.fields["property"] = forms.CharField(label="Set the contact property", help_text="e.g. plan")
        self.fields["value"] = forms.CharField(label="To", required=False, help_text="Text, a number, or true / false.")
        self._target("next", "Then go to")

    def _fields_exit(self) -> None:
        pass

    # --- from and to the definition ------------------------------------------------------------------------------

    @staticmethod
    def _initial(node: dict[str, Any]) -> dict[str, Any]:
        initial: dict[str, Any] = {"id": node.get("id"), "next": node.get("next")}
        kind = node.get("type")
        if kind == "send_template":
            initial["template"] = node.get("template")
            for key, spec in (node.get("variables") or {}).items():
                if isinstance(spec, dict):
                    source = next((s for s in ("property", "event", "value", "field") if s in spec), "value")
                    initial[f"var_{key}_source"] = "property" if source == "field" else source
                    initial[f"var_{key}_name"] = spec.get(source)
                    initial[f"var_{key}_fallback"] = spec.get("fallback", "")
                else:
                    initial[f"var_{key}_source"], initial[f"var_{key}_name"] = "value", spec
        elif kind == "send_text":
            initial.update(text=node.get("text"), fallback_template=node.get("fallback_template"))
        elif kind == "wait":
            if node.get("until_local_time"):
                initial.update(mode="time", until_local_time=node["until_local_time"])
            elif node.get("until_property"):
                initial.update(mode="property", until_property=node["until_property"])
            else:
                initial["mode"] = "delay"
                initial["wait_amount"], initial["wait_unit"] = duration_split(node.get("seconds"))
        elif kind == "send_interactive":
            initial.update(
                text=node.get("text"),
                header=node.get("header", ""),
                footer=node.get("footer", ""),
                fallback_template=node.get("fallback_template"),
                choice_kind="list" if node.get("list") else "buttons",
            )
            for n, button in enumerate(node.get("buttons") or []):
                if isinstance(button, dict):
                    initial[f"button_{n}_title"], initial[f"button_{n}_id"] = button.get("title"), button.get("id")
            listing: dict[str, Any] = node["list"] if isinstance(node.get("list"), dict) else {}
            initial["list_button"] = listing.get("button", "")
            for s, section in enumerate(listing.get("sections") or []):
                if not isinstance(section, dict):
                    continue
                initial[f"section_{s}_title"] = section.get("title", "")
                for r, row in enumerate(section.get("rows") or []):
                    if isinstance(row, dict):
                        for part in ("title", "id", "description"):
                            initial[f"row_{s}_{r}_{part}"] = row.get(part, "")
        elif kind == "wait_for_reply":
            initial.update(
                message_node=node.get("message_node"),
                payload=node.get("payload") or "",
                timeout_next=node.get("timeout_next"),
            )
            for n, branch in enumerate(node.get("branches") or []):
                if isinstance(branch, dict):
                    initial[f"reply_{n}_id"], initial[f"reply_{n}_next"] = branch.get("reply_id"), branch.get("next")
            initial["timeout_amount"], initial["timeout_unit"] = duration_split(node.get("timeout_seconds"))
        elif kind == "branch":
            c = node.get("condition") or {}
            initial.update(
                condition_type=c.get("type", "property"),
                yes=node.get("yes"),
                no=node.get("no"),
                message_node=c.get("node"),
                status=c.get("status"),
                property=c.get("property"),
                op=c.get("op", "eq"),
                value="" if c.get("value") is None else c.get("value"),
                event=c.get("event"),
            )
            initial["within_amount"], initial["within_unit"] = duration_split(c.get("within_seconds"))
        elif kind == "split":
            for n, branch in enumerate(node.get("branches") or []):
                if isinstance(branch, dict):
                    initial[f"branch_{n}_percent"] = branch.get("percent")
                    initial[f"branch_{n}_next"] = branch.get("next")
        elif kind == "update_property":
            value = node.get("value")
            initial.update(property=node.get("property"), value=value if isinstance(value, str) else json.dumps(value))
        return initial

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.kind == "send_template" and self.template is not None:
            for key, problem in template_variables_problems(self.template, self.variables()).items():
                self.add_error(f"var_{key}_name" if f"var_{key}_name" in self.fields else None, problem)
            for key, label in self.slot_keys:
                if not (data.get(f"var_{key}_name") or "").strip():
                    self.add_error(f"var_{key}_name", f"Say what fills {label}.")
        if self.kind == "branch" and data.get("op") in ("exists", "not_exists"):
            data["value"] = ""
        return data

    def variables(self) -> dict[str, Any]:
        mapping: dict[str, Any] = {}
        for key, _ in self.slot_keys:
            source = self.cleaned_data.get(f"var_{key}_source")
            name = (self.cleaned_data.get(f"var_{key}_name") or "").strip()
            fallback = (self.cleaned_data.get(f"var_{key}_fallback") or "").strip()
            if not source or not name:
                continue
            spec: dict[str, Any] = {source: name}
            if fallback and source != "value":
                spec["fallback"] = fallback
            mapping[key] = spec
        return mapping

    def node(self) -> dict[str, Any]:
        d = self.cleaned_data
        node: dict[str, Any] = {"id": d["id"], "type": self.kind}
        nxt = d.get("next") or None
        if self.kind == "send_template":
            node.update(template=d["template"].pk, variables=self.variables(), next=nxt)
        elif self.kind == "send_text":
            fallback = d.get("fallback_template")
            node.update(text=d["text"], fallback_template=fallback.pk if fallback else None, next=nxt)
        elif self.kind == "wait":
            mode = d.get("mode") or "delay"
            if mode == "delay":
                node["seconds"] = self._seconds("wait")
            elif mode == "time":
                node["until_local_time"] = d["until_local_time"]
            else:
                node["until_property"] = d["until_property"].strip()
            node["next"] = nxt
        elif self.kind == "wait_for_reply":
            node.update(
                message_node=d["message_node"],
                payload=d.get("payload") or None,
                timeout_seconds=self._seconds("timeout"),
                next=nxt,
                timeout_next=d.get("timeout_next") or None,
            )
            branches = [
                {"reply_id": d[f"reply_{n}_id"], "next": d[f"reply_{n}_next"]}
                for n in range(self.reply_count)
                if d.get(f"reply_{n}_id") and d.get(f"reply_{n}_next")
            ]
            if branches:
                node["branches"] = branches
        elif self.kind == "send_interactive":
            node["text"] = d["text"]
            for key in ("header", "footer"):
                if (d.get(key) or "").strip():
                    node[key] = d[key].strip()
            if d.get("choice_kind") == "list":
                sections = []
                for s in range(MAX_SECTIONS):
                    rows = []
                    for r in range(MAX_ROWS):
                        title = (d.get(f"row_{s}_{r}_title") or "").strip()
                        if not title:
                            continue
                        row = {
                            "id": (d.get(f"row_{s}_{r}_id") or "").strip() or option_id(title, r),
                            "title": title,
                        }
                        if (d.get(f"row_{s}_{r}_description") or "").strip():
                            row["description"] = d[f"row_{s}_{r}_description"].strip()
                        rows.append(row)
                    title = (d.get(f"section_{s}_title") or "").strip()
                    if rows or title:
                        sections.append({**({"title": title} if title else {}), "rows": rows})
                node["list"] = {"button": d["list_button"], "sections": sections}
            else:
                node["buttons"] = [
                    {
                        "id": (d.get(f"button_{n}_id") or "").strip() or option_id(d[f"button_{n}_title"], n),
                        "title": d[f"button_{n}_title"].strip(),
                    }
                    for n in range(MAX_BUTTONS)
                    if (d.get(f"button_{n}_title") or "").strip()
                ]
            fallback = d.get("fallback_template")
            node.update(fallback_template=fallback.pk if fallback else None, next=nxt)
        elif self.kind == "branch":
            kind = d["condition_type"]
            if kind == "message":
                condition: dict[str, Any] = {
                    "type": kind,
                    "node": d["message_node"],
                    "status": d["status"],
                    "within_seconds": self._seconds("within"),
                }
            elif kind == "property":
                condition = {"type": kind, "property": d["property"].strip(), "op": d["op"] or "eq"}
                if d["op"] not in ("exists", "not_exists"):
                    condition["value"] = d.get("value") or ""
            else:
                condition = {"type": kind, "event": d["event"].strip()}
            node.update(condition=condition, yes=d.get("yes") or None, no=d.get("no") or None)
        elif self.kind == "split":
            node["branches"] = [
                {"percent": d[f"branch_{n}_percent"], "next": d.get(f"branch_{n}_next") or None}
                for n in range(MAX_SPLIT_BRANCHES)
                if d.get(f"branch_{n}_percent")
            ]
        elif self.kind == "update_property":
            raw = d.get("value") or ""
            try:
                value: Any = json_loads(raw)
            except ValueError:  # not JSON (or JSON we cannot store): the text itself
                value = raw
            node.update(property=d["property"].strip(), value=value, next=nxt)
        return node
