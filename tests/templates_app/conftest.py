from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from providers.messaging.sending import SendRefused, SendResult
from providers.nexmo import client
from tests.templates_app.vonage_fake import FakeVonage


@dataclass
class RecordingSend:
    """Stands in for `providers.messaging.sending.message_send` where templates_app.services looks it up."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # phone → refusal message
    status_code: int = 202

    def __call__(self, **kwargs: Any) -> SendResult:
        self.calls.append(kwargs)
        if kwargs["to"] in self.refuse:
            raise SendRefused(self.refuse[kwargs["to"]])
        body = {"message_uuid": f"uuid-{len(self.calls)}"} if self.status_code == 202 else {"title": "Invalid"}
        return SendResult(message=SimpleNamespace(pk=len(self.calls)), status_code=self.status_code, body=body)  # type: ignore[arg-type]


@pytest.fixture
def fake_send(monkeypatch: pytest.MonkeyPatch) -> RecordingSend:
    fake = RecordingSend()
    monkeypatch.setattr("templates_app.services.message_send", fake)
    return fake


@pytest.fixture
def vonage_fake() -> Iterator[FakeVonage]:
    fake = FakeVonage()
    with client.transport_override(httpx.MockTransport(fake)):
        yield fake
