"""Forms for the provider screens; saving goes through providers.services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from contacts.phones import phone_normalize
from providers.models import ApiVersion, MessageStatus, Origin, ProviderConfig

KEY_HELP = "The PKCS#8 PEM key Nexmo gave you when you created the application (-----BEGIN PRIVATE KEY----- …)."


class ProviderForm(forms.Form):
    """Add or edit a Nexmo number. Secrets are never rendered back: empty means "keep the one on file"."""

    phone_number = forms.CharField(label="Mobile Number", help_text="The WhatsApp Business number, e.g. +447700900000.")
    application_id = forms.CharField(label="App ID", max_length=64, help_text="Nexmo application id.")
    private_key = forms.CharField(
        label="Private Key", required=False, widget=forms.Textarea(attrs={"rows": 6}), help_text=KEY_HELP
    )
    private_key_file = forms.FileField(label="…or upload the key file", required=False)
    nickname = forms.CharField(max_length=100)
    auto_reply_enabled = forms.BooleanField(label="Auto-reply to users not tracked", required=False)
    auto_reply_text = forms.CharField(label="Auto-reply text", required=False, widget=forms.Textarea(attrs={"rows": 3}))
    signature_secret = forms.CharField(
        label="Signature secret (optional)",
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Your Nexmo account's signature secret: callbacks must then be signed.",
    )
    signature_secret_clear = forms.BooleanField(
        label="Remove the signature secret",
        required=False,
        help_text="Callbacks are then accepted unsigned: anyone who learns the callback URLs can forge them.",
    )
    api_version = forms.ChoiceField(label="API version", choices=ApiVersion.choices, initial=ApiVersion.V0_1)
    api_base_url = forms.URLField(
        label="API base URL",
        required=False,
        help_text="Empty: the default Nexmo host. Vonage's regional https hosts (api-eu.vonage.com, api-us.vonage.com, "
        "api-ap.vonage.com) and the origins of the setting NEXMO_ALLOWED_BASE_URLS are allowed.",
    )
    whatsapp_namespace = forms.CharField(label="WhatsApp namespace", max_length=100, required=False)
    # The model's own field (label, help, the digits-only rule): written once.
    waba_id = ProviderConfig._meta.get_field("waba_id").formfield()
    is_active = forms.BooleanField(label="Active", required=False, initial=True)
    max_messages_per_second = forms.IntegerField(
        label="Max messages per second",
        required=False,
        min_value=1,
        max_value=1000,
        initial=80,
        help_text="Every campaign, journey and test send on this number together stays under this "
        "(80 is WhatsApp's default tier; up to 1,000 once Meta raises it).",
    )

    def __init__(self, *args: Any, provider: ProviderConfig | None = None, **kwargs: Any) -> None:
        self.provider = provider
        if provider is not None:
            kwargs.setdefault(
                "initial",
                {
                    name: getattr(provider, name)
                    for name in (
                        "phone_number",
                        "application_id",
                        "nickname",
                        "auto_reply_enabled",
                        "auto_reply_text",
                        "api_version",
                        "api_base_url",
                        "whatsapp_namespace",
                        "waba_id",
                        "is_active",
                        "max_messages_per_second",
                    )
                },
            )
        super().__init__(*args, **kwargs)
        if provider is not None:
            self.fields["private_key"].label = "Replace private key"
            self.fields[
                "private_key"
            ].help_text = f"Key on file (SHA-256 {provider.private_key_fingerprint}). Leave empty to keep it."
            self.fields["signature_secret"].help_text += " Leave empty to keep the one on file."
        if provider is None or not provider.has_signature_secret:
            del self.fields["signature_secret_clear"]

    def clean_phone_number(self) -> str:
        return phone_normalize(self.cleaned_data["phone_number"])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("private_key_file")
        if upload:
            if upload.size > 64 * 1024:
                self.add_error("private_key_file", "A private key file is a few KiB; this one is too large.")
            else:
                try:
                    data["private_key"] = upload.read().decode()
                except UnicodeDecodeError:
                    self.add_error("private_key_file", "The file is not a text PEM key.")
        if self.provider is None and not data.get("private_key") and not self.has_error("private_key_file"):
            self.add_error("private_key", "Paste or upload the application's private key.")
        return data

    def service_data(self) -> dict[str, Any]:
        data = {k: v for k, v in self.cleaned_data.items() if k != "private_key_file"}
        if not data.get("private_key"):
            data.pop("private_key", None)
        if not data.get("signature_secret"):
            data.pop("signature_secret", None)
        if data.get("max_messages_per_second") is None:
            data.pop("max_messages_per_second", None)  # left empty: the default for a new number, else unchanged
        return data

    def apply_errors(self, error: ValidationError) -> None:
        """Show a service's ValidationError on the matching fields."""
        if hasattr(error, "error_dict"):
            for field, messages in error.message_dict.items():
                self.add_error(field if field in self.fields else None, messages)
        else:
            self.add_error(None, error.messages)


class TestMessageForm(forms.Form):
    country_code = forms.CharField(max_length=5, initial="+44", help_text="e.g. +44")
    number = forms.CharField(max_length=20, help_text="The number without the country code.")
    text = forms.CharField(label="Message", max_length=4096, widget=forms.Textarea(attrs={"rows": 3}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("country_code") and data.get("number"):
            code = "+" + data["country_code"].strip().lstrip("+").lstrip("0")
            try:
                data["to"] = phone_normalize(code + data["number"].strip().lstrip("0"))
            except ValidationError as exc:
                self.add_error("number", exc.messages)
        return data


class MessageFilterForm(forms.Form):
    direction = forms.ChoiceField(
        choices=[("", "Sent and received"), ("out", "Sent"), ("in", "Received")], required=False
    )
    status = forms.ChoiceField(choices=[("", "Any status"), *MessageStatus.choices], required=False)
    provider = forms.ModelChoiceField(queryset=ProviderConfig.objects.all(), required=False, empty_label="Any number")
    origin = forms.ChoiceField(choices=[("", "Any origin"), *Origin.choices], required=False)
    q = forms.CharField(label="Search", required=False, help_text="Number, message uuid or client_ref")
