"""Campaigns against the Nexmo simulator: faults on every path, callbacks through the live server, and the cap."""

from __future__ import annotations

import bisect
import time
from collections import Counter
from datetime import datetime
from typing import Any

import pytest

from campaigns.models import Campaign, CampaignRecipient, CampaignStatus, RecipientState
from campaigns.selectors import campaign_stats_refresh
from campaigns.services import campaign_resume, campaign_run
from providers.models import Message, MessageStatus
from providers.simulator import SimulatorHandle
from tests.campaigns.factories import campaign_make, subscribed
from tests.providers.factories import contact_make
from tests.simulated import simulated_provider
from tests.templates_app.factories import template_make

FAULTS = {
    # High enough that each fault shows up in a run of this size whatever order the requests take.
    "rate_429": 0.1,
    "rate_5xx": 0.1,
    "rate_timeout": 0.1,
    "rate_reset": 0.1,
    "timeout_hold_s": 1.0,
    "duplicate_callback_rate": 0.5,
    "shuffle_callback_rate": 0.5,
    "delivered_delay_ms": 20.0,
    "read_delay_ms": 40.0,
    "read_rate": 0.5,
    "enforce_window": False,
}
SETTLED = {MessageStatus.DELIVERED, MessageStatus.READ}
FAILURES = {MessageStatus.FAILED, MessageStatus.REJECTED, MessageStatus.UNDELIVERABLE}


def _accepted_refs(simulator: SimulatorHandle) -> Counter[str]:
    return Counter(m["client_ref"] for m in simulator.messages(limit=1000))


def _run_to_completion(campaign: Campaign) -> None:
    """What the scheduler does: run again while work is left, resume after an automatic pause."""
    for _ in range(15):
        campaign.refresh_from_db()
        if campaign.status == CampaignStatus.COMPLETED:
            return
        if campaign.status == CampaignStatus.PAUSED:
            campaign_resume(campaign=campaign)  # django-q2 runs the enqueued run inline in tests
        else:
            campaign_run(campaign=campaign, batch_size=10)
    campaign.refresh_from_db()


def _wait_for_callbacks(campaign: Campaign, accepted: set[str], timeout: float = 15.0) -> Counter[str]:
    """Until every message Nexmo accepted has its final callbacks (delivered, and read when read)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = list(
            Message.objects.filter(origin="campaign", origin_ref=str(campaign.pk)).values("client_ref", "status")
        )
        open_ = [r for r in rows if r["client_ref"] in accepted and r["status"] not in SETTLED]
        if not open_ or time.monotonic() > deadline:
            return Counter(r["status"] for r in rows)
        time.sleep(0.1)


@pytest.mark.django_db(transaction=True)
def test_with_every_fault_on_each_recipient_ends_settled_once_and_stats_add_up(live_server: Any, settings: Any) -> None:
    settings.PUBLIC_BASE_URL = live_server.url
    settings.NEXMO_READ_TIMEOUT = 0.5  # a held request is a timeout quickly, not after Nexmo's 10 s
    with simulated_provider(seed=11, simulator=FAULTS) as (provider, simulator):
        template = template_make(provider=provider, body="Hi {{1}}, use code {{2}}.")
        contacts = subscribed(60)
        contact_make(phone="+4470000000001")  # not subscribed: outside the audience
        campaign = campaign_make(provider=provider, template=template, throttle_per_second=200)
        Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SCHEDULED)

        _run_to_completion(campaign)
        assert campaign.status == CampaignStatus.COMPLETED
        accepted = _accepted_refs(simulator)
        statuses = _wait_for_callbacks(campaign, set(accepted))
        counters = simulator.counters()

    # The faults really happened.
    refused = counters["refused"]
    assert refused["fault_429"] and refused["fault_5xx"] and refused["reset"] and counters["timeouts"]
    assert counters["callbacks"]["duplicated"] and counters["callbacks"]["shuffled"]
    # Exactly one message per contact, and Nexmo accepted each client_ref at most once.
    messages = list(Message.objects.filter(origin="campaign", origin_ref=str(campaign.pk)))
    assert sorted(m.contact_id or 0 for m in messages) == sorted(c.pk for c in contacts)
    assert set(accepted.values()) == {1}
    assert set(accepted) <= {m.client_ref for m in messages}
    # Every recipient ends delivered, read, failed with a reason, or unknown with a reason.
    for message in messages:
        if message.client_ref in accepted:
            assert message.status in SETTLED, (message.status, message.error_reason)
        elif message.status in FAILURES:
            assert message.error_code and message.error_reason
        else:
            assert message.status == MessageStatus.UNKNOWN, message.status
            assert message.error_reason
    assert statuses[MessageStatus.READ] and statuses[MessageStatus.DELIVERED]
    assert sum(statuses[s] for s in FAILURES) + statuses[MessageStatus.UNKNOWN] > 0
    # The stats add up to the audience.
    stats = campaign_stats_refresh(campaign=campaign)
    assert stats["audience"] == 60 == CampaignRecipient.objects.filter(campaign=campaign).count()
    assert stats["targeted"] + stats["skipped"] == stats["audience"]
    assert sum(stats["by_status"].values()) == stats["targeted"]
    assert stats["by_status"]["pending"] == 0 and stats["by_status"]["submitted"] == 0
    assert stats["delivered"] == statuses[MessageStatus.DELIVERED] + statuses[MessageStatus.READ]
    assert not CampaignRecipient.objects.filter(campaign=campaign, state=RecipientState.PLANNED).exists()


def _max_in_one_second(times: list[float]) -> int:
    times = sorted(times)
    return max(bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times))


@pytest.mark.django_db
def test_a_throttled_campaign_never_exceeds_its_cap_in_any_second_at_the_provider() -> None:
    with simulated_provider(simulator={"callbacks": False, "enforce_window": False}) as (provider, simulator):
        template = template_make(provider=provider, body="Hi {{1}}, use code {{2}}.")
        subscribed(50)
        campaign = campaign_make(provider=provider, template=template, throttle_per_second=20)
        Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SCHEDULED)
        campaign.refresh_from_db()
        report = campaign_run(campaign=campaign)
        received = simulator.messages(limit=1000)

    assert report is not None and report.submitted == 50
    times = [datetime.fromisoformat(m["accepted_at"].replace("Z", "+00:00")).timestamp() for m in received]
    assert len(times) == 50
    assert _max_in_one_second(times) <= 20
    # ...and the cap is used: 50 sends at 20/s span about 2.45 s.
    assert max(times) - min(times) < 2.45 / 0.9


class _Killed(BaseException):
    """Stands for the worker process dying: nothing after it runs."""


@pytest.mark.django_db
def test_a_run_that_dies_puts_back_what_never_went_out_and_the_resumed_run_sends_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first result write dies while most sends wait for their turn (4 at a time, Nexmo answering in 50 ms) and
    a few are on their way, through the real client: what never went out is back in the queue, only what may have
    reached Nexmo is left `sending`, and the resumed run sends the rest — every contact gets exactly one message."""
    from providers.messaging import dispatch

    def dying_write(outcomes: list[Any]) -> None:
        raise _Killed()

    simulator_settings = {"callbacks": False, "enforce_window": False, "latency_ms": 50.0}
    with simulated_provider(simulator=simulator_settings) as (provider, simulator):
        template = template_make(provider=provider, body="Hi {{1}}, use code {{2}}.")
        contacts = subscribed(40)
        campaign = campaign_make(provider=provider, template=template, throttle_per_second=1000)
        Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SCHEDULED)
        campaign.refresh_from_db()
        with monkeypatch.context() as patched:
            patched.setattr(dispatch, "_results_write", dying_write)
            patched.setattr(dispatch, "RESULTS_FLUSH_SIZE", 1)
            with pytest.raises(_Killed):
                campaign_run(campaign=campaign, max_concurrency=4)

        reached = {m["client_ref"] for m in simulator.messages(limit=1000)}
        messages = Message.objects.filter(origin="campaign")
        left_sending = set(messages.filter(status=MessageStatus.SENDING).values_list("client_ref", flat=True))
        put_back = set(messages.filter(status=MessageStatus.QUEUED).values_list("client_ref", flat=True))
        assert left_sending and left_sending <= reached
        assert put_back and not put_back & reached

        campaign.refresh_from_db()
        report = campaign_run(campaign=campaign, max_concurrency=4)
        received = Counter(m["to"] for m in simulator.messages(limit=1000))

    assert report is not None
    assert set(received.values()) == {1}
    assert set(received) == {contact.phone.lstrip("+") for contact in contacts}
    # The ones on their way when it died are `unknown` (their callbacks settle them), never sent again.
    assert messages.filter(status=MessageStatus.UNKNOWN).count() == len(left_sending)
