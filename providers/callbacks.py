"""Nexmo's callback endpoints: verify the raw body, parse, dedupe, one write, answer 200 (never 500).

Answers per DESIGN "Callback endpoints": 200 accepted (also duplicates and not-yet-known messages), 400 not JSON or
not a known shape, 401 signature rules, 404 unknown token, 405 not POST, 413 body over 256 KiB; 503 only when the
database cannot take the write (Nexmo retries).

The steps are plain functions so that two front doors share them: the Django views below (`make run`, tests) and
the ASGI fast path in `providers.asgi`, which serves the same URLs in production without the middleware stack and
applies concurrent status callbacks in one transaction.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from providers import services
from providers.messaging import inbound, statuses
from providers.models import CallbackKind, ProviderConfig
from providers.nexmo.webhooks import (
    InboundEvent,
    PayloadInvalid,
    SignatureInvalid,
    StatusEvent,
    inbound_parse,
    json_load,
    signature_verify,
    status_parse,
)

logger = logging.getLogger(__name__)

OK = b'{"status":"ok"}'


class Refused(Exception):
    """A callback answered with an error status; `logged` ones are kept in the callback log for inspection."""

    def __init__(self, status: int, note: str, *, logged: bool = False) -> None:
        super().__init__(note)
        self.status = status
        self.note = note
        self.logged = logged


def answer_body(status: int, detail: str | None = None) -> bytes:
    return OK if status == 200 or detail is None else json.dumps({"detail": detail}).encode()


def method_check(method: str) -> None:
    if method != "POST":
        raise Refused(405, "Only POST is accepted.")


def provider_check(provider: ProviderConfig | None) -> ProviderConfig:
    if provider is None:
        raise Refused(404, "Unknown callback URL: copy it again from the provider page.")
    return provider


def body_limit() -> int:
    return int(settings.CALLBACK_MAX_BODY_BYTES)


def size_check(length: int) -> None:
    limit = body_limit()
    if length > limit:
        raise Refused(413, f"Body over {limit // 1024} KiB.")


@dataclass(frozen=True, slots=True)
class Received:
    """A verified, parsed callback, ready for its write."""

    provider: ProviderConfig
    kind: str
    raw: bytes
    payload: Any
    event: StatusEvent | InboundEvent


def callback_read(*, kind: str, provider: ProviderConfig, raw: bytes, authorization: str | None) -> Received:
    """Check the signature (when the provider has a secret) and parse; raises Refused (401, 400). No database."""
    if provider.signature_secret:
        try:
            signature_verify(raw=raw, authorization=authorization, secret=provider.signature_secret)
        except SignatureInvalid as exc:
            raise Refused(401, str(exc), logged=True) from None
    try:
        payload: Any = json_load(raw)
        event: StatusEvent | InboundEvent = (
            status_parse(payload) if kind == CallbackKind.STATUS else inbound_parse(payload)
        )
    except PayloadInvalid as exc:
        raise Refused(400, f"Not a Nexmo {kind} callback: {exc}", logged=True) from None
    return Received(provider=provider, kind=kind, raw=raw, payload=payload, event=event)


def refusal_record(*, provider: ProviderConfig, kind: str, refused: Refused, raw: bytes) -> None:
    if refused.logged:
        services.callback_log(provider=provider, kind=kind, response_status=refused.status, note=refused.note, body=raw)


def statuses_write(items: Sequence[Received]) -> None:
    """Apply status callbacks in one transaction: one commit (and one announcement task) for all of them.

    Raises when the database fails; the caller retries them one by one (`statuses_write_each`), so one bad item
    never costs the others their write.
    """
    announcements: list[statuses.Announcement] = []
    with transaction.atomic():
        events = [(item.provider, item.event) for item in items if isinstance(item.event, StatusEvent)]
        outcomes = statuses.message_statuses_apply(events=events, announcements=announcements)
        for item, outcome in zip(items, outcomes, strict=True):
            if outcome == "ignored":
                services.callback_log(
                    provider=item.provider, kind=item.kind, response_status=200, note="status ignored", body=item.raw
                )
        statuses.status_announce_on_commit(announcements)


def statuses_write_each(items: Sequence[Received]) -> list[int]:
    """Each in its own transaction: the HTTP status for each (200, or 503 when its write failed)."""
    answers = []
    for item in items:
        try:
            statuses_write([item])
        except Exception:
            logger.exception("Status callback for %s could not be written", item.event.message_uuid)
            answers.append(503)
        else:
            answers.append(200)
    return answers


def inbound_write(item: Received) -> None:
    assert isinstance(item.event, InboundEvent)
    inbound.inbound_receive(provider=item.provider, event=item.event, raw=item.payload)


def _answer(status: int, detail: str | None = None) -> HttpResponse:
    response = HttpResponse(answer_body(status, detail), status=status, content_type="application/json")
    if status == 405:
        response["Allow"] = "POST"
    return response


def _callback(kind: str) -> Callable[[HttpRequest, str], HttpResponse]:
    @csrf_exempt
    @login_not_required
    def view(request: HttpRequest, callback_token: str) -> HttpResponse:
        provider: ProviderConfig | None = None
        raw = b""
        try:
            method_check(request.method or "")
            provider = provider_check(services.provider_for_callback(token=callback_token))
            try:
                size_check(int(request.META.get("CONTENT_LENGTH") or 0))
            except ValueError:
                pass
            try:
                raw = request.body
            except RequestDataTooBig:
                size_check(body_limit() + 1)
            size_check(len(raw))
            item = callback_read(
                kind=kind, provider=provider, raw=raw, authorization=request.META.get("HTTP_AUTHORIZATION")
            )
        except Refused as refused:
            if provider is not None:
                refusal_record(provider=provider, kind=kind, refused=refused, raw=raw)
            return _answer(refused.status, refused.note)
        if kind == CallbackKind.STATUS:
            if statuses_write_each([item]) != [200]:
                return _answer(503, "The callback could not be stored; retry later.")
        else:
            inbound_write(item)
        return _answer(200)

    view.__name__ = f"nexmo_{kind}_callback"
    return view


inbound_callback = _callback(CallbackKind.INBOUND)
status_callback = _callback(CallbackKind.STATUS)
