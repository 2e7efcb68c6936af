"""UI forms. The rules themselves live in `templates_app.rules`; these forms only map them onto their fields."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from contacts.models import Contact
from contacts.phones import phone_list_split
from providers.models import ProviderConfig
from templates_app.models import LANGUAGES, Category, HeaderType, Status, Template
from templates_app.rendering import TemplateRenderError, TemplateVariableMissing, template_slots, template_values
from templates_app.rules import BUTTON_TYPES, BUTTONS_MAX, namespace_problem, template_problems
from templates_app.selectors import template_test_profiles
from templates_app.sync import ExampleFile, example_file, submit_examples_needed

BUTTON_SLOTS = BUTTONS_MAX  # every button WhatsApp allows; the editor shows a slot once the one before it is used
BUTTON_TYPE_LABELS = {"quick_reply": "Quick reply", "url": "URL", "phone_number": "Phone number"}
BUTTON_TYPE_CHOICES = [("", "—"), *[(kind, BUTTON_TYPE_LABELS[kind]) for kind in BUTTON_TYPES]]
# Where a button's value goes in the stored JSON, by button type.
BUTTON_VALUE_KEY = {"quick_reply": "payload", "url": "url", "phone_number": "phone_number"}


def _any_choice(choices: Any, label: str) -> list[tuple[str, str]]:
    return [("", label), *[(str(value), str(text)) for value, text in choices]]


class TemplateFilterForm(forms.Form):
    provider = forms.ModelChoiceField(ProviderConfig.objects.all(), required=False, empty_label="All providers")
    status = forms.ChoiceField(choices=_any_choice(Status.choices, "Any status"), required=False)
    language = forms.ChoiceField(choices=_any_choice(LANGUAGES, "Any language"), required=False)
    category = forms.ChoiceField(choices=_any_choice(Category.choices, "Any category"), required=False)


class TemplateForm(forms.ModelForm):
    whatsapp_namespace = forms.CharField(
        required=False,
        label="WhatsApp namespace",
        help_text="Asked once per provider, with its first template (WhatsApp Manager › Message templates).",
    )
    location_latitude = forms.FloatField(required=False, label="Location latitude")
    location_longitude = forms.FloatField(required=False, label="Location longitude")
    location_name = forms.CharField(required=False, label="Location name")
    location_address = forms.CharField(required=False, label="Location address")

    class Meta:
        model = Template
        fields = [
            "provider",
            "name",
            "language",
            "category",
            "status",
            "header_type",
            "header_text",
            "header_media_url",
            "body",
            "footer",
        ]
        widgets = {"body": forms.Textarea(attrs={"rows": 6})}
        labels = {"header_media_url": "Header example media URL"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["header_text"].help_text = "At most 60 characters and one variable, {{1}}."
        self.fields["body"].help_text = "At most 1024 characters; variables {{1}}, {{2}} … without gaps."
        self.fields["footer"].help_text = "At most 60 characters, no variables."
        for index in range(1, BUTTON_SLOTS + 1):
            self.fields[f"button_{index}_type"] = forms.ChoiceField(
                choices=BUTTON_TYPE_CHOICES, required=False, label=f"Button {index} type"
            )
            self.fields[f"button_{index}_text"] = forms.CharField(required=False, label=f"Button {index} text")
            self.fields[f"button_{index}_value"] = forms.CharField(
                required=False,
                label=f"Button {index} URL, phone or payload",
                help_text="URL (may end with {{1}}), E.164 phone number, or an optional quick-reply payload.",
            )
        buttons = self.instance.buttons if self.instance.pk else []
        for index, button in enumerate(buttons[:BUTTON_SLOTS], start=1):
            kind = button.get("type", "")
            self.initial[f"button_{index}_type"] = kind
            self.initial[f"button_{index}_text"] = button.get("text", "")
            self.initial[f"button_{index}_value"] = button.get(BUTTON_VALUE_KEY.get(kind, ""), "")
        location = self.instance.header_location or {}
        for key in ("latitude", "longitude", "name", "address"):
            self.initial.setdefault(f"location_{key}", location.get(key))
        # The namespace is only asked for while the provider has none.
        if self.instance.pk or not ProviderConfig.objects.filter(whatsapp_namespace="").exists():
            del self.fields["whatsapp_namespace"]

    def _buttons(self) -> list[dict[str, str]]:
        buttons = []
        for index in range(1, BUTTON_SLOTS + 1):
            kind = self.cleaned_data.get(f"button_{index}_type") or ""
            text = (self.cleaned_data.get(f"button_{index}_text") or "").strip()
            value = (self.cleaned_data.get(f"button_{index}_value") or "").strip()
            if not kind and not text and not value:
                continue
            button = {"type": kind, "text": text}
            if kind in BUTTON_VALUE_KEY and value:
                button[BUTTON_VALUE_KEY[kind]] = value
            buttons.append(button)
        return buttons

    def _location(self) -> dict[str, Any]:
        data = self.cleaned_data
        if data.get("header_type") != HeaderType.LOCATION:
            return {}
        location: dict[str, Any] = {
            "latitude": data.get("location_latitude"),
            "longitude": data.get("location_longitude"),
        }
        for key in ("name", "address"):
            if data.get(f"location_{key}"):
                location[key] = data[f"location_{key}"]
        return location if any(value is not None for value in location.values()) else {}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        buttons = self._buttons()
        # Which form slot each stored button came from, so a problem with button n lands on its own inputs.
        slot_of_button = [
            i
            for i in range(1, BUTTON_SLOTS + 1)
            if any(self.cleaned_data.get(f"button_{i}_{part}") for part in ("type", "text", "value"))
        ]
        cleaned["buttons"] = buttons
        cleaned["header_location"] = self._location()
        candidate = Template(
            provider=cleaned.get("provider"),
            **{name: cleaned.get(name, "") for name in ("name", "language", "category", "status", "header_type")},
            header_text=cleaned.get("header_text", ""),
            header_media_url=cleaned.get("header_media_url", ""),
            header_location=cleaned["header_location"],
            body=cleaned.get("body", ""),
            footer=cleaned.get("footer", ""),
            buttons=buttons,
        )
        for problem in template_problems(candidate):
            if problem.button is not None:
                slot = slot_of_button[problem.button]
                key = {"type": "type", "text": "text"}.get(problem.button_key or "", "value")
                field = f"button_{slot}_{key}"
                message = problem.message
            elif problem.field == "header_location":
                field, message = "location_latitude", problem.message
            elif problem.field == "buttons":
                field, message = "button_1_type", problem.message
            else:
                field, message = problem.field, problem.message
            if field not in self.errors:
                self.add_error(field, message)
        provider = cleaned.get("provider")
        if "whatsapp_namespace" in self.fields and isinstance(provider, ProviderConfig):
            trouble = namespace_problem(provider=provider, namespace=cleaned.get("whatsapp_namespace", "").strip())
            if trouble:
                self.add_error("whatsapp_namespace", trouble)
        return cleaned

    def template_data(self) -> dict[str, Any]:
        """The cleaned values in the shape the services take."""
        fields = [name for name in self.Meta.fields if name != "provider"]
        data = {name: self.cleaned_data[name] for name in fields}
        data.update(buttons=self.cleaned_data["buttons"], header_location=self.cleaned_data["header_location"])
        return data

    def add_service_errors(self, error: ValidationError) -> None:
        """Show a service's ValidationError on this form's fields (unknown keys at the top)."""
        for name, messages in error.message_dict.items():
            self.add_error(name if name in self.fields else None, messages)


class TemplateSubmitForm(forms.Form):
    """An example value for each variable of a draft: WhatsApp's reviewers read the template with them filled in."""

    FIELD_LABELS = {"waba_id": "WhatsApp Business Account id", "private_key": "Credentials", "examples": "Examples"}
    OWN_FIELDS = ("header_file",)

    def __init__(self, *args: Any, template: Template, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)

        self.keys: dict[str, str] = {}
        if template.header_type in (HeaderType.IMAGE, HeaderType.VIDEO):
            self.fields["header_file"] = forms.FileField(
                label=f"Example {template.header_type} for the header",
                help_text="JPEG or PNG image, or MP4 video, up to 16 MB: what WhatsApp's reviewers look at.",
            )
        for key, label in submit_examples_needed(template):
            name = "example_" + key.replace(".", "_")
            self.keys[name] = key
            self.fields[name] = forms.CharField(
                label=f"Example of {label}", max_length=1000, help_text="What a customer might see here."
            )

    def examples(self) -> dict[str, str]:
        return {key: self.cleaned_data[name] for name, key in self.keys.items()}

    def header_file(self) -> ExampleFile | None:
        upload = self.cleaned_data.get("header_file")
        return example_file(upload) if upload else None

    def add_service_errors(self, error: ValidationError) -> None:
        """The service names the template's fields; here they are shown above the form, each with its field."""
        for name, messages in error.message_dict.items():
            if name in self.OWN_FIELDS and name in self.fields:
                self.add_error(name, messages)
                continue
            label = self.FIELD_LABELS.get(name, name.replace("_", " ").capitalize())
            prefix = "" if name == "__all__" else f"{label}: "
            self.add_error(None, [f"{prefix}{message}" for message in messages])


class TemplateCopyForm(forms.Form):
    language = forms.ChoiceField(choices=LANGUAGES)
    name = forms.CharField(max_length=512, help_text="Usually the same name: WhatsApp groups translations by name.")


class TemplateImportForm(forms.Form):
    provider = forms.ModelChoiceField(ProviderConfig.objects.all())
    file = forms.FileField(help_text="A JSON file written by Export.")
    whatsapp_namespace = forms.CharField(
        required=False,
        label="WhatsApp namespace",
        help_text="Only needed if the provider has none and the file neither.",
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        try:
            return json.loads(upload.read().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValidationError(f"This is not a JSON export: {error}.") from None


class TestSendForm(forms.Form):
    contacts = forms.ModelMultipleChoiceField(
        Contact.objects.none(), required=False, widget=forms.CheckboxSelectMultiple, label="Test profiles"
    )
    to = forms.CharField(
        required=False,
        label="Or phone numbers",
        max_length=2000,
        help_text="With the country code, e.g. +44 7700 900001; separate several with commas.",
    )

    def __init__(self, *args: Any, template: Template, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.template = template
        self.fields["contacts"].queryset = template_test_profiles()  # type: ignore[attr-defined]
        for slot in template_slots(template):
            self.fields[self.parameter_field(slot.key)] = forms.CharField(
                required=False,
                label=f"Value for {slot.label}",
                initial=slot.default if isinstance(slot.default, str) else "",
                help_text="Optional." if not slot.required else "",
            )

    @staticmethod
    def parameter_field(key: str) -> str:
        return "param_" + key.replace(".", "_")

    def parameters(self) -> dict[str, str]:
        values = {}
        for slot in template_slots(self.template):
            value = (self.cleaned_data.get(self.parameter_field(slot.key)) or "").strip()
            if value:
                values[slot.key] = value
        return values

    def numbers(self) -> list[str]:
        return phone_list_split(self.cleaned_data.get("to") or "")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("contacts") and not self.numbers():
            self.add_error("to", "Choose a test profile or enter a phone number.")
        try:
            template_values(self.template, parameters=self.parameters())
        except TemplateVariableMissing as missing:
            self.add_error(self.parameter_field(missing.variable), str(missing))
        except TemplateRenderError as error:
            self.add_error(None, str(error))
        return cleaned
