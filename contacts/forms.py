"""Forms: CSV upload and column mapping, and the segment builder (groups and conditions, never raw JSON)."""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms import BaseFormSet, formset_factory
from django.forms.utils import ErrorDict
from django.utils.html import format_html

from contacts.importing import CONTACT_FIELDS, IGNORE, PROPERTY_PREFIX, column_slug
from contacts.models import Consent, Contact
from contacts.phones import phone_regions
from contacts.segments import KEY_RE, segment_definition_clean

MATCH_CHOICES = [("all", "all"), ("any", "any")]


class ContactFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search", widget=forms.TextInput(attrs={"type": "search"}))
    consent = forms.ChoiceField(required=False, choices=[("", "Any consent"), *Consent.choices])
    test_profile = forms.ChoiceField(
        required=False, label="Test profile", choices=[("", "All"), ("yes", "Test profiles"), ("no", "Real")]
    )


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="UTF-8, first line names the columns. Contacts are matched by external id or phone.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )


FIELD_LABELS = {
    "external_id": "External id",
    "phone": "Phone",
    "name": "Name",
    "email": "Email",
    "timezone": "Time zone",
    "language": "Language",
    "whatsapp_consent": "WhatsApp consent",
    "is_test_profile": "Test profile",
}


class ImportMappingForm(forms.Form):
    """One select per CSV column (a contact field, a property, or ignore), shown with values from the file."""

    def __init__(
        self,
        *args: Any,
        columns: list[str],
        mapping: dict[str, str],
        samples: dict[str, list[str]] | None = None,
        default_country: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.columns = columns
        samples = samples or {}
        for index, column in enumerate(columns):
            prop = PROPERTY_PREFIX + (column_slug(column) or f"column_{index + 1}")
            choices = [(IGNORE, "Ignore this column"), *((f, FIELD_LABELS[f]) for f in CONTACT_FIELDS)]
            choices.append((prop, f"Property “{prop.removeprefix(PROPERTY_PREFIX)}”"))
            current = mapping.get(column, IGNORE)
            if current not in dict(choices):
                choices.append((current, f"Property “{current.removeprefix(PROPERTY_PREFIX)}”"))
            values = samples.get(column) or []
            # The form include marks help text safe: the file's values are escaped here.
            help_text = format_html("In the file: {}", "; ".join(values)) if values else "No values in the first rows."
            self.fields[f"col_{index}"] = forms.ChoiceField(
                label=column, choices=choices, initial=current, help_text=help_text
            )
        self.fields["default_country"] = forms.ChoiceField(
            label="Country of numbers without a country code",
            required=False,
            choices=[("", "None: every number has its country code (+44…)"), *phone_regions()],
            initial=default_country,
            help_text="A number such as 07700 900001 is read as a number of this country.",
        )

    def mapping(self) -> dict[str, str]:
        return {column: self.cleaned_data[f"col_{i}"] for i, column in enumerate(self.columns)}


class EveryFormCounts(BaseFormSet):
    """Each shown form is read, even when left at its initial values (segment conditions, contact properties)."""

    def _construct_form(self, i: int, **kwargs: Any) -> forms.Form:
        return super()._construct_form(i, **{**kwargs, "empty_permitted": False})  # type: ignore[misc]


# --- contact edit ------------------------------------------------------------------------------------------------


def property_text(value: Any) -> str:
    """How a stored property value is shown in the edit form: text as it is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class PropertyRowForm(forms.Form):
    key = forms.CharField(required=False, max_length=100, label="Property")
    value = forms.CharField(required=False, max_length=1000, label="Value")


PropertyRowFormSet = formset_factory(PropertyRowForm, formset=EveryFormCounts, extra=2)


class ContactEditForm(forms.Form):
    """What a marketer may change on a profile; a consent change needs a reason, kept in the consent history."""

    name = forms.CharField(required=False, max_length=255)
    email = forms.EmailField(required=False, max_length=254)
    is_test_profile = forms.BooleanField(
        required=False, label="Test profile", help_text="Test profiles are offered in every “send a test” picker."
    )
    whatsapp_consent = forms.ChoiceField(choices=Consent.choices, label="WhatsApp consent")
    consent_reason = forms.CharField(
        required=False,
        max_length=255,
        label="Why consent changes",
        help_text="Needed when you change consent, e.g. “Asked to stop on the phone, 3 May”. Kept in the history.",
    )

    def __init__(self, data: Any = None, *, contact: Contact) -> None:
        initial = {
            "name": contact.name,
            "email": contact.email,
            "is_test_profile": contact.is_test_profile,
            "whatsapp_consent": contact.whatsapp_consent,
        }
        super().__init__(data, initial=initial)
        self.contact = contact
        stored = contact.properties if isinstance(contact.properties, dict) else {}
        self.stored_properties = stored
        rows = [{"key": key, "value": property_text(value)} for key, value in sorted(stored.items())]
        self.properties = PropertyRowFormSet(data, prefix="props", initial=rows)

    def is_valid(self) -> bool:
        return super().is_valid() & self.properties.is_valid() & self._properties_clean()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        consent = cleaned.get("whatsapp_consent")
        if consent and consent != self.contact.whatsapp_consent and not (cleaned.get("consent_reason") or "").strip():
            self.add_error("consent_reason", "Say why consent changes: it is kept in the consent history.")
        return cleaned

    def _properties_clean(self) -> bool:
        """Rows → the properties object; a value left as shown keeps its stored type (a number stays a number)."""
        result: dict[str, Any] = {}
        for form in self.properties.forms:
            key = (form.cleaned_data.get("key") or "").strip()
            text = form.cleaned_data.get("value") or ""
            if not key:
                continue  # an emptied row removes that property
            if key in result:
                form.add_error("key", f"“{key}” is listed twice.")
            elif key not in self.stored_properties and not KEY_RE.match(key):
                form.add_error("key", "Use letters, digits, spaces and _ . : - (up to 100).")
            elif key in self.stored_properties and property_text(self.stored_properties[key]) == text:
                result[key] = self.stored_properties[key]
            else:
                result[key] = text.strip()
        self.cleaned_properties = result
        return not any(form.errors for form in self.properties.forms)

    def changes(self) -> dict[str, Any]:
        """The contact fields as `contact_update` takes them (consent only when it changes)."""
        data = {
            "name": self.cleaned_data["name"].strip(),
            "email": self.cleaned_data["email"],
            "is_test_profile": self.cleaned_data["is_test_profile"],
            "properties": self.cleaned_properties,
        }
        if self.cleaned_data["whatsapp_consent"] != self.contact.whatsapp_consent:
            data["whatsapp_consent"] = self.cleaned_data["whatsapp_consent"]
        return data


# --- segment builder ---------------------------------------------------------------------------------------------

CONDITION_TYPES = [
    ("property", "Property"),
    ("consent", "WhatsApp consent"),
    ("date", "Date"),
    ("event", "Event"),
    ("test_profile", "Test profile"),
]
PROPERTY_OPS = [
    ("eq", "equals"),
    ("ne", "does not equal"),
    ("contains", "contains"),
    ("gt", "greater than"),
    ("lt", "less than"),
    ("in", "is one of (comma-separated)"),
    ("is_set", "is set"),
    ("not_set", "is not set"),
]
DATE_OPS = [
    ("within_last_days", "within the last N days"),
    ("not_within_last_days", "not within the last N days"),
    ("before", "before (date)"),
    ("after", "after (date)"),
]
DATE_FIELD_CHOICES = [("created_at", "Created"), ("last_inbound_at", "Last inbound message"), ("property", "Property")]


class SegmentForm(forms.Form):
    name = forms.CharField(max_length=255)
    match = forms.ChoiceField(
        choices=MATCH_CHOICES,
        label="Contacts must match",
        help_text="of the groups below.",
        widget=forms.Select(attrs={"aria-label": "How many groups contacts must match"}),
    )


class GroupForm(forms.Form):
    match = forms.ChoiceField(
        choices=MATCH_CHOICES,
        label="Contacts match",
        help_text="of these conditions.",
        widget=forms.Select(attrs={"aria-label": "How many of these conditions contacts must match"}),
    )


class ConditionForm(forms.Form):
    # Which group the condition belongs to: set by the page's "Add a condition" buttons, never typed.
    group = forms.IntegerField(min_value=1, initial=1, widget=forms.HiddenInput)
    type = forms.ChoiceField(choices=CONDITION_TYPES, initial="property", label="Based on")
    key = forms.CharField(
        required=False, label="Property", max_length=100, widget=forms.TextInput(attrs={"list": "property-keys"})
    )
    property_op = forms.ChoiceField(choices=PROPERTY_OPS, required=False, label="Operator")
    value = forms.CharField(required=False, max_length=500)
    consent = forms.ChoiceField(choices=[("eq", "is"), ("ne", "is not")], required=False, label="Consent")
    consent_value = forms.ChoiceField(choices=Consent.choices, required=False, label="Consent value")
    test_profile = forms.ChoiceField(
        choices=[("true", "is a test profile"), ("false", "is not a test profile")], required=False
    )
    date_field = forms.ChoiceField(choices=DATE_FIELD_CHOICES, required=False, label="Date of")
    date_op = forms.ChoiceField(choices=DATE_OPS, required=False, label="Date is")
    event_op = forms.ChoiceField(choices=[("did", "did"), ("did_not", "did not do")], required=False, label="Contact")
    event_name = forms.CharField(
        required=False, max_length=128, label="Event", widget=forms.TextInput(attrs={"list": "event-names"})
    )
    min_count = forms.IntegerField(required=False, min_value=1, initial=1, label="At least (times)")
    days = forms.IntegerField(required=False, min_value=1, label="In the last (days)", help_text="Empty: ever.")
    filter_key = forms.CharField(required=False, max_length=100, label="Where event property")
    filter_op = forms.ChoiceField(choices=PROPERTY_OPS, required=False, label="Filter operator")
    filter_value = forms.CharField(required=False, max_length=500, label="Filter value")

    def condition(self) -> dict[str, Any]:
        """This row as a definition condition (validated later, with the whole definition)."""
        data = self.cleaned_data
        kind = data.get("type")
        if kind == "property":
            return {"type": kind, "key": data["key"], "op": data["property_op"] or "eq", "value": data["value"]}
        if kind == "consent":
            return {"type": kind, "op": data["consent"] or "eq", "value": data["consent_value"]}
        if kind == "test_profile":
            return {"type": kind, "value": data["test_profile"] != "false"}
        if kind == "date":
            out = {"type": kind, "field": data["date_field"], "op": data["date_op"], "value": data["value"]}
            if data["date_field"] == "property":
                out["key"] = data["key"]
            return out
        filters = []
        if data.get("filter_key"):
            filters.append({"key": data["filter_key"], "op": data["filter_op"] or "eq", "value": data["filter_value"]})
        return {
            "type": "event",
            "op": data["event_op"] or "did",
            "name": data["event_name"],
            "min_count": data["min_count"] or 1,
            "days": data["days"],
            "filters": filters,
        }


def condition_initial(group: int, condition: dict[str, Any]) -> dict[str, Any]:
    """A stored condition as the builder's initial form data."""
    kind = condition["type"]
    initial: dict[str, Any] = {"group": group, "type": kind}
    if kind == "property":
        value = condition.get("value")
        initial |= {
            "key": condition["key"],
            "property_op": condition["op"],
            "value": ", ".join(map(str, value)) if isinstance(value, list) else ("" if value is None else value),
        }
    elif kind == "consent":
        initial |= {"consent": condition.get("op", "eq"), "consent_value": condition["value"]}
    elif kind == "test_profile":
        initial["test_profile"] = "true" if condition.get("value", True) else "false"
    elif kind == "date":
        initial |= {
            "date_field": condition["field"],
            "date_op": condition["op"],
            "value": condition["value"],
            "key": condition.get("key", ""),
        }
    else:
        flt = (condition.get("filters") or [{}])[0]
        initial |= {
            "event_op": condition["op"],
            "event_name": condition["name"],
            "min_count": condition.get("min_count", 1),
            "days": condition.get("days"),
            "filter_key": flt.get("key", ""),
            "filter_op": flt.get("op", "eq"),
            "filter_value": flt.get("value", ""),
        }
    return initial


GroupFormSet = formset_factory(GroupForm, formset=EveryFormCounts, extra=0, min_num=1)
ConditionFormSet = formset_factory(ConditionForm, formset=EveryFormCounts, extra=0, min_num=1)

# Where a definition error lands in the builder: condition keys → form fields.
ERROR_FIELDS = {
    "key": "key",
    "op": None,
    "value": "value",
    "field": "date_field",
    "name": "event_name",
    "min_count": "min_count",
    "days": "days",
    "type": "type",
}
PATH_RE = re.compile(r"^groups\[(\d+)\]\.conditions\[(\d+)\]\.(?:filters\[\d+\]\.)?(\w+)$")


class SegmentBuilder:
    """The three parts of the builder page, bound together, producing one definition."""

    def __init__(self, data: Any | None = None, *, name: str = "", definition: dict[str, Any] | None = None) -> None:
        definition = definition or {"match": "all", "groups": [{"match": "all", "conditions": []}]}
        groups = definition.get("groups") or [{"match": "all", "conditions": []}]
        conditions = [condition_initial(i + 1, c) for i, g in enumerate(groups) for c in g.get("conditions", [])] or [
            {"group": 1, "type": "property", "property_op": "eq"}
        ]
        self.segment = SegmentForm(data, initial={"name": name, "match": definition.get("match", "all")})
        self.groups = GroupFormSet(data, prefix="groups", initial=[{"match": g.get("match", "all")} for g in groups])
        self.conditions = ConditionFormSet(data, prefix="conditions", initial=conditions)
        self.definition: dict[str, Any] | None = None
        self.quiet = False

    def is_valid(self, *, need_name: bool = True) -> bool:
        ok = self.groups.is_valid() & self.conditions.is_valid()
        name_ok = self.segment.is_valid() if need_name else ("match" not in self.segment.errors)
        if not (ok and (name_ok or not need_name)):
            return False
        group_count = len(self.groups.forms)
        grouped: list[list[tuple[ConditionForm, dict[str, Any]]]] = [[] for _ in range(group_count)]
        for form in self.conditions.forms:
            if not form.cleaned_data:
                continue
            group = form.cleaned_data["group"]
            if group > group_count:
                form.add_error("group", f"There are only {group_count} groups.")
                return False
            grouped[group - 1].append((form, form.condition()))
        match = self.segment.cleaned_data.get("match", "all") if hasattr(self.segment, "cleaned_data") else "all"
        definition = {
            "match": match,
            "groups": [
                {"match": self.groups.forms[i].cleaned_data["match"], "conditions": [c for _, c in grouped[i]]}
                for i in range(group_count)
            ],
        }
        try:
            self.definition = segment_definition_clean(definition)
        except ValidationError as exc:
            self._place_errors(exc.message_dict, grouped)
            return False
        return True

    def _place_errors(self, errors: dict[str, list[str]], grouped: list[list[tuple[Any, dict[str, Any]]]]) -> None:
        for path, messages in errors.items():
            match = PATH_RE.match(path)
            if match:
                g, c, key = int(match[1]), int(match[2]), match[3]
                form = grouped[g][c][0]
                field = "filter_value" if ".filters[" in path else ERROR_FIELDS.get(key)
                if key == "op":
                    field = {"property": "property_op", "date": "date_op", "event": "event_op", "consent": "consent"}[
                        form.cleaned_data["type"]
                    ]
                form.add_error(field, messages)
            elif path.startswith("groups[") and path.endswith(".conditions"):
                g = int(path[7 : path.index("]")])
                self.groups.forms[g].add_error(None, f"Group {g + 1}: {' '.join(messages)}")
            else:
                self.segment.add_error(None, " ".join(messages))

    @property
    def name(self) -> str:
        return str(self.segment.cleaned_data["name"])

    def hush(self) -> None:
        """Show the forms as typed but without errors: after adding or removing a row nothing was submitted yet."""
        for form in [self.segment, *self.groups.forms, *self.conditions.forms]:
            form._errors = ErrorDict()
        self.quiet = True  # the page leaves out the formsets' own errors too

    def grouped(self) -> list[dict[str, Any]]:
        """Each group's form with its conditions' (index, form), for the page to show conditions inside groups."""
        groups: list[dict[str, Any]] = [
            {"number": i + 1, "form": form, "conditions": []} for i, form in enumerate(self.groups.forms)
        ]
        if not groups:
            return []  # a tampered form count: nothing to place the conditions in
        for index, form in enumerate(self.conditions.forms):
            raw = form["group"].value()
            number = int(raw) if str(raw).isdigit() else 1
            groups[min(max(number, 1), len(groups)) - 1]["conditions"].append((index, form))
        return groups


# A posted form count is capped like Django's formsets cap it (absolute_max), so a tampered one costs nothing.
MAX_FORMS = 1000


def _count(data: Any, key: str) -> int:
    raw = str(data.get(key, "0") or "0")
    return min(int(raw), MAX_FORMS) if raw.isdigit() else 0


def _condition_add(data: Any, group: int) -> None:
    total = _count(data, "conditions-TOTAL_FORMS")
    data["conditions-TOTAL_FORMS"] = str(total + 1)
    data[f"conditions-{total}-group"] = str(group)
    data[f"conditions-{total}-type"] = "property"
    data[f"conditions-{total}-min_count"] = "1"


def _form_drop(data: Any, prefix: str, index: int) -> None:
    """Remove form `index` of a formset from posted data, moving the later forms down one place."""
    total = _count(data, f"{prefix}-TOTAL_FORMS")
    if not 0 <= index < total:
        return
    for i in range(index, total):
        for key in [k for k in data if k.startswith(f"{prefix}-{i}-")]:
            data.pop(key)
        for key in [k for k in data if k.startswith(f"{prefix}-{i + 1}-")]:
            data.setlist(f"{prefix}-{i}-" + key.removeprefix(f"{prefix}-{i + 1}-"), data.getlist(key))
    data[f"{prefix}-TOTAL_FORMS"] = str(total - 1)
    data[f"{prefix}-INITIAL_FORMS"] = str(min(_count(data, f"{prefix}-INITIAL_FORMS"), total - 1))


def builder_change(data: Any, action: str) -> Any:
    """The posted data after one of the builder's buttons: `add_condition:<group>`, `add_group`,
    `remove_condition:<index>` or `remove_group:<group>` (groups count from 1, conditions from 0)."""
    data = data.copy()
    verb, _, raw = action.partition(":")
    number = int(raw) if raw.isdigit() else 0
    groups = _count(data, "groups-TOTAL_FORMS")
    if verb == "add_group":
        data["groups-TOTAL_FORMS"] = str(groups + 1)
        data[f"groups-{groups}-match"] = "all"
        _condition_add(data, groups + 1)
    elif verb == "add_condition":
        _condition_add(data, min(max(number, 1), max(groups, 1)))
    elif verb == "remove_condition":
        _form_drop(data, "conditions", number)
    elif verb == "remove_group" and groups > 1 and 1 <= number <= groups:
        for index in reversed(range(_count(data, "conditions-TOTAL_FORMS"))):
            group = str(data.get(f"conditions-{index}-group", ""))
            if group == str(number):
                _form_drop(data, "conditions", index)
            elif group.isdigit() and int(group) > number:
                data[f"conditions-{index}-group"] = str(int(group) - 1)
        _form_drop(data, "groups", number - 1)
    return data
