"""Campaigns: one template to one audience, personalised, scheduled and paced; recipients frozen at planning."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from contacts.models import Contact, Segment
from providers.models import Message, ProviderConfig
from templates_app.models import Template


class Audience(models.TextChoices):
    SEGMENT = "segment", "A segment"
    TEST_PROFILES = "test_profiles", "Test profiles"
    ALL_SUBSCRIBED = "all_subscribed", "Everyone subscribed"
    UPLOADED_LIST = "uploaded_list", "An uploaded list"


class AudienceList(models.Model):
    """An uploaded CSV of phone numbers and/or external ids, resolved to existing contacts when it was uploaded.

    The matched contacts are its members; the rows that matched nobody are counted, and the first few are kept with
    their reason so the marketer sees what was left out.
    """

    name = models.CharField(max_length=255, help_text="The uploaded file's name.")
    rows = models.PositiveIntegerField(default=0, help_text="Data rows read (blank lines aside).")
    matched = models.PositiveIntegerField(default=0, help_text="Distinct contacts the rows matched.")
    duplicates = models.PositiveIntegerField(default=0, help_text="Rows naming a contact already matched.")
    unmatched = models.PositiveIntegerField(default=0, help_text="Rows that matched no contact or were invalid.")
    problems = models.JSONField(default=list, blank=True, help_text="The first unmatched rows: line, value, reason.")
    created_by = models.ForeignKey("auth.User", on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.matched} contacts)"


class AudienceListMember(models.Model):
    audience_list = models.ForeignKey(AudienceList, on_delete=models.CASCADE, related_name="members")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="audience_list_memberships")

    class Meta:
        # One row per contact, however often the file names it; planning reads a list's members through this.
        constraints = [models.UniqueConstraint(fields=["audience_list", "contact"], name="audience_list_member_once")]

    def __str__(self) -> str:
        return f"{self.contact_id} in list {self.audience_list_id}"


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Scheduled"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class QuietHoursAction(models.TextChoices):
    DELAY = "delay", "Delay to the next allowed hour"
    SKIP = "skip", "Skip the contact"


class Campaign(models.Model):
    name = models.CharField(max_length=255)
    provider = models.ForeignKey(ProviderConfig, on_delete=models.PROTECT, related_name="campaigns")
    template = models.ForeignKey(Template, on_delete=models.PROTECT, related_name="campaigns")
    audience = models.CharField(max_length=16, choices=Audience.choices, default=Audience.SEGMENT)
    segment = models.ForeignKey(Segment, on_delete=models.PROTECT, null=True, blank=True, related_name="campaigns")
    audience_list = models.ForeignKey(
        AudienceList, on_delete=models.PROTECT, null=True, blank=True, related_name="campaigns"
    )
    variables = models.JSONField(default=dict, blank=True)
    header_media_url = models.URLField(max_length=2000, blank=True)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    # The scheduled wall-clock time applies in each contact's own timezone (contacts without one: the campaign's).
    local_time = models.BooleanField(default=False)
    quiet_start_hour = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MaxValueValidator(23)])
    quiet_end_hour = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MaxValueValidator(23)])
    quiet_action = models.CharField(max_length=8, choices=QuietHoursAction.choices, default=QuietHoursAction.DELAY)
    frequency_cap_count = models.PositiveIntegerField(null=True, blank=True)
    frequency_cap_days = models.PositiveIntegerField(null=True, blank=True)
    control_group_percent = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(50)])
    conversion_event = models.CharField(max_length=128, blank=True)
    conversion_window_hours = models.PositiveIntegerField(default=72)
    # Nexmo's default per-number throughput is 80/s and it can be raised to 1,000/s.
    throttle_per_second = models.PositiveIntegerField(
        default=80, validators=[MinValueValidator(1), MaxValueValidator(1000)]
    )
    status = models.CharField(max_length=16, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT)
    pause_reason = models.TextField(blank=True)
    planned_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # One worker at a time runs a campaign: it holds this lease and renews it after each batch.
    lease_until = models.DateTimeField(null=True, blank=True)
    # Rolled-up counts (see campaigns.selectors.campaign_stats_compute): pages read these, never COUNT 1M rows.
    stats = models.JSONField(default=dict, blank=True)
    stats_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey("auth.User", on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name

    @property
    def schedule_name(self) -> str:
        """The django-q2 Schedule that runs this campaign (one per campaign, updated in place)."""
        return f"campaign-run-{self.pk}"


class RecipientState(models.TextChoices):
    PLANNED = "planned", "Planned"
    SKIPPED = "skipped", "Skipped"
    QUEUED = "queued", "Queued"  # its Message exists; the Message's status says the rest
    CANCELLED = "cancelled", "Cancelled"


class SkipReason(models.TextChoices):
    OPTED_OUT = "opted_out", "Opted out"
    UNSUBSCRIBED = "unsubscribed", "Not subscribed"
    CAPPED = "capped", "Frequency cap"
    INVALID = "invalid", "Invalid number"
    CONTROL_GROUP = "control_group", "Control group"
    MISSING_VARIABLE = "missing_variable", "Missing variable"
    QUIET_HOURS = "quiet_hours", "Quiet hours"


class CampaignRecipient(models.Model):
    # No index of its own: the unique (campaign, contact) and the indexes below all start with it (planning inserts
    # a million rows into every index this table has).
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients", db_index=False)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="campaign_recipients")
    phone = models.CharField(max_length=20)
    state = models.CharField(max_length=16, choices=RecipientState.choices, default=RecipientState.PLANNED)
    skip_reason = models.CharField(max_length=20, choices=SkipReason.choices, blank=True)
    skip_detail = models.CharField(max_length=255, blank=True)
    # Every template slot's value, resolved once at planning (`{"1": "Ann", "2": "SPRING"}`): what is sent never
    # changes after launch. The request body is built from them when the recipient's message is prepared.
    parameters = models.JSONField(null=True, blank=True)
    send_after = models.DateTimeField(null=True, blank=True)
    # One message per recipient, ever; unique only where set, so planning (every row still without one) writes
    # nothing into that index.
    message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="campaign_recipients", db_index=False
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "contact"], name="campaign_recipient_once"),
            models.UniqueConstraint(
                fields=["message"], condition=models.Q(message__isnull=False), name="campaign_recipient_message_once"
            ),
        ]
        indexes = [
            # Dispatch: when the next waiting recipient's time comes (only rows that wait have a send_after).
            models.Index(
                fields=["campaign", "state", "send_after"],
                condition=models.Q(send_after__isnull=False),
                name="campaign_recipient_due_idx",
            ),
            # Dispatch: the next planned recipients in id order, read a batch at a time by the sending worker.
            models.Index(fields=["campaign", "state", "id"], name="campaign_recipient_next_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.phone} in {self.campaign_id}"
