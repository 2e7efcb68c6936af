from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
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
    # The import that last wrote this row: a second row for the same contact in one file is a duplicate.
    last_import = models.ForeignKey(
        "contacts.ContactImport",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # only read row by row during an import; an index would slow every bulk write
        # No database constraint: it would check every row an import writes against ContactImport (a lookup and a
        # row lock each). The pointer only says "written by this import"; deleting an import through Django still
        # sets it to NULL, and an id that points nowhere would only mean "not written by the running import".
        db_constraint=False,
    )
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

    # Not indexed on its own: consent_change_contact_idx starts with the contact, so it serves those lookups too.
    # No database constraint: an import writes one row here per contact whose consent it sets, and PostgreSQL would
    # check each against the contact and lock that contact row (CPU and WAL per row, about a fifth of an import's
    # cost). Rows are only written next to their contact, and deleting contacts through Django deletes their history.
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="consent_changes", db_index=False, db_constraint=False
    )
    consent = models.CharField(max_length=16, choices=Consent.choices)
    source = models.CharField(max_length=64, help_text="What changed it: import, api, ui, inbound keyword …")
    # The database default lets imports COPY history rows without naming this column.
    reason = models.CharField(
        max_length=255, blank=True, default="", db_default="", help_text="Why, when a person changed it by hand."
    )
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["contact", "-changed_at"], name="consent_change_contact_idx")]

    def __str__(self) -> str:
        return f"{self.consent} via {self.source} at {self.changed_at:%Y-%m-%d %H:%M}"


class Event(models.Model):
    """Something a contact did, reported by the customer's systems; segments and journeys read these."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="events")
    name = models.CharField(max_length=128)
    properties = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField(default=timezone.now)
    # The sender's own id for the event: a retried batch is recognised by it and stored once.
    event_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            # Segments: "did EVENT at least N times in the last D days" scans one name over a time range and
            # groups by contact; the contact column rides along so the scan never visits the table.
            models.Index(fields=["name", "occurred_at", "contact"], name="event_name_time_idx"),
            # Profile timeline and per-contact probes ("did not do EVENT").
            models.Index(fields=["contact", "name", "occurred_at"], name="event_contact_name_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} at {self.occurred_at:%Y-%m-%d %H:%M}"


class Segment(models.Model):
    """A saved audience: AND/OR groups of conditions compiled to one query (contacts.segments)."""

    name = models.CharField(max_length=255)
    definition = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class ImportStatus(models.TextChoices):
    MAPPING = "mapping", "Waiting for column mapping"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


class ContactImport(models.Model):
    """One CSV upload: its column mapping, progress and counts; per-row problems live in ContactImportError."""

    file_path = models.CharField(max_length=500, help_text="Where the upload is kept until it has been imported.")
    original_name = models.CharField(max_length=255)
    size_bytes = models.BigIntegerField(default=0)
    columns = models.JSONField(default=list, help_text="The header row, as found in the file.")
    mapping = models.JSONField(default=dict, help_text="CSV column → contact field, `properties.<key>` or `ignore`.")
    default_country = models.CharField(
        max_length=2,
        blank=True,
        help_text="Region code (e.g. GB) for phone numbers written without their country code; blank: none.",
    )
    status = models.CharField(max_length=16, choices=ImportStatus.choices, default=ImportStatus.MAPPING)
    error = models.TextField(blank=True, help_text="Why the whole file was refused, if it was.")
    rows_processed = models.BigIntegerField(default=0)
    bytes_processed = models.BigIntegerField(default=0)
    created_count = models.BigIntegerField(default=0)
    updated_count = models.BigIntegerField(default=0)
    skipped_count = models.BigIntegerField(default=0)
    invalid_count = models.BigIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="contact_imports"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Import #{self.pk} ({self.original_name})"

    @property
    def progress_percent(self) -> int:
        """Share of the file read so far, by bytes (rows are unknown until the end)."""
        if self.status == ImportStatus.COMPLETED:
            return 100
        if not self.size_bytes:
            return 0
        return min(99, int(self.bytes_processed * 100 / self.size_bytes))

    @property
    def is_finished(self) -> bool:
        return self.status in (ImportStatus.COMPLETED, ImportStatus.FAILED)


class ContactImportError(models.Model):
    """One refused or skipped CSV row and why; downloadable as CSV from the import page."""

    contact_import = models.ForeignKey(ContactImport, on_delete=models.CASCADE, related_name="row_errors")
    row_number = models.BigIntegerField(help_text="Line in the file, counting the header as line 1.")
    kind = models.CharField(max_length=16, help_text="invalid or skipped")
    message = models.TextField()
    values = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["row_number", "id"]
        indexes = [models.Index(fields=["contact_import", "row_number"], name="import_error_row_idx")]

    def __str__(self) -> str:
        return f"Row {self.row_number}: {self.message}"
