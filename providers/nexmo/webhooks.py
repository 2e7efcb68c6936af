"""Raw callback → typed event, for payload version v0.1 and v1, and the signed-callback check.

Status (v0.1): https://developer.vonage.com/en/api/messages-olympus#message-status
Inbound (v0.1): https://developer.vonage.com/en/api/messages-olympus#inbound-message
Signed webhooks: https://developer.vonage.com/en/getting-started/concepts/webhooks#decoding-signed-webhooks
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import jwt

# A signed callback older than this is refused (replay); a little future skew is tolerated.
SIGNATURE_MAX_AGE_SECONDS = 5 * 60
SIGNATURE_CLOCK_SKEW_SECONDS = 60
STATUSES = frozenset({"submitted", "delivered", "read", "rejected", "undeliverable"})


class PayloadInvalid(ValueError):
    """The body is not a callback we understand (answer 400)."""


class SignatureInvalid(ValueError):
    """The signature is missing, wrong, for another body, or stale (answer 401)."""


@dataclass(frozen=True, slots=True)
class StatusEvent:
    message_uuid: str
    status: str  # one of STATUSES, or another value Nexmo may add (acknowledged and ignored)
    timestamp: datetime
    to: str
    client_ref: str
    error_code: str
    error_reason: str
    price: Decimal | None
    currency: str
    version: str

    @property
    def known(self) -> bool:
        return self.status in STATUSES


@dataclass(frozen=True, slots=True)
class InboundEvent:
    message_uuid: str
    from_number: str
    to_number: str
    timestamp: datetime
    content_type: str  # text | image | video | audio | file | location | button | reply | sticker | order | …
    text: str
    media_url: str
    button_payload: str
    button_text: str
    location: dict[str, Any] | None
    profile_name: str
    version: str
    # The message_uuid of our message the customer answered (a swipe-reply, a tapped button or list row), or "".
    context_uuid: str = ""


def _reject_constant(name: str) -> Any:
    raise PayloadInvalid(f"{name} is not valid JSON")


def json_load(raw: bytes) -> Any:
    """Strict JSON: no NaN/Infinity, no NUL or lone surrogates (the database could not store them)."""
    try:
        payload = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise PayloadInvalid("body is not JSON") from None
    if b"\\u0000" in raw:
        raise PayloadInvalid("body contains a NUL character")
    if re.search(rb"\\u[dD][89abcdefABCDEF]", raw):
        try:
            json.dumps(payload, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise PayloadInvalid("body contains an unpaired surrogate") from None
    return payload


def signature_verify(*, raw: bytes, authorization: str | None, secret: str, now: float | None = None) -> None:
    """Check Nexmo's `Authorization: Bearer <HS256 JWT>`: valid signature, fresh `iat`, payload_hash of this body."""
    if not authorization or not authorization.startswith("Bearer "):
        raise SignatureInvalid("Missing Authorization: Bearer <JWT> (this provider has a signature secret).")
    token = authorization.removeprefix("Bearer ").strip()
    try:
        claims = jwt.decode(
            token, secret, algorithms=["HS256"], options={"require": ["iat"], "verify_exp": True}, leeway=60
        )
    except jwt.PyJWTError as exc:
        raise SignatureInvalid(f"Signature rejected: {exc}") from None
    moment = time.time() if now is None else now
    iat = claims.get("iat")
    if not isinstance(iat, int | float) or moment - iat > SIGNATURE_MAX_AGE_SECONDS:
        raise SignatureInvalid("Signature is stale (iat too old): refused as a possible replay.")
    if iat - moment > SIGNATURE_CLOCK_SKEW_SECONDS:
        raise SignatureInvalid("Signature issued in the future.")
    expected = hashlib.sha256(raw).hexdigest()
    claimed = claims.get("payload_hash")
    if not isinstance(claimed, str) or not hmac.compare_digest(claimed.lower(), expected):
        raise SignatureInvalid("payload_hash does not match the body.")


def timestamp_parse(value: Any) -> datetime:
    """Nexmo timestamps come as `…T14:00:00.000Z`, `…T14:00:00Z` and (in some docs) `2020-01-01 14:00:00 UTC`."""
    if not isinstance(value, str) or not value.strip():
        raise PayloadInvalid("timestamp is missing")
    text = value.strip().replace(" UTC", "+00:00")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
        parsed = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        raise PayloadInvalid(f"timestamp {value[:40]!r} is not ISO 8601") from None
    if not 2000 <= parsed.year <= 2100:
        raise PayloadInvalid(f"timestamp {value[:40]!r} is out of range")
    return parsed


def _str(value: Any, limit: int = 255) -> str:
    if value is None:
        return ""
    if isinstance(value, str | int | float):
        return str(value)[:limit]
    return ""


def _number(endpoint: Any) -> tuple[str, str]:
    """(number, version) from v0.1's `{"type", "number"}` object or v1's bare string."""
    if isinstance(endpoint, dict):
        return _str(endpoint.get("number"), 50), "v0.1"
    if isinstance(endpoint, str):
        return endpoint[:50], "v1"
    raise PayloadInvalid("to/from is neither a v0.1 object nor a v1 string")


def _uuid(payload: dict[str, Any]) -> str:
    value = payload.get("message_uuid")
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        raise PayloadInvalid("message_uuid is missing")
    return value.strip()


# Message.price is numeric(10, 5): what does not fit is not a price Nexmo would send.
PRICE_PLACES = Decimal("0.00001")
PRICE_LIMIT = 10**5


def price_parse(raw: object) -> Decimal | None:
    """The price rounded to the column's 5 places, or None for anything odd (not a number, infinite, NaN, beyond
    the column, or an exponent like 1e-999999 that PostgreSQL's numeric refuses): the status is kept without it."""
    if raw is None or isinstance(raw, bool) or not isinstance(raw, str | int | float):
        return None
    try:
        price = Decimal(str(raw))
        if not price.is_finite() or abs(price) >= PRICE_LIMIT or price.adjusted() < -20:
            return None
        return price.quantize(PRICE_PLACES)
    except (InvalidOperation, ValueError):
        return None


def status_parse(payload: Any) -> StatusEvent:
    """A status callback (v0.1 or v1) → StatusEvent; PayloadInvalid when it is not one."""
    if not isinstance(payload, dict):
        raise PayloadInvalid("body is not a JSON object")
    status = payload.get("status")
    if not isinstance(status, str) or not status:
        raise PayloadInvalid("status is missing")
    to, version = _number(payload.get("to"))
    error = payload.get("error") if isinstance(payload.get("error"), dict) else {}
    assert isinstance(error, dict)
    # v0.1: error {code, reason}; v1: problem-shaped error {type, title (the code), detail}.
    code = _str(error.get("code")) or _str(error.get("title"))
    reason = _str(error.get("reason"), 1000) or _str(error.get("detail"), 1000)
    usage = payload.get("usage") if isinstance(payload.get("usage"), dict) else {}
    assert isinstance(usage, dict)
    return StatusEvent(
        message_uuid=_uuid(payload),
        status=status[:32],
        timestamp=timestamp_parse(payload.get("timestamp")),
        to=to,
        client_ref=_str(payload.get("client_ref"), 100),
        error_code=code[:64],
        error_reason=reason,
        price=price_parse(usage.get("price")),
        currency=_str(usage.get("currency"), 3),
        version=version,
    )


def _media_url(block: Any) -> str:
    return _str(block.get("url"), 2000) if isinstance(block, dict) else ""


def _content_v01(message: Any) -> dict[str, Any]:
    if not isinstance(message, dict) or not isinstance(message.get("content"), dict):
        raise PayloadInvalid("message.content is missing")
    content: dict[str, Any] = message["content"]
    return content


def inbound_parse(payload: Any) -> InboundEvent:
    """An inbound-message callback (v0.1 or v1) → InboundEvent; PayloadInvalid when it is not one."""
    if not isinstance(payload, dict):
        raise PayloadInvalid("body is not a JSON object")
    from_number, version = _number(payload.get("from"))
    to_number, _ = _number(payload.get("to")) if "to" in payload else ("", version)
    if version == "v0.1":
        content = _content_v01(payload.get("message"))
        kind = _str(content.get("type"), 32)
        block = content.get(kind) if kind else None
    else:
        kind = _str(payload.get("message_type"), 32)
        content = payload
        block = payload.get(kind) if kind else None
    if not kind:
        raise PayloadInvalid("message type is missing")
    text = button_payload = button_text = media_url = ""
    location: dict[str, Any] | None = None
    if kind == "text":
        text = _str(content.get("text"), 4096)
    elif kind in ("image", "video", "audio", "file", "sticker"):
        media_url = _media_url(block)
        text = _str(block.get("caption"), 4096) if isinstance(block, dict) else ""
    elif kind == "location" and isinstance(block, dict):
        location = {
            key: block[key]
            for key in ("latitude", "longitude", "lat", "long", "name", "address", "url")
            if isinstance(block.get(key), str | int | float)
        }
    elif kind == "button" and isinstance(block, dict):
        # A quick-reply button of a template: payload is what we set, text is what the customer saw.
        button_payload, button_text = _str(block.get("payload"), 255), _str(block.get("text"), 255)
    elif kind == "reply" and isinstance(block, dict):
        # v1 interactive reply (button or list row): `id` plays the role of the payload.
        button_payload, button_text = _str(block.get("id"), 256), _str(block.get("title"), 255)
    profile = payload.get("profile")
    # v1 carries `context` beside the message; v0.1 is read the same way, at the top or inside `message`.
    context = payload.get("context")
    if not isinstance(context, dict) and version == "v0.1" and isinstance(payload.get("message"), dict):
        context = payload["message"].get("context")
    return InboundEvent(
        message_uuid=_uuid(payload),
        from_number=from_number,
        to_number=to_number,
        timestamp=timestamp_parse(payload.get("timestamp")),
        content_type=kind,
        text=text,
        media_url=media_url,
        button_payload=button_payload,
        button_text=button_text,
        location=location,
        profile_name=_str(profile.get("name")) if isinstance(profile, dict) else "",
        version=version,
        context_uuid=_str(context.get("message_uuid"), 64) if isinstance(context, dict) else "",
    )
