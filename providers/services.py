"""Writes for provider numbers: configuring them, their credentials, and the log of callbacks they receive."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.core.exceptions import ValidationError

from contacts.phones import phone_normalize
from providers import keys
from providers.models import (
    CallbackKind,
    CallbackLog,
    ProviderConfig,
    callback_token_new,
)
from providers.nexmo import client as nexmo
from providers.nexmo.hosts import base_url_problem

logger = logging.getLogger(__name__)

# --- providers -------------------------------------------------------------------------------------------------

PROVIDER_FIELDS = (
    "nickname",
    "phone_number",
    "application_id",
    "api_version",
    "api_base_url",
    "whatsapp_namespace",
    "waba_id",
    "auto_reply_enabled",
    "auto_reply_text",
    "opt_out_keywords",
    "opt_in_keywords",
    "is_active",
    "max_messages_per_second",
)


def _provider_apply(provider: ProviderConfig, data: dict[str, Any]) -> None:
    for name in PROVIDER_FIELDS:
        if name in data:
            setattr(provider, name, data[name])
    if data.get("api_base_url"):
        problem = base_url_problem(str(data["api_base_url"]))
        if problem is not None:
            raise ValidationError({"api_base_url": [problem]})
    if "phone_number" in data:
        try:
            provider.phone_number = phone_normalize(str(data["phone_number"]))
        except ValidationError as exc:
            raise ValidationError({"phone_number": exc.messages}) from None
    if data.get("private_key"):
        try:
            provider.private_key_fingerprint = keys.private_key_validate(str(data["private_key"]))
        except ValidationError as exc:
            raise ValidationError({"private_key": exc.messages}) from None
        provider.private_key = str(data["private_key"]).strip() + "\n"
    # One rule for the UI and the API: a blank secret keeps the one on file; removing it (which turns callback
    # verification off) is an explicit `signature_secret_clear`.
    secret = str(data.get("signature_secret") or "").strip()
    if data.get("signature_secret_clear"):
        if secret:
            raise ValidationError(
                {"signature_secret_clear": ["Give a new signature secret or clear the one on file, not both."]}
            )
        provider.signature_secret = ""
    elif secret:
        provider.signature_secret = secret
    if provider.auto_reply_enabled and not provider.auto_reply_text.strip():
        raise ValidationError({"auto_reply_text": ["Write the auto-reply, or turn the auto-reply off."]})


def provider_create(*, data: dict[str, Any]) -> ProviderConfig:
    """Create a provider config; the private key is required and checked (RSA ≥ 2048 bits, signs a JWT)."""
    if not data.get("private_key"):
        raise ValidationError({"private_key": ["Paste or upload the application's private key."]})
    provider = ProviderConfig()
    _provider_apply(provider, data)
    provider.full_clean(exclude=["private_key", "signature_secret", "callback_token"])
    provider.save()
    return provider


def provider_update(*, provider: ProviderConfig, data: dict[str, Any]) -> ProviderConfig:
    """Change a provider config; an empty private key / signature secret keeps the one on file.

    `signature_secret_clear: True` removes the signature secret (callbacks are then accepted unsigned).
    """
    was_active = ProviderConfig.objects.filter(pk=provider.pk, is_active=True).exists()
    _provider_apply(provider, data)
    provider.full_clean(exclude=["private_key", "signature_secret", "callback_token"])
    provider.save()
    _provider_cache.clear()
    if provider.is_active and not was_active:
        from providers.messaging.outbox import outbox_kick_on_commit

        outbox_kick_on_commit([provider.pk])  # what waited while it was switched off goes now
    return provider


def provider_callback_token_regenerate(*, provider: ProviderConfig) -> str:
    """A new callback token: the old callback URLs stop working (404) at once."""
    provider.callback_token = callback_token_new()
    provider.save(update_fields=["callback_token", "updated_at"])
    _provider_cache.clear()
    return provider.callback_token


def provider_credentials(provider: ProviderConfig) -> nexmo.Credentials:
    return nexmo.Credentials(
        application_id=provider.application_id,
        private_key=provider.private_key,
        base_url=provider.effective_api_base_url,
        api_version=provider.api_version,
    )


# Callback token → provider, kept a few seconds per process: the status callback path stays at one query.
_provider_cache: dict[str, tuple[float, ProviderConfig]] = {}
PROVIDER_CACHE_SECONDS = 10.0


def provider_cached(*, token: str) -> ProviderConfig | None:
    """The provider for this callback token if this process looked it up moments ago (no query; None: look it up)."""
    hit = _provider_cache.get(token)
    if hit is not None and time.monotonic() - hit[0] < PROVIDER_CACHE_SECONDS:
        return hit[1]
    return None


def provider_for_callback(*, token: str) -> ProviderConfig | None:
    """The active-or-not provider owning this callback token (None: unknown token)."""
    hit = provider_cached(token=token)
    if hit is not None:
        return hit
    now = time.monotonic()
    provider = ProviderConfig.objects.filter(callback_token=token).first()
    if provider is None:
        return None
    if len(_provider_cache) > 1000:
        _provider_cache.clear()
    _provider_cache[token] = (now, provider)
    return provider


def callback_log(*, provider: ProviderConfig | None, kind: str, response_status: int, note: str, body: bytes) -> None:
    """Keep a refused or ignored callback for inspection (first 4 KiB, never any header)."""
    CallbackLog.objects.create(
        provider=provider,
        kind=kind if kind in CallbackKind.values else CallbackKind.STATUS,
        response_status=response_status,
        # PostgreSQL text cannot hold NUL, and a refused body is exactly where one turns up.
        note=note[:255].replace("\x00", "\ufffd"),
        body=body[:4096].decode("utf-8", errors="replace").replace("\x00", "\ufffd"),
    )
