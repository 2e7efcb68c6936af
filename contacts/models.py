from __future__ import annotations

from datetime import datetime, timedelta

from django.db import models
from django.utils import timezone

# WhatsApp allows free-form messages only within 24 hours of the customer's last message.
CONVERSATION_WINDOW = timedelta(hours=24)


class Consent(models.TextChoices):
    SUBSCRIBED = "subscribed", "Subscribed"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    UNTRACKED = "untracked", "Untracked"


class Contact(models.Model):
    external_id = models.CharField(
        max_length=255, unique=True, null=True, blank=True, help_text="The customer's id in your own systems."
    )
    phone = models.CharField(max_length=20, unique=True, help_text="E.164, e.g. +447700900001.")
    name = models.CharField(max_length=255, blank=True)
    email = models.EmailField(blank=True)
    timezone = models.CharField(max_length=64, blank=True, help_text="IANA name, e.g. Europe/London.")
    language = models.CharField(max_length=16, blank=True, help_text="WhatsApp locale, e.g. en_GB.")
    properties = models.JSONField(default=dict, blank=True)
    whatsapp_consent = models.CharField(max_length=16, choices=Consent.choices, default=Consent.UNTRACKED)
    consent_source = models.CharField(max_length=64, blank=True)
    consent_changed_at = models.DateTimeField(null=True, blank=True)
    is_test_profile = models.BooleanField(default=False)
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The "test profiles" pickers list only these few rows.
            models.Index(
                fields=["is_test_profile"],
                name="contact_test_profile_idx",
                condition=models.Q(is_test_profile=True),
            ),
            models.Index(fields=["whatsapp_consent"], name="contact_consent_idx"),
        ]

    def __str__(self) -> str:
        return self.name or self.phone

    def window_open(self, now: datetime | None = None) -> bool:
        """Whether WhatsApp allows a free-form message to this contact right now."""
        if self.last_inbound_at is None:
            return False
        return (now or timezone.now()) - self.last_inbound_at < CONVERSATION_WINDOW


class ConsentChange(models.Model):
    """One row per change of a contact's WhatsApp consent: the profile's consent history."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="consent_changes")
    consent = models.CharField(max_length=16, choices=Consent.choices)
    source = models.CharField(max_length=64, help_text="What changed it: import, api, ui, inbound keyword …")
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["contact", "-changed_at"], name="consent_change_contact_idx")]

    def __str__(self) -> str:
        return f"{self.consent} via {self.source} at {self.changed_at:%Y-%m-%d %H:%M}"
