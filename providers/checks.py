"""System checks of the providers app (`manage.py check --deploy`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.checks import CheckMessage, Tags, Warning, register
from django.db import DatabaseError


@register(Tags.security, deploy=True)
def providers_without_signature_secret(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """Warn about numbers whose callbacks are checked by nothing but the token in their URL."""
    from providers.models import ProviderConfig

    try:
        # An empty secret is stored as "" (EncryptedTextField), so this needs no key and decrypts nothing.
        unsigned = list(ProviderConfig.objects.filter(signature_secret="").values_list("nickname", flat=True))
    except DatabaseError:
        # No database yet (before migrate, or checked on a build machine): nothing to report on.
        return []
    if not unsigned:
        return []
    return [
        Warning(
            f"{len(unsigned)} WhatsApp number(s) without a signature secret: {', '.join(sorted(unsigned))}.",
            hint="Anyone who learns their callback URLs can forge inbound messages and statuses. Add the Nexmo "
            "account's signature secret on each number's edit page.",
            id="providers.W001",
        )
    ]
