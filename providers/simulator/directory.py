"""The simulator's reads of the project database; called in its database thread, never on the event loop."""

from __future__ import annotations

import logging

from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.db import DatabaseError, close_old_connections
from django.utils import timezone

from providers.simulator.config import Channel, digits

log = logging.getLogger("providers.simulator")


def public_key_pem(private_key_pem: str) -> str:
    """The PEM public key of a PKCS#8 (or PKCS#1) private key."""
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def channels_from_db(*, callback_base: str | None) -> list[Channel] | None:
    """One channel per active Nexmo provider config; a config whose key cannot be read is skipped with a warning.

    None when the database cannot be read (not migrated, down): the simulator keeps what it knew and says so.
    """
    from providers.models import ProviderConfig

    base = (callback_base or settings.PUBLIC_BASE_URL).rstrip("/")
    channels = []
    try:
        for provider in ProviderConfig.objects.filter(is_active=True, kind="nexmo"):
            try:
                public_key = public_key_pem(provider.private_key)
            except (ValueError, TypeError) as error:
                log.warning("Provider %s: private key unreadable (%s); its sends will get 401", provider.pk, error)
                continue
            channels.append(
                Channel(
                    application_id=provider.application_id,
                    public_key_pem=public_key,
                    number=digits(provider.phone_number),
                    api_version="v1" if provider.api_version == "v1" else "v0.1",
                    status_url=f"{base}/callbacks/nexmo/{provider.callback_token}/status/",
                    inbound_url=f"{base}/callbacks/nexmo/{provider.callback_token}/inbound/",
                    signature_secret=provider.signature_secret or "",
                )
            )
    except DatabaseError as error:
        log.warning("Cannot read provider configs (%s); run `manage.py migrate`, or pass --no-db", error)
        return None
    finally:
        close_old_connections()
    return channels


def window_open_in_db(*, customer: str) -> bool:
    """Whether the project's Contact for this number wrote within the last 24 hours."""
    from contacts.models import Contact

    try:
        contact = Contact.objects.filter(phone=f"+{digits(customer)}").only("last_inbound_at").first()
        return contact is not None and contact.window_open(timezone.now())
    except DatabaseError as error:
        log.warning("Cannot read contacts (%s): the 24 h window counts as closed", error)
        return False
    finally:
        close_old_connections()
