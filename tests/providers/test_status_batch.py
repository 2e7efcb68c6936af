"""Status callbacks applied as one batch (the callback front door's group commit) end exactly where the same
callbacks applied one by one, in the same order, end: every shape, repeats, unknown messages, ignored statuses."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction

from providers.messaging import statuses
from providers.models import Message, PendingStatus, ProviderConfig
from providers.nexmo.webhooks import StatusEvent
from tests.providers.factories import provider_make

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
STATES = ["submitted", "delivered", "read", "rejected", "undeliverable", "deleted"]
FIELDS = ("status", "submitted_at", "delivered_at", "read_at", "failed_at", "error_code", "error_reason", "price")


def _events(rng: random.Random, count: int) -> list[dict[str, Any]]:
    events = []
    for _ in range(count):
        state = rng.choice(STATES)
        failed = state in ("rejected", "undeliverable")
        events.append(
            {
                "message": rng.randrange(12),  # 0-9 exist, 10-11 are not known yet
                "status": state,
                "at": T0 + timedelta(seconds=rng.randrange(30)),
                "error": (str(rng.choice([1000, 1340])), "refused") if failed and rng.random() < 0.7 else ("", ""),
                "price": Decimal("0.00850") if rng.random() < 0.3 else None,
            }
        )
    return events


def _event(prefix: str, spec: dict[str, Any]) -> StatusEvent:
    return StatusEvent(
        message_uuid=f"{prefix}-{spec['message']}",
        status=spec["status"],
        timestamp=spec["at"],
        to="447700900000",
        client_ref="",
        error_code=spec["error"][0],
        error_reason=spec["error"][1],
        price=spec["price"],
        currency="EUR" if spec["price"] is not None else "",
        version="v0.1",
    )


def _provider_with_messages(prefix: str) -> ProviderConfig:
    provider = provider_make()
    Message.objects.bulk_create(
        Message(
            provider=provider,
            to="+447700900000",
            status="submitted" if i % 3 else "sending",
            message_uuid=f"{prefix}-{i}",
            client_ref=f"{prefix}-ref-{i}",
            origin="campaign",
            content_type="text",
        )
        for i in range(10)
    )
    return provider


def _state(provider: ProviderConfig) -> dict[str, tuple[Any, ...]]:
    rows = Message.objects.filter(provider=provider).values_list("message_uuid", *FIELDS)
    pending = PendingStatus.objects.filter(provider=provider).values_list("message_uuid", "status")
    state = {uuid.split("-", 1)[1]: tuple(values) for uuid, *values in rows}
    state["pending"] = tuple(sorted((uuid.split("-", 1)[1], status) for uuid, status in pending))
    return state


@pytest.mark.parametrize("seed", range(6))
def test_a_batch_ends_where_one_by_one_ends(seed: int) -> None:
    specs = _events(random.Random(seed), 60)
    one_by_one, batched = _provider_with_messages("a"), _provider_with_messages("b")

    outcomes_single = []
    for spec in specs:
        with transaction.atomic():
            outcomes_single.append(statuses.message_status_apply(provider=one_by_one, event=_event("a", spec)))
    with transaction.atomic():
        outcomes_batch = statuses.message_statuses_apply(
            events=[(batched, _event("b", spec)) for spec in specs], announcements=[]
        )

    assert _state(batched) == _state(one_by_one)
    assert outcomes_batch == outcomes_single
    assert {"applied", "ignored"} <= set(outcomes_batch)
