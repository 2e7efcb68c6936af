"""Nexmo's callback endpoints: verify the raw body, parse, dedupe, one write, answer 200 (never 500).

Answers per DESIGN "Callback endpoints": 200 accepted (also duplicates and not-yet-known messages), 400 not JSON or
not a known shape, 401 signature rules, 404 unknown token, 405 not POST, 413 body over 256 KiB.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from providers import services
from providers.models import CallbackKind, ProviderConfig
from providers.nexmo.webhooks import (
    PayloadInvalid,
    SignatureInvalid,
    inbound_parse,
    json_load,
    signature_verify,
    status_parse,
)

logger = logging.getLogger(__name__)

OK = b'{"status":"ok"}'


def _answer(status: int, detail: str | None = None) -> HttpResponse:
    if detail is None:
        return HttpResponse(OK, status=status, content_type="application/json")
    return JsonResponse({"detail": detail}, status=status)


def _callback(kind: str) -> Callable[[HttpRequest, str], HttpResponse]:
    @csrf_exempt
    @login_not_required
    def view(request: HttpRequest, callback_token: str) -> HttpResponse:
        if request.method != "POST":
            response = _answer(405, "Only POST is accepted.")
            response["Allow"] = "POST"
            return response
        provider = services.provider_for_callback(token=callback_token)
        if provider is None:
            return _answer(404, "Unknown callback URL: copy it again from the provider page.")
        limit = int(settings.CALLBACK_MAX_BODY_BYTES)
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            return _answer(413, f"Body over {limit // 1024} KiB.")
        try:
            raw = request.body
        except RequestDataTooBig:
            return _answer(413, f"Body over {limit // 1024} KiB.")
        if len(raw) > limit:
            return _answer(413, f"Body over {limit // 1024} KiB.")
        return _handle(kind=kind, provider=provider, raw=raw, authorization=request.META.get("HTTP_AUTHORIZATION"))

    view.__name__ = f"nexmo_{kind}_callback"
    return view


def _refuse(provider: ProviderConfig, kind: str, status: int, note: str, raw: bytes) -> HttpResponse:
    services.callback_log(provider=provider, kind=kind, response_status=status, note=note, body=raw)
    return _answer(status, note)


def _handle(*, kind: str, provider: ProviderConfig, raw: bytes, authorization: str | None) -> HttpResponse:
    if provider.signature_secret:
        try:
            signature_verify(raw=raw, authorization=authorization, secret=provider.signature_secret)
        except SignatureInvalid as exc:
            return _refuse(provider, kind, 401, str(exc), raw)
    try:
        payload: Any = json_load(raw)
        if kind == CallbackKind.STATUS:
            outcome = services.message_status_apply(provider=provider, event=status_parse(payload))
            if outcome == "ignored":
                services.callback_log(
                    provider=provider, kind=kind, response_status=200, note="status ignored", body=raw
                )
        else:
            services.inbound_receive(provider=provider, event=inbound_parse(payload), raw=payload)
    except PayloadInvalid as exc:
        return _refuse(provider, kind, 400, f"Not a Nexmo {kind} callback: {exc}", raw)
    return _answer(200)


inbound_callback = _callback(CallbackKind.INBOUND)
status_callback = _callback(CallbackKind.STATUS)
