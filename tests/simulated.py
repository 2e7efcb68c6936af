"""A provider whose Nexmo is the in-process simulator, with callbacks reaching the live server, signed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from providers.models import ProviderConfig
from providers.nexmo import client as nexmo_client
from providers.simulator import Channel, SimulatorConfig, SimulatorHandle, run_in_thread
from tests.providers.factories import provider_make, public_pem, rsa_pem

SIGNATURE_SECRET = "integration-signature-secret-0123456789"


@contextmanager
def simulated_provider(
    *, api_version: str = "v0.1", seed: int = 7, simulator: dict[str, Any] | None = None, **fields: Any
) -> Iterator[tuple[ProviderConfig, SimulatorHandle]]:
    """Callback URLs come from settings.PUBLIC_BASE_URL: point it at the live server first."""
    pem = rsa_pem()
    provider = provider_make(private_key=pem, signature_secret=SIGNATURE_SECRET, api_version=api_version, **fields)
    channel = Channel(
        provider.application_id,
        public_pem(pem).decode(),
        provider.phone_number.lstrip("+"),
        api_version="v1" if api_version == "v1" else "v0.1",
        status_url=provider.status_callback_url,
        inbound_url=provider.inbound_callback_url,
        signature_secret=SIGNATURE_SECRET,
    )
    handle = run_in_thread(SimulatorConfig(channels=(channel,), seed=seed), **(simulator or {}))
    provider.api_base_url = handle.base_url
    provider.save()
    nexmo_client.jwt_cache_clear()
    try:
        yield provider, handle
    finally:
        # Let callbacks on their way land before the test's database is torn down under them.
        handle.drain()
        handle.stop()
