"""Admin: providers without their secrets, the message log, inbound messages and refused/ignored callbacks."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from providers.models import CallbackLog, InboundMessage, Message, PendingStatus, ProviderConfig


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ProviderConfig)
class ProviderConfigAdmin(admin.ModelAdmin):
    # private_key and signature_secret are not editable model fields, so they never appear here; keys are
    # added and replaced on the provider screens, which validate them.
    list_display = ("nickname", "phone_number", "application_id", "api_version", "is_active")
    list_filter = ("is_active", "api_version")
    search_fields = ("nickname", "phone_number", "application_id")
    readonly_fields = ("private_key_fingerprint", "has_signature_secret", "callback_token", "created_at", "updated_at")
    fields = (
        "nickname",
        "phone_number",
        "application_id",
        "private_key_fingerprint",
        "has_signature_secret",
        "api_version",
        "api_base_url",
        "whatsapp_namespace",
        "waba_id",
        "auto_reply_enabled",
        "auto_reply_text",
        "opt_out_keywords",
        "opt_in_keywords",
        "is_active",
        "max_messages_per_second",
        "callback_token",
        "created_at",
        "updated_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a new number needs a validated private key: use Settings > Channels > WhatsApp

    @admin.display(boolean=True)
    def has_signature_secret(self, obj: ProviderConfig) -> bool:
        return obj.has_signature_secret


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "to", "provider", "origin", "status", "message_uuid", "error_code")
    list_filter = ("status", "provider", "origin")
    search_fields = ("to", "message_uuid", "client_ref")
    date_hierarchy = "created_at"
    list_select_related = ("provider",)


@admin.register(InboundMessage)
class InboundMessageAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "from_number", "provider", "content_type", "text", "button_payload", "button_text")
    list_filter = ("content_type", "provider")
    search_fields = ("from_number", "message_uuid", "text", "context_message_uuid")
    list_select_related = ("provider",)


@admin.register(CallbackLog)
class CallbackLogAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "provider", "kind", "response_status", "note")
    list_filter = ("kind", "response_status", "provider")


@admin.register(PendingStatus)
class PendingStatusAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "provider", "message_uuid", "client_ref", "status")
