"""The campaign wizard's two forms: what and to whom, then personalisation, schedule and limits."""

from __future__ import annotations

from typing import Any

from django import forms

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


class DetailsForm(forms.Form):
    header_media_url = forms.URLField(required=False, label="Header media URL")
    scheduled_at = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Empty: send when you launch.",
    )
    local_time = forms.BooleanField(required=False, label="At this time in each contact's own timezone")
    throttle_per_second = forms.IntegerField(
        min_value=1, max_value=1000, initial=80, help_text="Messages per second (80 by default, up to 1,000)."
    )
    quiet_start_hour = forms.IntegerField(required=False, min_value=0, max_value=23)
    quiet_end_hour = forms.IntegerField(required=False, min_value=0, max_value=23)
    quiet_action = forms.ChoiceField(choices=QuietHoursAction.choices)
    frequency_cap_count = forms.IntegerField(required=False, min_value=1, label="Cap: at most N messages")
    frequency_cap_days = forms.IntegerField(required=False, min_value=1, label="Cap: per D days")
    control_group_percent = forms.IntegerField(min_value=0, max_value=50, initial=0)
    conversion_event = forms.CharField(required=False, max_length=128)
    conversion_window_hours = forms.IntegerField(min_value=1, initial=72)

    def __init__(self, *args: Any, slots: list[Slot], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.slots = slots
        for slot in slots:
            if slot.kind in ("header_media", "header_location"):
                continue
            self.fields[f"var_{slot.key}_source"] = forms.ChoiceField(
                choices=[("property", "Contact property"), ("value", "Constant")], label=f"{slot.label}: from"
            )
            self.fields[f"var_{slot.key}_name"] = forms.CharField(
                required=False, label=f"{slot.label}: property or value", help_text="e.g. name, or SPRING"
            )
            self.fields[f"var_{slot.key}_fallback"] = forms.CharField(required=False, label=f"{slot.label}: fallback")

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
