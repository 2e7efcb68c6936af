from __future__ import annotations

import secrets

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from providers.nexmo.errors import error_in_words
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
    # The WhatsApp Business Account the number belongs to: Vonage's Template Management API is addressed by it
    # (https://developer.vonage.com/en/api/whatsapp-template-management). Its calls are signed with the same
    # application JWT as sends, so no further secret is needed.
    waba_id = models.CharField(
        "WhatsApp Business Account id",
        max_length=32,
        blank=True,
        validators=[RegexValidator(r"^[0-9]+$", "The WhatsApp Business Account id is a number (digits only).")],
        help_text="From WhatsApp Manager or the Vonage dashboard; needed to submit and sync templates.",
    )
    auto_reply_enabled = models.BooleanField(default=False)
    auto_reply_text = models.TextField(blank=True)
    opt_out_keywords = models.CharField(max_length=255, default="STOP,UNSUBSCRIBE")
    opt_in_keywords = models.CharField(max_length=255, default="START")
    is_active = models.BooleanField(default=True)
    # The number's own cap: every origin together (campaigns, journeys, test sends, auto-replies) never sends faster.
    max_messages_per_second = models.PositiveSmallIntegerField(
        "max messages per second",
        default=80,
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
        help_text="The number's WhatsApp throughput (80 by default, up to 1,000 once Meta raises the tier).",
    )
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


class MessageStatus(models.TextChoices):
    """One vocabulary everywhere (DESIGN "Message states"); statuses only move forward."""

    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SUBMITTED = "submitted", "Submitted"
    DELIVERED = "delivered", "Delivered"
    READ = "read", "Read"
    REJECTED = "rejected", "Rejected"
    UNDELIVERABLE = "undeliverable", "Undeliverable"
    FAILED = "failed", "Failed"
    UNKNOWN = "unknown", "Unknown"


# The statuses read together: not sent yet, reached the phone (read includes delivered), and every failure.
MESSAGE_WAITING = (MessageStatus.QUEUED.value, MessageStatus.SENDING.value)
MESSAGE_DELIVERED = (MessageStatus.DELIVERED.value, MessageStatus.READ.value)
MESSAGE_FAILED = (MessageStatus.FAILED.value, MessageStatus.REJECTED.value, MessageStatus.UNDELIVERABLE.value)


class Origin(models.TextChoices):
    TEST = "test", "Test send"
    CAMPAIGN = "campaign", "Campaign"
    JOURNEY = "journey", "Journey"
    AUTO_REPLY = "auto_reply", "Auto-reply"
    INBOX = "inbox", "Inbox reply"


class Message(models.Model):
    """One outbound message and everything Nexmo told us about it."""

    # Indexes here are few on purpose: every status callback rewrites a row and each index gets a new entry (the
    # outbox index's condition names the status, so a status change is never a HOT update; a callback that only
    # adds a time is). The foreign keys are covered by the composite indexes below, the unique ids by constraints
    # (no LIKE-pattern twins).
    provider = models.ForeignKey(ProviderConfig, on_delete=models.PROTECT, related_name="messages", db_index=False)
    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.SET_NULL, null=True, blank=True, related_name="messages", db_index=False
    )
    to = models.CharField(max_length=20, help_text="E.164.")
    status = models.CharField(max_length=16, choices=MessageStatus.choices, default=MessageStatus.QUEUED)
    message_uuid = models.CharField(max_length=64, null=True, blank=True)
    client_ref = models.CharField(max_length=100)
    origin = models.CharField(max_length=16, choices=Origin.choices)
    origin_ref = models.CharField(max_length=255, blank=True)
    content_type = models.CharField(max_length=16)
    content_summary = models.TextField(blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_reason = models.TextField(blank=True)
    price = models.DecimalField(max_digits=10, decimal_places=5, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    # The request as sent (no Authorization header: it never holds a secret) and Nexmo's answer.
    request_body = models.JSONField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The /messages/ page: newest first, optionally per provider (a status filter reads these in order).
            models.Index(fields=["provider", "-created_at"], name="message_provider_recent_idx"),
            # Also the dashboard: its week of counts by number, status and error code reads only this index (an
            # index-only scan where the visibility map allows). Carrying the status costs no HOT update: the outbox
            # index below has the status in its condition, so a status change rewrites every index entry anyway.
            models.Index(
                fields=["-created_at"], include=["provider", "status", "error_code"], name="message_recent_cover_idx"
            ),
            # Campaign and journey stats count their own messages.
            models.Index(fields=["origin", "origin_ref"], name="message_origin_idx"),
            # Frequency caps and the contact's message timeline: one contact's recent messages.
            models.Index(fields=["contact", "-created_at"], name="message_contact_recent_idx"),
            # The outbox of each number: what waits to be sent, oldest first (providers.messaging.outbox). Only
            # waiting rows are in it, so it stays small and costs a send's status changes nothing once it has left.
            models.Index(
                fields=["provider", "id"],
                name="message_outbox_idx",
                condition=models.Q(status="queued") & ~models.Q(origin="campaign"),
            ),
            # The inbox's replies waiting in that outbox, which go first: a handful, however many journey sends wait.
            models.Index(
                fields=["provider", "id"],
                name="message_outbox_replies_idx",
                condition=models.Q(status="queued", origin="inbox"),
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["message_uuid"], name="message_uuid_unique"),
            models.UniqueConstraint(fields=["client_ref"], name="message_client_ref_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.get_origin_display()} to {self.to}: {self.status}"

    @property
    def error_text(self) -> str:
        """The error in words, with Nexmo's code and reason (empty when there is none)."""
        return error_in_words(self.error_code, self.error_reason)


class InboundMessage(models.Model):
    """A message a customer sent to one of our numbers."""

    provider = models.ForeignKey(ProviderConfig, on_delete=models.PROTECT, related_name="inbound_messages")
    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.SET_NULL, null=True, blank=True, related_name="inbound_messages"
    )
    message_uuid = models.CharField(max_length=64, unique=True)
    from_number = models.CharField(max_length=50)
    to_number = models.CharField(max_length=50, blank=True)
    content_type = models.CharField(max_length=32)
    text = models.TextField(blank=True)
    media_url = models.URLField(max_length=2000, blank=True)
    # A tapped button or list row: the template quick reply's payload or the interactive reply's id, and its title.
    button_payload = models.CharField(max_length=256, blank=True)  # WhatsApp allows reply ids of 256 characters
    button_text = models.CharField(max_length=255, blank=True)
    # The message_uuid of our message this one answers (WhatsApp's reply context), when the customer replied to one.
    context_message_uuid = models.CharField(max_length=64, blank=True)
    location = models.JSONField(null=True, blank=True)
    profile_name = models.CharField(max_length=255, blank=True)
    # This message (re)opened a closed 24-hour window: the one that may earn the auto-reply.
    opened_window = models.BooleanField(default=False)
    raw = models.JSONField()
    received_at = models.DateTimeField(help_text="Nexmo's timestamp of the message.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["provider", "-received_at"], name="inbound_provider_recent_idx"),
            # The message log's received side and the dashboard's replies (who replied, from the index alone).
            models.Index(fields=["-received_at"], include=["contact"], name="inbound_recent_idx"),
            # The contact profile's message timeline.
            models.Index(fields=["contact", "-received_at"], name="inbound_contact_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.content_type} from {self.from_number}"

    @property
    def reply_id(self) -> str:
        """The id of the tapped button or list row (a template quick reply's payload)."""
        return self.button_payload

    @property
    def reply_title(self) -> str:
        """What the tapped button or list row said."""
        return self.button_text

    @property
    def from_display(self) -> str:
        """The sender's number as E.164 (Nexmo sends WhatsApp numbers as bare digits)."""
        return f"+{self.from_number}" if self.from_number.isdigit() else self.from_number

    @property
    def summary(self) -> str:
        """What the customer sent, in words: the text, the label of the button or list row they tapped, the media."""
        if self.button_text or self.button_payload:
            return f"Tapped “{self.button_text or self.button_payload}”"
        if self.media_url:
            return " ".join(part for part in (f"{self.content_type.capitalize()}:", self.text, self.media_url) if part)
        if self.text:
            return self.text
        if self.location:
            place = self.location.get("name") or self.location.get("address") or ""
            lat = self.location.get("latitude", self.location.get("lat", "?"))
            long = self.location.get("longitude", self.location.get("long", "?"))
            return f"Location: {place} ({lat}, {long})" if place else f"Location: {lat}, {long}"
        return f"({self.content_type})"


class PendingStatus(models.Model):
    """A status callback for a message we do not know yet (the send's answer is still on its way).

    Applied, then deleted, as soon as a message with this message_uuid or client_ref is recorded.
    """

    provider = models.ForeignKey(ProviderConfig, on_delete=models.CASCADE, related_name="pending_statuses")
    message_uuid = models.CharField(max_length=64)
    client_ref = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=32)
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            # A re-delivered callback is stored once.
            models.UniqueConstraint(fields=["message_uuid", "status"], name="pending_status_once"),
        ]
        indexes = [models.Index(fields=["client_ref"], name="pending_status_client_ref_idx")]

    def __str__(self) -> str:
        return f"{self.status} for {self.message_uuid}"


class OutboxLease(models.Model):
    """Who sends a number's outbox right now: one sender per number at a time (providers.messaging.outbox).

    Its own table, so that saving a provider from a form never touches the lease of a sender at work.
    """

    provider = models.OneToOneField(ProviderConfig, on_delete=models.CASCADE, primary_key=True, related_name="+")
    token = models.CharField(max_length=32, blank=True)
    until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Outbox of {self.provider_id} until {self.until}"


class CallbackKind(models.TextChoices):
    INBOUND = "inbound", "Inbound"
    STATUS = "status", "Status"


class CallbackLog(models.Model):
    """Raw callbacks worth a look: refused ones (400/401) and ones we acknowledged without acting on.

    Accepted callbacks live on as Message, InboundMessage or PendingStatus rows; logging them all here too would
    double the writes on the hottest path.
    """

    provider = models.ForeignKey(
        ProviderConfig, on_delete=models.CASCADE, null=True, blank=True, related_name="callback_logs"
    )
    kind = models.CharField(max_length=16, choices=CallbackKind.choices)
    response_status = models.PositiveSmallIntegerField()
    note = models.CharField(max_length=255)
    body = models.TextField(blank=True, help_text="First 4 KiB of the raw body.")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.response_status}: {self.note}"
