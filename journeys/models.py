"""Journeys: an automated flow per contact. A Journey holds the editable draft; each publish freezes a JourneyVersion
that enrollments run on to the end; JourneyStep logs every node an enrollment executed (once, by a unique key)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone


class JourneyStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    LIVE = "live", "Live"
    PAUSED = "paused", "Paused"
    STOPPED = "stopped", "Stopped"


class Reentry(models.TextChoices):
    NEVER = "never", "Never"
    AFTER_DAYS = "after_days", "After some days"
    ALWAYS = "always", "Always (once the previous run has ended)"


class Journey(models.Model):
    name = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=JourneyStatus.choices, default=JourneyStatus.DRAFT)
    provider = models.ForeignKey(
        "providers.ProviderConfig",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="journeys",
        help_text="The number free-form texts go from; templates go from their own number. Empty: the first active.",
    )
    trigger = models.JSONField(default=dict, blank=True)
    reentry = models.CharField(max_length=16, choices=Reentry.choices, default=Reentry.NEVER)
    reentry_days = models.PositiveIntegerField(null=True, blank=True)
    goal_event = models.CharField(max_length=128, blank=True, help_text="Doing this event exits as converted.")
    entry_limit = models.PositiveIntegerField(null=True, blank=True, help_text="At most this many entries in total.")
    entered_count = models.PositiveIntegerField(default=0)
    quiet_hours_start = models.TimeField(null=True, blank=True, help_text="Contact's local time; sends wait until end.")
    quiet_hours_end = models.TimeField(null=True, blank=True)
    cap_messages = models.PositiveIntegerField(
        null=True, blank=True, help_text="Skip a send when the contact already got this many messages …"
    )
    cap_days = models.PositiveIntegerField(default=1, help_text="… in this many days.")
    # The draft definition; publishing copies it into a new JourneyVersion.
    entry_node = models.CharField(max_length=64, blank=True)
    nodes = models.JSONField(default=list, blank=True)
    # Where the canvas draws each node ({node id: [x, y]}), kept apart from `nodes` so the definition the API edits
    # and publish freezes stays as DESIGN "journey" has it; moving a box never makes a new version.
    layout = models.JSONField(default=dict, blank=True)
    current_version = models.ForeignKey(
        "journeys.JourneyVersion", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status"], name="journey_status_idx")]

    def __str__(self) -> str:
        return self.name


class JourneyVersion(models.Model):
    """A published definition; never changed once written."""

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    trigger = models.JSONField(default=dict)
    entry_node = models.CharField(max_length=64)
    nodes = models.JSONField(default=list)
    published_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["journey", "-number"]
        constraints = [models.UniqueConstraint(fields=["journey", "number"], name="journey_version_number_unique")]

    def __str__(self) -> str:
        return f"{self.journey} v{self.number}"

    def node_map(self) -> dict[str, dict[str, object]]:
        return {str(node["id"]): node for node in self.nodes if isinstance(node, dict) and "id" in node}


class EnrollmentState(models.TextChoices):
    ACTIVE = "active", "Active"  # claimed by a worker; next_run_at is the end of its lease
    WAITING = "waiting", "Waiting"
    COMPLETED = "completed", "Completed"
    EXITED = "exited", "Exited"


class WaitKind(models.TextChoices):
    NONE = "", "Not waiting: run the current node"
    TIMER = "timer", "Wait node"
    REPLY = "reply", "Waiting for a reply"
    STATUS = "status", "Waiting for a message status"
    QUIET = "quiet", "Quiet hours"


class ExitReason(models.TextChoices):
    NONE = "", "—"
    COMPLETED = "completed", "Reached an exit"
    CONVERTED = "converted", "Did the goal event"
    OPTED_OUT = "opted_out", "Opted out"
    HELD_OUT = "held_out", "Held out by a split"
    STOPPED = "stopped", "Journey stopped"
    ERROR = "error", "Definition error"


ENDED_STATES = (EnrollmentState.COMPLETED, EnrollmentState.EXITED)
RUNNABLE_STATES = (EnrollmentState.WAITING, EnrollmentState.ACTIVE)


class Enrollment(models.Model):
    """One contact's run through one version of a journey."""

    # Every index is rewritten on each step (state, node and next_run_at change), so only the ones a screen or the
    # runtime reads are kept: journey and contact are covered by the composite indexes below, version is never
    # searched by (deleting a version is refused anyway).
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="enrollments", db_index=False)
    version = models.ForeignKey(JourneyVersion, on_delete=models.PROTECT, related_name="enrollments", db_index=False)
    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.CASCADE, related_name="journey_enrollments", db_index=False
    )
    state = models.CharField(max_length=16, choices=EnrollmentState.choices, default=EnrollmentState.WAITING)
    node = models.CharField(max_length=64, help_text="The node being run or waited on.")
    wait_kind = models.CharField(max_length=8, choices=WaitKind.choices, blank=True, default=WaitKind.NONE)
    # Steps taken so far: the visit number of the next step, so a node visited twice logs (and sends) twice.
    steps = models.PositiveIntegerField(default=0)
    next_run_at = models.DateTimeField(null=True, blank=True)
    claim = models.CharField(max_length=32, blank=True, help_text="Token of the worker batch that holds it.")
    wait_message = models.ForeignKey(
        "providers.Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    wait_payload = models.CharField(max_length=255, blank=True)
    replied_at = models.DateTimeField(null=True, blank=True)
    # The reply id (interactive button or list row, template quick-reply payload) of the reply that woke the wait:
    # it picks the wait's reply option.
    replied_with = models.CharField(max_length=256, blank=True, db_default="")
    trigger_properties = models.JSONField(default=dict, blank=True)
    exit_reason = models.CharField(max_length=16, choices=ExitReason.choices, blank=True, default=ExitReason.NONE)
    entered_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-entered_at", "-id"]
        constraints = [
            # One run at a time per contact and journey, whatever the re-entry rule.
            models.UniqueConstraint(
                fields=["journey", "contact"],
                condition=Q(state__in=["active", "waiting"]),
                name="enrollment_one_running_unique",
            )
        ]
        indexes = [
            # The scheduler: only rows that can still run are in it, so its cost follows what is due.
            models.Index(
                fields=["next_run_at"], name="enrollment_due_idx", condition=Q(state__in=["active", "waiting"])
            ),
            # Wake-ups by inbound message, goal event or opt-out look up one contact's running enrollments.
            models.Index(fields=["contact", "state"], name="enrollment_contact_state_idx"),
            # Re-entry checks, and the journey's enrollments for stats.
            models.Index(fields=["journey", "contact", "-entered_at"], name="enrollment_journey_contact_idx"),
            models.Index(fields=["claim"], name="enrollment_claim_idx", condition=~Q(claim="")),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} in {self.journey_id} at {self.node} ({self.state})"


class StepOutcome(models.TextChoices):
    DONE = "done", "Done"
    SENT = "sent", "Sent"
    SKIPPED = "skipped", "Skipped"
    CAPPED = "capped", "Over the frequency cap"
    REFUSED = "refused", "Refused by the send rules"
    WAITING = "waiting", "Started waiting"
    REPLIED = "replied", "Replied"
    TIMED_OUT = "timed_out", "Timed out"
    YES = "yes", "Branch: yes"
    NO = "no", "Branch: no"
    EXITED = "exited", "Exited"


# Outcomes written when an enrollment leaves a wait; every other outcome marks an arrival at the node.
RESUME_OUTCOMES = (StepOutcome.REPLIED, StepOutcome.TIMED_OUT)


class JourneyStep(models.Model):
    """One node executed by one enrollment; (enrollment, node, visit) is unique, so a re-run step logs once."""

    # Covered by the unique (enrollment, node, visit) index; a second one would only slow the bulk inserts.
    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="log", db_index=False)
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="+", db_index=False)
    version = models.ForeignKey(JourneyVersion, on_delete=models.CASCADE, related_name="+", db_index=False)
    node = models.CharField(max_length=64)
    visit = models.PositiveIntegerField()
    outcome = models.CharField(max_length=16, choices=StepOutcome.choices)
    detail = models.CharField(max_length=255, blank=True)
    message = models.ForeignKey(
        "providers.Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["enrollment", "visit"]
        constraints = [
            models.UniqueConstraint(fields=["enrollment", "node", "visit"], name="journey_step_once_unique"),
        ]
        indexes = [
            # Per-node counts on the journey page.
            models.Index(fields=["journey", "node", "outcome"], name="journey_step_stats_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.enrollment_id} {self.node}#{self.visit}: {self.outcome}"


class SegmentMember(models.Model):
    """Who a segment-triggered journey last saw in its segment: a contact not in here yet has just entered it."""

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="segment_members")
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="+")
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["journey", "contact"], name="segment_member_unique")]

    def __str__(self) -> str:
        return f"{self.contact_id} in segment of journey {self.journey_id}"


class JourneyClock(models.Model):
    """The one clock that runs timed steps as they fall due (journeys.services.journeys_clock): its lease."""

    token = models.CharField(max_length=32, blank=True)
    until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Journey clock until {self.until}"
