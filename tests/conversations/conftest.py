from __future__ import annotations

from collections.abc import Iterator

import pytest

from providers.nexmo import client as nexmo_client
from tests.providers.factories import FakeNexmo


@pytest.fixture
def nexmo() -> Iterator[FakeNexmo]:
    """Nexmo faked at the gateway: every send and mark-as-read is answered and recorded."""
    fake = FakeNexmo()
    nexmo_client.jwt_cache_clear()
    with nexmo_client.transport_override(fake.transport):
        yield fake
