from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models

from whatsapp_project.encryption import EncryptedTextField


def callback_token_new() -> str:
    return secrets.token_urlsafe(24)


class ApiVersion(models.TextChoices):
    V0_1 = "v0.1", "v0.1"
    V1 = "v1", "v1"


class ProviderConfig(models.Model):
    """A WhatsApp Business number hosted on a provider account (Nexmo today; `kind` names the provider type)."""

    kind = models.CharField(max_length=32, default="nexmo")
    nickname = models.CharField(max_length=100, unique=True)
    phone_number = models.CharField(max_length=20, unique=True, help_text="E.164, e.g. +447700900000.")
    application_id = models.CharField(max_length=64)
    # Write-only secrets: encrypted at rest, never rendered back.
    private_key = EncryptedTextField()
    private_key_fingerprint = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the public key.")
    signature_secret = EncryptedTextField()
    api_version = models.CharField(max_length=8, choices=ApiVersion.choices, default=ApiVersion.V0_1)
    api_base_url = models.URLField(blank=True, help_text="Empty: the default Nexmo host from settings.")
    whatsapp_namespace = models.CharField(max_length=100, blank=True)
    auto_reply_enabled = models.BooleanField(default=False)
    auto_reply_text = models.TextField(blank=True)
    opt_out_keywords = models.CharField(max_length=255, default="STOP,UNSUBSCRIBE")
    opt_in_keywords = models.CharField(max_length=255, default="START")
    is_active = models.BooleanField(default=True)
    callback_token = models.CharField(max_length=64, unique=True, default=callback_token_new)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["nickname"]

    def __str__(self) -> str:
        return f"{self.nickname} ({self.phone_number})"

    @property
    def effective_api_base_url(self) -> str:
        return (self.api_base_url or settings.NEXMO_API_BASE_URL).rstrip("/")

    @property
    def has_signature_secret(self) -> bool:
        return bool(self.signature_secret)

    @property
    def inbound_callback_url(self) -> str:
        return f"{settings.PUBLIC_BASE_URL}/callbacks/nexmo/{self.callback_token}/inbound/"

    @property
    def status_callback_url(self) -> str:
        return f"{settings.PUBLIC_BASE_URL}/callbacks/nexmo/{self.callback_token}/status/"
