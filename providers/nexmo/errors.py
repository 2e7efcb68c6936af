"""One error type for everything that can go wrong talking to Nexmo, with the retry decision attached."""

from __future__ import annotations

import datetime
import email.utils
from typing import Any

# 429 (throttled) and 5xx are worth retrying later; any other 4xx will fail the same way again.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


class NexmoError(Exception):
    """Nexmo refused the request (RFC 7807 problem+json), or we could not reach it at all.

    `status` is None when no HTTP answer came back (connection refused, DNS, connect timeout): the request never
    reached Nexmo, so it is safe to retry.
    """

    def __init__(
        self,
        *,
        status: int | None,
        title: str,
        detail: str = "",
        type: str = "",
        instance: str = "",
        invalid_parameters: list[dict[str, Any]] | None = None,
        body: dict[str, Any] | None = None,
        retry_after: float | None = None,
        permanent: bool = False,
        code: str = "",
    ) -> None:
        self.status = status
        self.retry_after = retry_after  # seconds, from a Retry-After header when Nexmo sent one
        # Refused before any request (a base URL we may not use, a key that cannot sign): trying again cannot help.
        self.permanent = permanent
        self._code = code
        self.title = title
        self.detail = detail
        self.type = type
        self.instance = instance
        self.invalid_parameters = invalid_parameters or []
        self.body = body
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"HTTP {self.status}" if self.status is not None else "no answer"
        text = f"{self.title}: {self.detail}" if self.detail else self.title
        return f"Nexmo error ({where}): {text}"

    @property
    def retryable(self) -> bool:
        if self.permanent:
            return False
        return self.status is None or self.status in RETRYABLE_STATUSES or self.status >= 500

    @property
    def code(self) -> str:
        """Nexmo's error code, the fragment of its `type` URL (`…/messages-olympus#1010` → `1010`)."""
        if self._code:
            return self._code
        if "#" in self.type:
            return self.type.rsplit("#", 1)[1]
        return str(self.status) if self.status is not None else "connection"

    @classmethod
    def from_response(cls, status: int, body: Any, *, retry_after: str | None = None) -> NexmoError:
        """Map an error answer to NexmoError; bodies that are not problem+json still give a useful message."""
        wait = retry_after_seconds(retry_after)
        if not isinstance(body, dict):
            text = str(body)[:500] if body is not None else ""
            return cls(
                status=status,
                title=f"Unexpected answer from Nexmo (HTTP {status})",
                detail=text,
                body=None,
                retry_after=wait,
            )
        invalid = body.get("invalid_parameters")
        return cls(
            status=status,
            title=str(body.get("title") or f"HTTP {status}"),
            detail=str(body.get("detail") or ""),
            type=str(body.get("type") or ""),
            instance=str(body.get("instance") or ""),
            invalid_parameters=[p for p in invalid if isinstance(p, dict)] if isinstance(invalid, list) else [],
            body=body,
            retry_after=wait,
        )


class NexmoAmbiguousError(Exception):
    """The request was sent but no answer arrived in time: Nexmo may or may not have accepted it.

    The message becomes `unknown` and must never be sent again blindly; a status callback carrying its
    `client_ref` (or the reconciler) settles it.
    """


# A Retry-After longer than this is taken as this: a number is never parked for minutes by one answer.
RETRY_AFTER_MAX_SECONDS = 60.0


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.UTC)
        seconds = (moment - datetime.datetime.now(datetime.UTC)).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_MAX_SECONDS)


# Error codes a message can carry, in a marketer's words: WhatsApp's codes as Nexmo passes them in status callbacks
# (https://developer.vonage.com/en/messages/concepts/errors), HTTP statuses of a refused send, and our own outcomes.
ERROR_WORDS = {
    "1000": "Throttled: sent faster than the number's WhatsApp throughput allows.",
    "1022": "Template not accepted: WhatsApp does not know this template (name, language or namespace) or its "
    "parameters do not match it.",
    "1240": "The customer has opted out of WhatsApp messages from this business.",
    "1300": "Not on WhatsApp: this number has no WhatsApp account.",
    "1340": "Outside the 24-hour window: the customer has not written in 24 hours, so only an approved template "
    "reaches them.",
    "401": "Nexmo refused the credentials: check the number's application id and private key.",
    "402": "The Nexmo account is out of credit.",
    "429": "Nexmo asked us to slow down (too many requests).",
    "connection": "Could not reach Nexmo (network or DNS).",
    "timeout": "No answer from Nexmo in time: the message may have gone; a status callback settles it.",
    "interrupted": "The sender stopped mid-request: the message may have gone; a status callback settles it.",
    "journey_stopped": "The journey was stopped before this message went out.",
}


def error_in_words(code: str, reason: str = "") -> str:
    """A message's error for people: what the code means, then Nexmo's own words (code and reason) when they add any."""
    words = ERROR_WORDS.get(code, "")
    if not words and code.isdigit() and len(code) == 3 and code.startswith("5"):
        words = "Nexmo had a server error; the send can be retried."
    raw = ": ".join(part for part in (code, reason) if part)
    if not words:
        return raw
    if not reason or reason.rstrip(".") in words:
        return words
    return f"{words} ({raw})"
