"""The status transition table, and every writer held to it: whatever order send answers (one or batched) and
status callbacks (one or batched) arrive in, a message's status never moves backwards."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from providers.messaging import dispatch, sending, statuses, transitions
from providers.models import Message, MessageStatus, ProviderConfig
from providers.nexmo.client import NexmoResponse
from providers.nexmo.errors import NexmoAmbiguousError, NexmoError
from providers.nexmo.webhooks import StatusEvent
from tests.providers.factories import provider_make

S = MessageStatus
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
# Forward order of the success path; a failure state is final.
FORWARD = [S.QUEUED, S.SENDING, S.UNKNOWN, S.SUBMITTED, S.DELIVERED, S.READ]
FINAL = {S.READ, S.REJECTED, S.UNDELIVERABLE}


def test_the_table_names_every_status_and_only_forward_moves_besides_the_two_engine_steps() -> None:
    assert set(transitions.TRANSITIONS) == set(S)
    for current, targets in transitions.TRANSITIONS.items():
        assert current not in targets
        for target in targets:
            if (current, target) in transitions.STEPS_BACK:
                continue
            assert current not in FINAL
            if current in FORWARD and target in FORWARD:
                assert FORWARD.index(target) > FORWARD.index(current), (current, target)
    assert transitions.STEPS_BACK == {(S.SENDING, S.QUEUED), (S.FAILED, S.QUEUED)}


@pytest.mark.parametrize(("current", "new"), [(S.READ, S.DELIVERED), (S.QUEUED, S.QUEUED), (S.REJECTED, S.QUEUED)])
def test_a_move_the_table_does_not_have_is_refused(current: S, new: S) -> None:
    assert not transitions.may_move(current, new)
    with pytest.raises(ValueError, match="never moves"):
        transitions.q_step(current, new)


def test_sources_and_after_are_derived_from_the_table() -> None:
    assert transitions.sources(S.SUBMITTED) == ("queued", "sending", "unknown")
    assert transitions.sources(S.READ) == ("queued", "sending", "unknown", "submitted", "delivered")
    assert transitions.sources(S.FAILED) == ("queued", "sending")
    assert transitions.after(S.DELIVERED) == ("read",)
    assert transitions.after(S.READ) == ()
    assert transitions.sql_into(S.DELIVERED) == "\"status\" IN ('queued', 'sending', 'unknown', 'submitted')"


# --- every writer, in random orders --------------------------------------------------------------------------------

ANSWERS = ["202", "4xx", "5xx", "timeout"]
CALLBACKS = ["submitted", "delivered", "read", "rejected", "undeliverable"]
step = st.one_of(
    st.tuples(st.sampled_from(["answer", "answers"]), st.sampled_from(ANSWERS)),
    st.tuples(st.sampled_from(["callback", "callbacks"]), st.sampled_from(CALLBACKS)),
)


def _outcome(kind: str, message: Message) -> Any:
    if kind == "202":
        return NexmoResponse(status_code=202, body={"message_uuid": message.message_uuid or str(uuid.uuid4())})
    if kind == "4xx":
        return NexmoError(status=422, title="Invalid", type="https://www.nexmo.com/messages/Errors#1150")
    if kind == "5xx":
        return NexmoError(status=503, title="Unavailable")
    return NexmoAmbiguousError("no answer in time")


def _status(provider: ProviderConfig, message: Message, state: str, at: datetime) -> StatusEvent:
    return StatusEvent(
        message_uuid=message.message_uuid or "",
        status=state,
        timestamp=at,
        to=message.to,
        client_ref=message.client_ref,
        error_code="1340" if state in ("rejected", "undeliverable") else "",
        error_reason="refused" if state in ("rejected", "undeliverable") else "",
        price=None,
        currency="",
        version="v0.1",
    )


def _apply(provider: ProviderConfig, message: Message, action: str, kind: str, at: datetime) -> None:
    if action == "answer":
        sending.message_outcome_record(message=message, outcome=_outcome(kind, message))
    elif action == "answers":
        job = dispatch._Job(message_id=message.pk, body={"client_ref": message.client_ref})
        dispatch._results_write([(job, _outcome(kind, message))])
    else:
        event = _status(provider, message, kind, at)
        with transaction.atomic():
            if action == "callback":
                statuses.message_status_apply(provider=provider, event=event, announcements=[])
            else:  # a batch where the same message comes twice
                statuses.message_statuses_apply(events=[(provider, event), (provider, event)], announcements=[])


counter = itertools.count()


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=8), start=st.sampled_from([S.QUEUED, S.SENDING]))
def test_no_order_of_answers_and_callbacks_moves_a_status_backwards(steps: list[tuple[str, str]], start: S) -> None:
    provider = provider_make()
    n = next(counter)
    message = Message.objects.create(
        provider=provider,
        to="+447700900001",
        status=start,
        client_ref=f"prop-{n}",
        origin="test",
        content_type="text",
        message_uuid=f"uuid-{n}",
    )
    seen = [S(message.status)]
    for index, (action, kind) in enumerate(steps):
        _apply(provider, message, action, kind, T0 + timedelta(seconds=index))
        message.refresh_from_db()
        before, now = seen[-1], S(message.status)
        assert before == now or transitions.may_move(before, now), (steps[: index + 1], before, now)
        assert (before, now) not in transitions.STEPS_BACK
        seen.append(now)
