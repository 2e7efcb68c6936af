"""The shared inbox: one Conversation per (WhatsApp number, contact), opened by what the customer writes, with the
team's internal notes beside it."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from contacts.models import CONVERSATION_WINDOW


class ConversationStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


# A person handles the conversation: the auto-reply stays quiet and journeys hold their sends to the contact.
HELD = Q(status=ConversationStatus.OPEN, assignee__isnull=False)


class Conversation(models.Model):
    """A customer's thread with one of our numbers. Inbound messages open (or reopen) it and count as unread; our
    own sends (inbox, campaigns, journeys) show in it but never open it."""

    provider = models.ForeignKey("providers.ProviderConfig", on_delete=models.PROTECT, related_name="conversations")
    # Covered by the unique (contact, provider) constraint below, which starts with the contact.
    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.CASCADE, related_name="conversations", db_index=False
    )
    status = models.CharField(max_length=8, choices=ConversationStatus.choices, default=ConversationStatus.OPEN)
    # While set (and the conversation open) a person handles the chat: no auto-reply, journeys hold their sends.
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="conversations",
        db_index=False,
    )
    unread_count = models.PositiveIntegerField(default=0)
    last_message_at = models.DateTimeField(default=timezone.now)
    # One line of the latest message, for the list (so the list never reads the message tables).
    last_message_text = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_message_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["contact", "provider"], name="conversation_contact_provider_unique"),
        ]
        indexes = [
            # The inbox's default screen (open conversations, latest first): only open rows, so it stays small.
            models.Index(
                fields=["-last_message_at", "-id"],
                name="conv_inbox_open_idx",
                condition=Q(status="open"),
            ),
            # The inbox with "all" or "closed": every conversation, latest first.
            models.Index(fields=["-last_message_at", "-id"], name="conv_inbox_recent_idx"),
            # The inbox's "unread" filter and the navigation's unread badge: only conversations with something new.
            models.Index(
                fields=["-last_message_at", "-id"],
                name="conv_inbox_unread_idx",
                condition=Q(unread_count__gt=0),
            ),
            # The inbox's "mine" filter and any assignee's list (and the journeys' hold, by contact, uses the unique).
            models.Index(
                fields=["assignee", "-last_message_at"],
                name="conv_inbox_assignee_idx",
                condition=Q(assignee__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contact} on {self.provider}"

    @property
    def window_expires_at(self) -> datetime | None:
        """The end of the 24-hour window, from the contact's last inbound message (the rule the send checks use)."""
        last = self.contact.last_inbound_at
        return last + CONVERSATION_WINDOW if last is not None else None

    @property
    def window_open(self) -> bool:
        return self.contact.window_open()

    @property
    def is_held(self) -> bool:
        """HELD, for a row in hand."""
        return self.status == ConversationStatus.OPEN and self.assignee_id is not None


class Note(models.Model):
    """An internal note on a conversation: the team sees it in the thread, the customer never does."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="notes", db_index=False)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        # The thread's notes, in time order.
        indexes = [models.Index(fields=["conversation", "created_at"], name="conv_note_thread_idx")]

    def __str__(self) -> str:
        return f"Note on {self.conversation_id}: {self.text[:40]}"
