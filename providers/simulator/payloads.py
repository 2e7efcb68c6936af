"""Callbacks as Nexmo posts them, in payload version v0.1 or v1.

v0.1: https://developer.vonage.com/en/api/messages-olympus (message-status and inbound-message webhooks)
v1:   https://developer.vonage.com/en/api/messages (message-status and inbound-message webhooks)
"""

from __future__ import annotations

import hashlib
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import jwt

ERRORS = {
    1300: "Not part of the provider network",
    1340: "Outside the allowed window",
}


def timestamp(at: float | None = None) -> str:
    """Nexmo's ISO 8601 form with milliseconds: 2020-01-01T14:00:00.000Z (now, or at an epoch time)."""
    moment = datetime.now(UTC) if at is None else datetime.fromtimestamp(at, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def status_payload(
    *,
    version: str,
    message_uuid: str,
    to: str,
    from_: str,
    status: str,
    client_ref: str,
    error: int | None = None,
) -> dict[str, Any]:
    """A status callback; `to` is the customer and `from` the business number, as in the send."""
    if version == "v0.1":
        payload: dict[str, Any] = {
            "message_uuid": message_uuid,
            "to": {"type": "whatsapp", "number": to},
            "from": {"type": "whatsapp", "number": from_},
            "timestamp": timestamp(),
            "status": status,
        }
        if error is not None:
            payload["error"] = {"code": error, "reason": ERRORS[error]}
    else:
        payload = {
            "message_uuid": message_uuid,
            "to": to,
            "from": from_,
            "timestamp": timestamp(),
            "status": status,
            "channel": "whatsapp",
        }
        if error is not None:
            payload["error"] = {
                "type": f"https://developer.vonage.com/api-errors/messages#{error}",
                "title": error,
                "detail": ERRORS[error],
                "instance": uuid.uuid4().hex,
            }
    if status == "delivered":
        payload["usage"] = {"currency": "EUR", "price": "0.0333"}
    if client_ref:
        payload["client_ref"] = client_ref
    return payload


def inbound_payload(
    *,
    version: str,
    message_uuid: str,
    customer: str,
    business: str,
    text: str = "",
    button: tuple[str, str] | None = None,
    interactive: bool = False,
    context_uuid: str = "",
    profile_name: str = "",
) -> dict[str, Any]:
    """An inbound text, or a tap: of a template's quick-reply button (payload, text), or with `interactive` of an
    interactive message's reply button or list row (id, title), sent as Vonage's `reply` type. A tap carries the
    tapped message as its context; v0.1 gets the same `context` object as v1."""
    kind = ("reply" if interactive else "button") if button else "text"
    block: dict[str, Any] | str = text
    if button:
        block = {"id": button[0], "title": button[1]} if interactive else {"payload": button[0], "text": button[1]}
    if version == "v0.1":
        payload_v01: dict[str, Any] = {
            "message_uuid": message_uuid,
            "timestamp": timestamp(),
            "to": {"type": "whatsapp", "number": business},
            "from": {"type": "whatsapp", "number": customer},
            "message": {"content": {"type": kind, kind: block}},
        }
        if context_uuid:
            payload_v01["context"] = {"message_uuid": context_uuid}
        return payload_v01
    payload: dict[str, Any] = {
        "channel": "whatsapp",
        "message_uuid": message_uuid,
        "to": business,
        "from": customer,
        "timestamp": timestamp(),
        "profile": {"name": profile_name or f"Customer {customer[-4:]}"},
    }
    if context_uuid:
        payload["context"] = {"message_uuid": context_uuid, "message_from": business}
    payload.update({"message_type": kind, kind: block})
    return payload


def signature(*, secret: str, body: bytes, api_key: str, application_id: str) -> str:
    """The HS256 JWT Nexmo puts in `Authorization: Bearer …` of signed callbacks."""
    claims = {
        "iat": int(time.time()),
        "jti": str(uuid.uuid4()),
        "iss": "Vonage",
        "api_key": api_key,
        "application_id": application_id,
        "payload_hash": hashlib.sha256(body).hexdigest(),
    }
    return jwt.encode(claims, secret, algorithm="HS256")
