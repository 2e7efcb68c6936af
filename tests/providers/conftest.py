from __future__ import annotations

from collections.abc import Iterator

import pytest

from providers import services
from providers.nexmo import client
from tests.providers.factories import FakeNexmo


@pytest.fixture
def nexmo() -> Iterator[FakeNexmo]:
    """Nexmo faked at the gateway: every send is answered by this handler (202 with a fresh uuid by default)."""
    fake = FakeNexmo()
    client.jwt_cache_clear()
    with client.transport_override(fake.transport):
        yield fake


@pytest.fixture(autouse=True)
def _fresh_provider_cache() -> Iterator[None]:
    services._provider_cache.clear()
    yield
    services._provider_cache.clear()
