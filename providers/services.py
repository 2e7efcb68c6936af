"""Writes for providers and messages: sending, logging and applying callbacks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import models

from contacts.models import Contact
from providers.content import Content
from providers.models import ProviderConfig


class SendRefused(Exception):
    """Refused before Nexmo was called (outside the 24-hour window, bad number, opted out, inactive provider).

    The message says why and, where it helps, what to do about it.
    """


@dataclass(frozen=True, slots=True)
class SendResult:
    message: models.Model  # the logged providers.Message
    status_code: int | None  # Nexmo's HTTP status; None when no answer came (the message is then `unknown`)
    body: dict[str, Any] | None  # Nexmo's JSON answer: {"message_uuid": …} or problem+json

    @property
    def ok(self) -> bool:
        return self.status_code == 202


def message_send(
    *,
    provider: ProviderConfig,
    to: str,
    content: Content,
    origin: str,
    origin_ref: str,
    contact: Contact | None = None,
) -> SendResult:
    """Send one message now and log it. `origin` is test | campaign | journey | auto_reply; `origin_ref` names the
    test/campaign/journey node so that (origin, origin_ref, recipient) gives a deterministic client_ref."""
    raise NotImplementedError("message_send is provided by the providers capability")
