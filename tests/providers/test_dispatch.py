"""The bulk send engine against a fake Nexmo at the gateway: claims, retries, failures, surges and crash recovery."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from django.db import connection

from providers.messaging.dispatch import (
    DispatchReport,
    SurgePolicy,
    dispatch_run,
    messages_claim,
    messages_interrupted_settle,
    values_update,
)
from providers.messaging.pacing import LocalPacer
from providers.models import Message, MessageStatus, Origin, ProviderConfig
from providers.nexmo.client import transport_override
from tests.providers.factories import FakeNexmo, provider_make

pytestmark = pytest.mark.django_db

S = MessageStatus
THROTTLED = {"type": "https://developer.nexmo.com/api-errors#throttled", "title": "Too many requests"}
INVALID_TEMPLATE = {"type": "https://developer.nexmo.com/api-errors/messages-olympus#1022", "title": "Invalid template"}


@pytest.fixture(autouse=True)
def _fresh_pacers() -> Iterator[None]:
    LocalPacer.forget_all()
    yield
    LocalPacer.forget_all()


def _queued(provider: ProviderConfig, count: int, *, status: str = S.QUEUED, start: int = 0) -> list[int]:
    messages = [
        Message(
            provider=provider,
            to=f"+4477009{n:05d}",
            status=status,
            client_ref=f"ref-{provider.pk}-{n}",
            origin=Origin.CAMPAIGN,
            origin_ref="dispatch-test",
            content_type="text",
            request_body={
                "from": {"type": "whatsapp", "number": provider.phone_number.lstrip("+")},
                "to": {"type": "whatsapp", "number": f"4477009{n:05d}"},
                "message": {"content": {"type": "text", "text": "hi"}},
                "client_ref": f"ref-{provider.pk}-{n}",
            },
        )
        for n in range(start, start + count)
    ]
    return [message.pk for message in Message.objects.bulk_create(messages)]


def _once(ids: list[int]) -> Callable[[int], list[int]]:
    """next_ids handing out the ids, `limit` at a time, then nothing."""
    left = list(ids)

    def next_ids(limit: int) -> list[int]:
        batch = left[:limit]
        del left[:limit]
        return batch

    return next_ids


def _run(
    provider: ProviderConfig, ids: list[int], answer: Callable[[httpx.Request], httpx.Response], **kw: Any
) -> tuple[DispatchReport, Counter[str]]:
    fake = FakeNexmo(answer)
    with transport_override(fake.transport):
        report = dispatch_run(provider=provider, next_ids=_once(ids), rate=1000, **kw)
    calls = Counter(json.loads(r.content)["client_ref"] for r in fake.requests)
    return report, calls


def _statuses(ids: list[int]) -> Counter[str]:
    return Counter(Message.objects.filter(id__in=ids).values_list("status", flat=True))


def test_a_bulk_claim_is_exactly_once() -> None:
    ids = _queued(provider_make(), 5)

    first = messages_claim(ids=ids)
    second = messages_claim(ids=ids)

    assert sorted(pk for pk, _ in first) == ids
    assert first[0][1]["client_ref"].startswith("ref-")  # the request body comes back with the claim
    assert second == []
    assert _statuses(ids) == {S.SENDING: 5}


def test_a_claim_skips_rows_that_are_not_queued() -> None:
    provider = provider_make()
    ids = _queued(provider, 3)
    Message.objects.filter(id=ids[0]).update(status=S.SUBMITTED)

    assert sorted(pk for pk, _ in messages_claim(ids=ids)) == ids[1:]


def test_throttling_backs_off_and_retries_until_accepted() -> None:
    provider = provider_make()
    ids = _queued(provider, 6)
    seen = Counter[str]()

    def answer(request: httpx.Request) -> httpx.Response:
        ref = json.loads(request.content)["client_ref"]
        seen[ref] += 1
        if seen[ref] == 1:
            return httpx.Response(429, json=THROTTLED)
        return httpx.Response(202, json={"message_uuid": f"uuid-{ref}"})

    report, calls = _run(provider, ids, answer)

    assert report.throttled == 6 and report.retried == 6 and report.submitted == 6
    assert set(calls.values()) == {2}
    assert _statuses(ids) == {S.SUBMITTED: 6}
    assert set(Message.objects.filter(id__in=ids).values_list("message_uuid", flat=True)) == {
        f"uuid-ref-{provider.pk}-{n}" for n in range(6)
    }


def test_a_throttling_answer_lowers_the_rate_and_retry_after_pushes_the_shared_schedule_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    provider = provider_make()
    ids = _queued(provider, 2)
    pushed: list[float] = []
    cuts: list[int] = []
    real_back_off, real_throttled = LocalPacer.back_off, LocalPacer.throttled

    async def back_off(self: LocalPacer, seconds: float) -> None:
        pushed.append(seconds)
        await real_back_off(self, seconds)

    async def throttled(self: LocalPacer, retry_after: float | None) -> None:
        await real_throttled(self, retry_after)
        cuts.append(self.adaptive.cuts)

    monkeypatch.setattr(LocalPacer, "back_off", back_off)
    monkeypatch.setattr(LocalPacer, "throttled", throttled)
    answers = iter(
        [
            httpx.Response(429, json=THROTTLED, headers={"Retry-After": "0.2"}),
            httpx.Response(429, json=THROTTLED),  # no Retry-After: the rate drops, nothing waits a fixed second
            httpx.Response(202, json={"message_uuid": "u-1"}),
            httpx.Response(202, json={"message_uuid": "u-2"}),
        ]
    )
    started = time.monotonic()

    _run(provider, ids, lambda request: next(answers))

    assert pushed == [0.2]
    assert cuts == [1, 2]
    assert time.monotonic() - started < 1.0


def test_server_errors_are_retried_up_to_max_attempts_then_failed() -> None:
    provider = provider_make()
    ids = _queued(provider, 3)

    report, calls = _run(provider, ids, lambda r: httpx.Response(503, json={"title": "Unavailable"}), max_attempts=3)

    assert set(calls.values()) == {3}
    assert report.failed == 3 and report.retried == 6
    rows = list(Message.objects.filter(id__in=ids))
    assert {m.status for m in rows} == {S.FAILED}
    assert {m.response_status for m in rows} == {503}
    assert all(m.error_reason and m.failed_at for m in rows)


def test_a_client_error_is_rejected_with_its_code_and_not_retried() -> None:
    provider = provider_make()
    ids = _queued(provider, 2)

    report, calls = _run(provider, ids, lambda r: httpx.Response(422, json=INVALID_TEMPLATE))

    assert set(calls.values()) == {1}
    assert report.rejected == 2 and report.failures_by_code == {"1022": 2}
    rows = list(Message.objects.filter(id__in=ids))
    assert {(m.status, m.error_code, m.response_status) for m in rows} == {(S.REJECTED, "1022", 422)}
    assert all("Invalid template" in m.error_reason for m in rows)


def test_a_timeout_after_sending_is_unknown_and_never_resent() -> None:
    provider = provider_make()
    ids = _queued(provider, 2)

    def answer(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    report, calls = _run(provider, ids, answer)

    assert set(calls.values()) == {1}
    assert report.unknown == 2 and report.retried == 0
    rows = list(Message.objects.filter(id__in=ids))
    assert {(m.status, m.error_code) for m in rows} == {(S.UNKNOWN, "timeout")}
    assert all("ReadTimeout" in m.error_reason for m in rows)


def test_a_connection_refused_is_retried_as_never_sent() -> None:
    provider = provider_make()
    ids = _queued(provider, 1)
    answers = iter(["refuse", "accept"])

    def answer(request: httpx.Request) -> httpx.Response:
        if next(answers) == "refuse":
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(202, json={"message_uuid": "u-2"})

    report, calls = _run(provider, ids, answer)

    assert calls[f"ref-{provider.pk}-0"] == 2 and report.submitted == 1
    assert _statuses(ids) == {S.SUBMITTED: 1}


def test_a_failure_surge_stops_and_puts_claimed_but_unsent_rows_back_in_the_queue() -> None:
    provider = provider_make()
    ids = _queued(provider, 120)

    def answer(request: httpx.Request) -> httpx.Response:
        ref = json.loads(request.content)["client_ref"]
        if int(ref.rsplit("-", 1)[1]) % 4 == 0:
            return httpx.Response(503, json={"title": "Unavailable"})  # retryable: waiting in the retry queue
        return httpx.Response(422, json=INVALID_TEMPLATE)

    report, _ = _run(provider, ids, answer, surge=SurgePolicy(window=20, threshold=0.5, minimum=10))

    assert report.stopped == "surge" and "1022" in report.reason
    statuses = _statuses(ids)
    assert S.SENDING not in statuses  # nothing left half-claimed
    assert statuses[S.REJECTED] >= 10
    assert statuses[S.QUEUED] > 0  # never sent (or only refused with 5xx): a resumed run sends them
    retryable = Message.objects.filter(id__in=ids, client_ref__regex=r"-\d*[048]$")
    assert not retryable.filter(status=S.FAILED).exists()


@pytest.mark.parametrize("rate", [2, 1000])
def test_a_stop_request_ends_sending_within_a_second_whatever_the_batch(rate: int) -> None:
    provider = provider_make()
    ids = _queued(provider, 3000 if rate == 1000 else 30)
    sent_at: list[float] = []
    stopped_at: list[float] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent_at.append(time.monotonic())
        return httpx.Response(202, json={"message_uuid": str(uuid.uuid4())})

    def should_stop() -> bool | str:
        # The campaign is paused once a few sends went out, in the middle of one 500-row batch.
        if not stopped_at and len(sent_at) >= (300 if rate == 1000 else 2):
            stopped_at.append(time.monotonic())
        return "Paused for the test." if stopped_at else False

    with transport_override(FakeNexmo(answer).transport):
        report = dispatch_run(
            provider=provider, next_ids=_once(ids), rate=rate, batch_size=500, should_stop=should_stop
        )

    assert report.stopped == "requested" and report.reason == "Paused for the test."
    late = [at - stopped_at[0] for at in sent_at if at > stopped_at[0]]
    assert not late or max(late) < 1.0, late
    statuses = _statuses(ids)
    assert statuses[S.SUBMITTED] == len(sent_at) < len(ids)
    assert statuses[S.QUEUED] == len(ids) - len(sent_at)  # claimed and not sent: back in the queue


def test_interrupted_sends_are_settled_as_unknown_and_queued_ones_untouched() -> None:
    provider = provider_make()
    sending = _queued(provider, 3, status=S.SENDING)
    Message.objects.filter(id=sending[0]).update(status=S.QUEUED)

    settled = messages_interrupted_settle(messages=Message.objects.filter(origin_ref="dispatch-test"))

    assert settled == 2
    rows = {m.id: m for m in Message.objects.filter(id__in=sending)}
    assert rows[sending[0]].status == S.QUEUED
    assert {(rows[pk].status, rows[pk].error_code) for pk in sending[1:]} == {(S.UNKNOWN, "interrupted")}
    assert rows[sending[1]].error_reason


def test_values_update_writes_each_row_its_own_values() -> None:
    provider = provider_make()
    ids = _queued(provider, 3)

    updated = values_update(
        table=Message._meta.db_table,
        columns=("id", "code"),
        rows=[(pk, f"code-{pk}") for pk in ids[:2]],
        assignments="error_code = v.code, error_reason = %s",
        params=["set in bulk"],
        types=("bigint", "text"),
    )

    assert updated == 2
    rows = {m.id: m for m in Message.objects.filter(id__in=ids)}
    assert [rows[pk].error_code for pk in ids] == [f"code-{ids[0]}", f"code-{ids[1]}", ""]
    assert rows[ids[0]].error_reason == "set in bulk" and rows[ids[2]].error_reason == ""


def _busiest_second(times: list[float]) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


@pytest.mark.django_db(transaction=True)
def test_two_runs_on_one_number_share_its_cap_and_a_throttled_run_keeps_to_its_share() -> None:
    provider = provider_make(max_messages_per_second=40)
    full = _queued(provider, 100)
    slow = _queued(provider, 100, start=100)
    slow_refs = set(Message.objects.filter(id__in=slow).values_list("client_ref", flat=True))
    sent: dict[str, list[float]] = {"full": [], "slow": []}

    def answer(request: httpx.Request) -> httpx.Response:
        ref = json.loads(request.content)["client_ref"]
        sent["slow" if ref in slow_refs else "full"].append(time.monotonic())
        return httpx.Response(202, json={"message_uuid": str(uuid.uuid4())})

    def run(ids: list[int], rate: float) -> None:
        try:
            dispatch_run(provider=provider, next_ids=_once(ids), rate=rate, should_stop=lambda: False)
        finally:
            connection.close()

    with transport_override(FakeNexmo(answer).transport):
        threads = [threading.Thread(target=run, args=args) for args in ((full, 1000), (slow, 10))]
        for thread in threads:
            thread.start()
        time.sleep(3)  # long enough for both to send side by side, not for either to finish
        Message.objects.filter(status=S.QUEUED).delete()
        for thread in threads:
            thread.join(timeout=30)

    together = sent["full"] + sent["slow"]
    window = [t for t in together if t < min(sent["full"][-1], sent["slow"][-1])]
    assert _busiest_second(window) <= 41  # the number's cap, whoever sends
    assert _busiest_second(sent["slow"]) <= 10  # the throttled run's own share
    assert len(sent["full"]) > len(sent["slow"]) * 2  # the other run used what the slow one left
