"""The inbox's forms: the list's filters, the composer (text or template with its parameters), notes, assignment."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model

from conversations.models import Conversation
from providers.models import ProviderConfig
from templates_app.models import Template
from templates_app.rendering import template_slots
from templates_app.selectors import templates_approved

# The list's tabs: what each shows (selectors.conversations_list arguments).
VIEWS: dict[str, tuple[str, dict[str, Any]]] = {
    "open": ("Open", {"status": "open"}),
    "mine": ("Mine", {"status": "open", "assignee": "me"}),
    "unassigned": ("Unassigned", {"status": "open", "assignee": "none"}),
    "unread": ("Unread", {"unread": True}),
    "closed": ("Closed", {"status": "closed"}),
    "all": ("All", {}),
}


class InboxFilterForm(forms.Form):
    view = forms.ChoiceField(choices=[(key, label) for key, (label, _) in VIEWS.items()], required=False)
    search = forms.CharField(
        required=False,
        max_length=100,
        label="Search",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name or number"}),
    )
    provider = forms.ModelChoiceField(
        queryset=ProviderConfig.objects.all(), required=False, empty_label="All numbers", label="Number"
    )

    def filters(self) -> dict[str, Any]:
        """selectors.conversations_list arguments from the valid fields (an invalid one is ignored and shown)."""
        data = self.cleaned_data if self.is_valid() else {}
        _, arguments = VIEWS.get(data.get("view") or "open", VIEWS["open"])
        provider = data.get("provider")
        return {**arguments, "search": data.get("search") or "", "provider": provider.pk if provider else None}


class ReplyForm(forms.Form):
    text = forms.CharField(
        label="Your reply",
        max_length=4096,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Write a reply…"}),
        error_messages={"required": "The reply is empty: write a message first."},
    )
    button_1 = forms.CharField(label="Button 1", required=False, max_length=20)
    button_2 = forms.CharField(label="Button 2", required=False, max_length=20)
    button_3 = forms.CharField(label="Button 3", required=False, max_length=20)

    def buttons(self) -> list[dict[str, Any]]:
        """The reply buttons the agent wrote (their titles), none when all three are empty."""
        return [{"title": self.cleaned_data.get(f"button_{n}", "")} for n in (1, 2, 3)]


class TemplateChoiceForm(forms.Form):
    template = forms.ModelChoiceField(queryset=Template.objects.none(), empty_label="Choose an approved template…")

    def __init__(self, *args: Any, conversation: Conversation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["template"]
        assert isinstance(field, forms.ModelChoiceField)
        # Only what WhatsApp lets this number send outside the window: its own approved templates.
        field.queryset = templates_approved(provider=conversation.provider_id).order_by("name", "language")


class TemplateReplyForm(forms.Form):
    """One field per value the chosen template needs (templates_app.rendering slots), named `p_<slot key>`."""

    template = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, template: Template, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.chosen = template
        self.fields["template"].initial = template.pk
        for slot in template_slots(template):
            if slot.kind in ("header_location",):
                continue  # a location header uses the template's own pin
            self.fields[f"p_{slot.key}"] = forms.CharField(
                label=f"Value for {slot.label}",
                required=slot.required,
                max_length=1024,
                help_text="" if slot.required else "Optional: the template's own value is used when left empty.",
            )

    def parameters(self) -> dict[str, str]:
        return {
            name.removeprefix("p_"): value
            for name, value in self.cleaned_data.items()
            if name.startswith("p_") and value
        }


class NoteForm(forms.Form):
    text = forms.CharField(
        label="Note",
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "Only your team sees notes"}),
        error_messages={"required": "Write the note first; an empty note is not saved."},
    )


class AssignForm(forms.Form):
    user = forms.ModelChoiceField(
        queryset=get_user_model().objects.filter(is_active=True).order_by("username"),
        required=False,
        empty_label="Nobody (unassigned)",
        label="Assign to",
    )
