"""Planning and dispatch against a fake Nexmo at the gateway: exactly-once, skips with reasons, failures."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from campaigns.models import Campaign, CampaignRecipient, CampaignStatus, RecipientState, SkipReason
from campaigns.selectors import campaign_stats_refresh
from campaigns.services import campaign_cancel, campaign_pause, campaign_plan, campaign_run, campaign_schedule
from contacts.models import Consent
from providers.content import TextContent
from providers.messaging.sending import message_send
from providers.messaging.statuses import message_status_apply
from providers.models import Message, MessageStatus, Origin, ProviderConfig
from providers.nexmo.client import transport_override
from providers.nexmo.webhooks import StatusEvent
from tests.campaigns.factories import campaign_make, setup_provider, subscribed
from tests.providers.factories import FakeNexmo, contact_make

pytestmark = pytest.mark.django_db


def test_planning_records_every_contact_with_a_reason_when_skipped() -> None:
    provider, template = setup_provider()
    ok = subscribed(3)
    opted_out = contact_make(whatsapp_consent=Consent.UNSUBSCRIBED)
    untracked = contact_make(whatsapp_consent=Consent.UNTRACKED)
    campaign = campaign_make(provider=provider, template=template, audience="test_profiles")
    for contact in [*ok, opted_out, untracked]:
        contact.is_test_profile = True
        contact.save()

    campaign_plan(campaign=campaign)

    rows = {r.contact_id: r for r in CampaignRecipient.objects.filter(campaign=campaign)}
    assert len(rows) == 5
    assert rows[opted_out.pk].skip_reason == SkipReason.OPTED_OUT
    assert rows[untracked.pk].state == RecipientState.PLANNED  # test profiles need no opt-in, only no opt-out
    planned = rows[ok[0].pk]
    assert planned.parameters == {"1": ok[0].name, "2": "SPRING"}


def test_opted_out_and_over_cap_contacts_receive_nothing() -> None:
    provider, template = setup_provider()
    ok, capped = subscribed(2)
    opted_out = contact_make(whatsapp_consent=Consent.UNSUBSCRIBED)
    fake = FakeNexmo()
    with transport_override(fake.transport):
        capped.last_inbound_at = timezone.now()
        capped.save()
        message_send(
            provider=provider,
            to=capped.phone,
            content=TextContent(text="hi"),
            origin=Origin.TEST,
            origin_ref="x",
            contact=capped,
        )
        campaign = campaign_make(provider=provider, template=template, frequency_cap_count=1, frequency_cap_days=7)
        campaign.status = CampaignStatus.SCHEDULED
        campaign.save()
        fake.requests.clear()
        campaign_run(campaign=campaign)

    sent_to = {body["to"]["number"] for body in fake.bodies()}
    assert sent_to == {ok.phone.lstrip("+")}
    reasons = dict(CampaignRecipient.objects.filter(campaign=campaign).values_list("contact_id", "skip_reason"))
    assert reasons[capped.pk] == SkipReason.CAPPED
    assert opted_out.pk not in reasons or reasons[opted_out.pk] == SkipReason.OPTED_OUT


class Killed(BaseException):
    """Stands for the worker process dying: nothing after it runs."""


def test_worker_killed_repeatedly_mid_dispatch_sends_each_contact_exactly_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from providers.messaging import dispatch

    provider, template = setup_provider()
    contacts = subscribed(60)
    fake = FakeNexmo(lambda r: httpx.Response(202, json={"message_uuid": f"cb-{json.loads(r.content)['client_ref']}"}))
    campaign = campaign_make(provider=provider, template=template)
    campaign.status = CampaignStatus.SCHEDULED
    campaign.save()
    real_write = dispatch._results_write
    writes = {"n": 0}

    def dying_write(outcomes: list[Any]) -> None:
        # Every third write dies after Nexmo accepted the sends but before we recorded the answers.
        writes["n"] += 1
        if writes["n"] % 3 == 0:
            raise Killed()
        real_write(outcomes)

    monkeypatch.setattr(dispatch, "_results_write", dying_write)
    monkeypatch.setattr(dispatch, "RESULTS_FLUSH_SIZE", 5)
    with transport_override(fake.transport):
        for _ in range(30):
            try:
                campaign_run(campaign=campaign, batch_size=7)
            except Killed:
                continue
            campaign.refresh_from_db()
            if campaign.status == CampaignStatus.COMPLETED:
                break
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.COMPLETED
    per_recipient = Counter(body["to"]["number"] for body in fake.bodies())
    assert set(per_recipient.values()) == {1}
    assert len(per_recipient) == len(contacts)
    statuses = Counter(Message.objects.filter(origin="campaign").values_list("status", flat=True))
    assert set(statuses) <= {MessageStatus.SUBMITTED, MessageStatus.UNKNOWN}
    assert statuses[MessageStatus.UNKNOWN] > 0  # the ones in flight when it died: never blindly resent
    # Nexmo's callbacks carry the client_ref: they settle the unknown ones.
    for body in fake.bodies():
        event = StatusEvent(
            message_uuid=f"cb-{body['client_ref']}",
            status="delivered",
            timestamp=timezone.now(),
            to=body["to"]["number"],
            client_ref=body["client_ref"],
            error_code="",
            error_reason="",
            price=None,
            currency="",
            version="v0.1",
        )
        message_status_apply(provider=provider, event=event)
    stats = campaign_stats_refresh(campaign=campaign)
    assert stats["targeted"] == 60 and stats["pending"] == 0
    assert stats["delivered"] == 60 and stats["unknown"] == 0


def test_throttled_sends_back_off_and_go_through_and_rejections_are_kept() -> None:
    provider, template = setup_provider()
    subscribed(20)
    calls = Counter[str]()

    def answer(request: httpx.Request) -> httpx.Response:
        to = json.loads(request.content)["to"]["number"]
        calls[to] += 1
        if calls[to] == 1 and to.endswith(("1", "3")):
            return httpx.Response(
                429, json={"type": "https://developer.nexmo.com/api-errors#throttled", "title": "Too many"}
            )
        if to.endswith("5"):
            return httpx.Response(
                422,
                json={
                    "type": "https://developer.nexmo.com/api-errors/messages-olympus#1022",
                    "title": "Invalid template",
                },
            )
        return httpx.Response(202, json={"message_uuid": f"uuid-{to}"})

    campaign = campaign_make(provider=provider, template=template)
    campaign.status = CampaignStatus.SCHEDULED
    campaign.save()
    with transport_override(FakeNexmo(answer).transport):
        report = campaign_run(campaign=campaign)
    assert report is not None and report.throttled > 0
    stats = campaign_stats_refresh(campaign=campaign)
    assert stats["sent"] + stats["failed"] == 20
    assert stats["failed_by_code"] == {"1022": stats["failed"]}


def test_a_failure_surge_pauses_the_campaign_with_the_reason() -> None:
    provider, template = setup_provider()
    subscribed(70)

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            422,
            json={"type": "https://developer.nexmo.com/api-errors/messages-olympus#1022", "title": "Invalid template"},
        )

    campaign = campaign_make(provider=provider, template=template)
    campaign.status = CampaignStatus.SCHEDULED
    campaign.save()
    with transport_override(FakeNexmo(answer).transport):
        campaign_run(campaign=campaign, batch_size=10)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED
    assert "1022" in campaign.pause_reason
    assert Message.objects.filter(status=MessageStatus.SENDING).count() == 0


def test_a_campaign_on_a_switched_off_number_sends_nothing_and_says_why() -> None:
    provider, template = setup_provider()
    subscribed(5)
    campaign = campaign_make(provider=provider, template=template)
    provider.is_active = False
    provider.save()

    with pytest.raises(ValidationError) as refused:
        campaign_schedule(campaign=campaign)
    assert "switched off" in str(refused.value.message_dict["provider"])

    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SCHEDULED)  # launched before it was off
    fake = FakeNexmo()
    with transport_override(fake.transport):
        campaign_run(campaign=campaign)
    campaign.refresh_from_db()
    assert fake.requests == []
    assert not Message.objects.exists()
    assert campaign.status == CampaignStatus.PAUSED
    assert "switched off" in campaign.pause_reason


def _run_in_thread(campaign: Campaign) -> threading.Thread:
    def run() -> None:
        try:
            campaign_run(campaign=Campaign.objects.get(pk=campaign.pk))
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("throttle", [1, 1000])
def test_pause_then_cancel_stop_requests_within_a_second_at_any_throttle(throttle: int) -> None:
    provider, template = setup_provider()
    subscribed(40 if throttle == 1 else 3000)
    sent_at: list[float] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent_at.append(time.monotonic())
        return httpx.Response(202, json={"message_uuid": str(uuid.uuid4())})

    campaign = campaign_make(provider=provider, template=template, throttle_per_second=throttle)
    campaign_plan(campaign=campaign)
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SCHEDULED)
    with transport_override(FakeNexmo(answer).transport):
        thread = _run_in_thread(campaign)
        deadline = time.monotonic() + 30
        while len(sent_at) < (2 if throttle == 1 else 200) and time.monotonic() < deadline:
            time.sleep(0.01)
        campaign_pause(campaign=campaign)
        paused_at = time.monotonic()
        time.sleep(1.5)
        campaign_cancel(campaign=campaign)
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert sent_at and max(sent_at) - paused_at < 1.0
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.CANCELLED
    assert Message.objects.filter(status=MessageStatus.SUBMITTED).count() == len(sent_at)
    assert len(sent_at) < CampaignRecipient.objects.filter(campaign=campaign).count()


@pytest.mark.django_db(transaction=True)
def test_switching_the_number_off_pauses_a_running_campaign_with_the_reason() -> None:
    provider, template = setup_provider()
    subscribed(40)
    sent_at: list[float] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent_at.append(time.monotonic())
        return httpx.Response(202, json={"message_uuid": str(uuid.uuid4())})

    campaign = campaign_make(provider=provider, template=template, throttle_per_second=2)
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SCHEDULED)
    with transport_override(FakeNexmo(answer).transport):
        thread = _run_in_thread(campaign)
        while len(sent_at) < 2 and thread.is_alive():
            time.sleep(0.01)
        ProviderConfig.objects.filter(pk=provider.pk).update(is_active=False)
        off_at = time.monotonic()
        thread.join(timeout=30)
    assert max(sent_at) - off_at < 1.0
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED
    assert "switched off" in campaign.pause_reason
