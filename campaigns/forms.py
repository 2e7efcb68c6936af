"""The campaign wizard's two forms: what and to whom, then personalisation, schedule and limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.forms import BoundField

from campaigns.models import Audience, AudienceList, QuietHoursAction
from contacts.selectors import segment_list
from templates_app.models import Template
from templates_app.rendering import Slot
from templates_app.selectors import templates_approved


class AudienceForm(forms.Form):
    name = forms.CharField(max_length=255)
    template = forms.ModelChoiceField(
        queryset=Template.objects.none(), help_text="Approved templates; the campaign sends from the template's number."
    )
    audience = forms.ChoiceField(choices=Audience.choices)
    segment = forms.ModelChoiceField(queryset=segment_list(), required=False)
    audience_file = forms.FileField(
        required=False,
        label="Uploaded list (CSV)",
        help_text="One phone number or external id per row; a header row ('phone', 'external_id') is optional. "
        "Rows are matched to existing contacts; the ones that match nobody are listed on the next step.",
    )
    # Set once the file has been read, so the next steps carry the list rather than the file.
    audience_list = forms.ModelChoiceField(
        queryset=AudienceList.objects.all(), required=False, widget=forms.HiddenInput
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["template"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = templates_approved()
        field.label_from_instance = lambda t: f"{t.name} ({t.language}) — {t.provider.nickname}"  # type: ignore[method-assign,assignment]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("audience") == Audience.SEGMENT and not data.get("segment"):
            self.add_error("segment", "Pick a segment, or choose the test profiles or everyone subscribed.")
        if (
            data.get("audience") == Audience.UPLOADED_LIST
            and not data.get("audience_file")
            and not data.get("audience_list")
        ):
            self.add_error("audience_file", "Choose the CSV file of the list.")
        return data

    def query(self) -> dict[str, Any]:
        """The step's choices as query parameters for the next step (ids, not objects; never the file)."""
        data = self.cleaned_data
        values = {"name": data["name"], "template": data["template"].pk, "audience": data["audience"]}
        if data["audience"] == Audience.SEGMENT:
            values["segment"] = data["segment"].pk
        if data["audience"] == Audience.UPLOADED_LIST and data.get("audience_list"):
            values["audience_list"] = data["audience_list"].pk
        return values


# The wizard's folded sections, in page order: each starts closed with a sensible default and opens on an error.
SECTIONS = (
    ("schedule", "When", ("scheduled_at", "local_time")),
    (
        "limits",
        "Limits",
        (
            "throttle_per_second",
            "quiet_start_hour",
            "quiet_end_hour",
            "quiet_action",
            "frequency_cap_count",
            "frequency_cap_days",
        ),
    ),
    ("goal", "Goal and control group", ("conversion_event", "conversion_window_hours", "control_group_percent")),
)


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    summary: str
    fields: list[BoundField]

    @property
    def has_errors(self) -> bool:
        return any(field.errors for field in self.fields)


@dataclass(frozen=True)
class SlotFields:
    key: str
    label: str
    required: bool
    fields: list[BoundField]


def _slot_label(slot: Slot) -> str:
    if slot.kind == "body":
        return f"{slot.label} in the message"
    if slot.kind == "header_text":
        return "{{1}} in the header"
    return slot.label[0].upper() + slot.label[1:]


class DetailsForm(forms.Form):
    header_media_url = forms.URLField(
        required=False, label="Header media URL", help_text="The image, video or document sent above the message."
    )
    scheduled_at = forms.DateTimeField(
        required=False,
        label="Send at",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Empty: send when you launch.",
    )
    local_time = forms.BooleanField(required=False, label="At this time in each contact's own timezone")
    throttle_per_second = forms.IntegerField(
        min_value=1,
        max_value=1000,
        initial=80,
        label="Messages per second",
        help_text="80 by default, up to 1,000 if the number allows it.",
    )
    quiet_start_hour = forms.IntegerField(
        required=False, min_value=0, max_value=23, label="Quiet hours from", help_text="Hour 0-23, contact's time."
    )
    quiet_end_hour = forms.IntegerField(required=False, min_value=0, max_value=23, label="Quiet hours until")
    quiet_action = forms.ChoiceField(choices=QuietHoursAction.choices, label="During quiet hours")
    frequency_cap_count = forms.IntegerField(
        required=False,
        min_value=1,
        label="At most this many messages",
        help_text="Frequency cap: leave empty for none.",
    )
    frequency_cap_days = forms.IntegerField(required=False, min_value=1, label="Per this many days")
    conversion_event = forms.CharField(
        required=False,
        max_length=128,
        label="Goal event",
        help_text="The event that counts as a conversion, e.g. purchase.",
    )
    conversion_window_hours = forms.IntegerField(min_value=1, initial=72, label="Counted within (hours)")
    control_group_percent = forms.IntegerField(
        min_value=0,
        max_value=50,
        initial=0,
        label="Control group (%)",
        help_text="Held back from the send to measure the uplift; needs a goal event.",
    )

    def __init__(self, *args: Any, slots: list[Slot], media_header: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.slots = [slot for slot in slots if slot.kind not in ("header_media", "header_location")]
        if not media_header:
            # A text or no header takes no media: the field would only confuse.
            del self.fields["header_media_url"]
        for slot in self.slots:
            label = _slot_label(slot)
            self.fields[f"var_{slot.key}_source"] = forms.ChoiceField(
                choices=[("property", "From the contact"), ("value", "The same text for everyone")],
                label="Fill with",
            )
            self.fields[f"var_{slot.key}_name"] = forms.CharField(
                required=False,
                label="Contact property or text",
                help_text="A property such as name or city, or the text itself, e.g. SPRING.",
                widget=forms.TextInput(attrs={"data-slot": slot.key, "aria-label": f"{label}: property or text"}),
            )
            self.fields[f"var_{slot.key}_fallback"] = forms.CharField(
                required=False,
                label="If the contact has none",
                help_text="e.g. there",
                widget=forms.TextInput(attrs={"aria-label": f"{label}: fallback"}),
            )

    def personalisation(self) -> list[SlotFields]:
        """Each template value with its three fields, in the template's order."""
        return [
            SlotFields(
                slot.key,
                _slot_label(slot),
                slot.required,
                [self[f"var_{slot.key}_{part}"] for part in ("source", "name", "fallback")],
            )
            for slot in self.slots
        ]

    def sections(self) -> list[Section]:
        return [
            Section(key, title, self._summary(key), [self[name] for name in names]) for key, title, names in SECTIONS
        ]

    def _value(self, name: str) -> Any:
        value = self[name].value()
        return None if value in (None, "", False) else value

    def _summary(self, key: str) -> str:
        """What the section's values amount to, shown while it is folded."""
        if key == "schedule":
            at = self._value("scheduled_at")
            local = " in each contact's timezone" if self._value("local_time") else ""
            return f"at {at}{local}".replace("T", " ") if at else "when you launch"
        if key == "limits":
            parts = [f"{self._value('throttle_per_second') or 80} messages/s"]
            start, end = self._value("quiet_start_hour"), self._value("quiet_end_hour")
            parts.append(f"quiet {start}:00-{end}:00" if start is not None and end is not None else "no quiet hours")
            count, days = self._value("frequency_cap_count"), self._value("frequency_cap_days")
            parts.append(f"at most {count} per {days} days" if count and days else "no frequency cap")
            return " · ".join(parts)
        event = self._value("conversion_event")
        if not event:
            return "none"
        control = self._value("control_group_percent")
        return f"{event} within {self._value('conversion_window_hours') or 72} h" + (
            f", {control} % held back" if control else ""
        )

    def slot_field(self, key: str) -> str | None:
        """The field where a problem with slot `key` is shown."""
        name = f"var_{key}_name"
        if name in self.fields:
            return name
        return "header_media_url" if key == "header" and "header_media_url" in self.fields else None

    def variables(self) -> dict[str, Any]:
        mapping: dict[str, Any] = {}
        for slot in self.slots:
            source = self.cleaned_data.get(f"var_{slot.key}_source")
            name = (self.cleaned_data.get(f"var_{slot.key}_name") or "").strip()
            fallback = (self.cleaned_data.get(f"var_{slot.key}_fallback") or "").strip()
            if not source or not name:
                continue
            spec: dict[str, Any] = {source: name}
            if fallback and source == "property":
                spec["fallback"] = fallback
            mapping[slot.key] = spec
        return mapping
