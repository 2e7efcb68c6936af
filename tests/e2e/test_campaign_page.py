"""The campaign page as a marketer reads it: no progress before launch, a page that follows the campaign's state,
each recipient's real message state, skip reasons in words, and confirmations that say how many people they touch."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection
from playwright.sync_api import expect

from campaigns.models import AudienceList, AudienceListMember, Campaign, CampaignStatus
from campaigns.selectors import campaign_stats_refresh
from campaigns.services import campaign_run
from contacts.models import Consent
from journeys.services import enrollment_enter
from providers.models import Message, MessageStatus, Origin
from providers.nexmo.client import transport_override
from tests.campaigns.factories import answer_make, campaign_make, setup_provider, subscribed
from tests.journeys.factories import journey_live
from tests.providers.factories import FakeNexmo, contact_make

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "pw-teammate-123"


def _listed_campaign(*, subscribed_count: int = 3, opted_out: int = 2, untracked: int = 1) -> Campaign:
    """A draft campaign to an uploaded list of subscribed, opted-out and never-asked contacts."""
    provider, template = setup_provider()
    people = [
        *subscribed(subscribed_count),
        *(contact_make(whatsapp_consent=Consent.UNSUBSCRIBED) for _ in range(opted_out)),
        *(contact_make(whatsapp_consent=Consent.UNTRACKED) for _ in range(untracked)),
    ]
    listed = AudienceList.objects.create(name="vip.csv", rows=len(people), matched=len(people))
    AudienceListMember.objects.bulk_create(AudienceListMember(audience_list=listed, contact=c) for c in people)
    return campaign_make(provider=provider, template=template, audience="uploaded_list", audience_list=listed)


def _run(campaign: Campaign) -> list[Message]:
    """What a worker does once the campaign is launched: plan and send (to a fake Nexmo that accepts all). In a
    thread of its own, as a worker: the sending engine runs an event loop, which Playwright's thread already has."""

    def work() -> None:
        try:
            running = Campaign.objects.get(pk=campaign.pk)
            with transport_override(FakeNexmo().transport):
                campaign_run(campaign=running)
        finally:
            connection.close()

    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SCHEDULED)
    worker = threading.Thread(target=work)
    worker.start()
    worker.join(timeout=60)
    return list(Message.objects.filter(origin=Origin.CAMPAIGN, origin_ref=str(campaign.pk)).order_by("id"))


def _declined_questions(page: Any) -> list[str]:
    """Every confirmation the page asks, answered "Cancel" (so nothing happens), in order."""
    asked: list[str] = []

    def answer(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", answer)
    return asked


def test_a_draft_shows_no_progress(page: Any, login: Any, marketer_user: Any) -> None:
    campaign = _listed_campaign()
    login(marketer_user, PASSWORD)
    page.goto(f"/campaigns/{campaign.pk}/")

    expect(page.locator("#progress-text")).to_have_text("Not launched")
    expect(page.locator("#progress-bar")).to_have_count(0)
    assert "100 %" not in page.inner_text("#campaign-progress")


def test_the_review_page_shows_who_launch_would_reach(page: Any, login: Any, marketer_user: Any) -> None:
    campaign = _listed_campaign()
    login(marketer_user, PASSWORD)
    page.goto(f"/campaigns/{campaign.pk}/")

    expect(page.locator("#campaign-reach")).to_contain_text("6 match · 3 reachable (2 opted out, 1 not subscribed)")


def test_launch_and_cancel_ask_first_with_the_number_of_people(page: Any, login: Any, marketer_user: Any) -> None:
    campaign = _listed_campaign()
    asked = _declined_questions(page)
    login(marketer_user, PASSWORD)
    page.goto(f"/campaigns/{campaign.pk}/")
    page.click("#launch")
    page.click("#cancel")

    assert asked == ["Send to 3 people now?", "Cancel the campaign? 3 people will not get it."]
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT  # both were declined


def test_journey_stop_asks_first_with_the_people_in_it(page: Any, login: Any, marketer_user: Any) -> None:
    nodes: list[dict[str, Any]] = [
        {"id": "w", "type": "wait", "seconds": 3600, "next": "x"},
        {"id": "x", "type": "exit"},
    ]
    journey = journey_live(nodes=nodes)
    for contact in subscribed(2):
        enrollment_enter(journey=journey, contact=contact)
    asked = _declined_questions(page)
    login(marketer_user, PASSWORD)
    page.goto(f"/journeys/{journey.pk}/")
    page.click("form[action$='/stop/'] button")

    assert asked == ["Stop the journey? 2 people are in it and will leave it."]


def test_the_page_follows_the_campaign_as_it_completes(page: Any, login: Any, marketer_user: Any) -> None:
    campaign = _listed_campaign()
    login(marketer_user, PASSWORD)
    page.goto(f"/campaigns/{campaign.pk}/")
    expect(page.locator("#launch")).to_be_visible()
    expect(page.locator("#recipients")).to_contain_text("No recipients yet")

    messages = _run(campaign)  # launched elsewhere (the API, a colleague) while this page is open

    expect(page.locator("#campaign-status")).to_have_text("Completed")
    expect(page.locator("#launch")).to_have_count(0)
    expect(page.locator("#send-test")).to_have_count(0)
    expect(page.locator("#cancel")).to_have_count(0)
    expect(page.locator("#progress-text")).to_have_text("100 %")
    expect(page.locator("[data-stat=sent]")).to_have_text(str(len(messages)))
    expect(page.locator("#recipients")).not_to_contain_text("No recipients yet")
    expect(page.locator("#recipients [data-recipient-status]")).to_have_count(6)


def test_a_stale_launch_click_says_why_instead_of_failing(browser: Any, live_server: Any, marketer_user: Any) -> None:
    campaign = _listed_campaign()
    # A page that stopped following (scripts off): it still shows Launch after the campaign completed.
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto("/accounts/login/")
        page.fill("input[name=username]", marketer_user.username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"/campaigns/{campaign.pk}/")
        _run(campaign)

        response_codes: list[int] = []
        page.on("response", lambda r: response_codes.append(r.status))
        page.click("#launch")

        expect(page.locator(".flash-error")).to_contain_text("already completed")
        assert all(code < 500 for code in response_codes)
        assert page.url.endswith(f"/campaigns/{campaign.pk}/")
        campaign.refresh_from_db()
        assert campaign.status == CampaignStatus.COMPLETED
    finally:
        context.close()


def test_recipients_show_the_real_message_state_and_skip_reasons_in_words(
    page: Any, login: Any, marketer_user: Any
) -> None:
    campaign = _listed_campaign()
    messages = _run(campaign)
    assert len(messages) == 3
    Message.objects.filter(pk=messages[0].pk).update(status=MessageStatus.READ)
    Message.objects.filter(pk=messages[1].pk).update(status=MessageStatus.DELIVERED)
    login(marketer_user, PASSWORD)
    page.goto(f"/campaigns/{campaign.pk}/")

    states = page.locator("#recipients [data-recipient-status]").all_inner_texts()
    assert sorted(states) == sorted(
        ["Read", "Delivered", "Submitted", "Skipped: Opted out", "Skipped: Opted out", "Skipped: Not subscribed"]
    )
    assert "queued" not in page.inner_text("#recipients").lower()
    skipped = page.inner_text("#skipped-reasons")
    assert "Opted out 2" in skipped and "Not subscribed 1" in skipped
    assert "opted_out" not in page.inner_text("main")


def test_the_list_shows_delivered_read_and_replied_rates(page: Any, login: Any, marketer_user: Any) -> None:
    campaign = _listed_campaign(subscribed_count=4, opted_out=0, untracked=0)
    messages = _run(campaign)
    Message.objects.filter(pk__in=[m.pk for m in messages[:2]]).update(status=MessageStatus.READ)
    Message.objects.filter(pk=messages[2].pk).update(status=MessageStatus.DELIVERED)
    campaign_stats_refresh(campaign=campaign)
    login(marketer_user, PASSWORD)
    page.goto("/campaigns/")

    row = page.locator(f"#campaign-list tr[data-campaign='{campaign.pk}']")
    expect(row.locator("[data-rate=delivered]")).to_have_text("75 %")
    expect(row.locator("[data-rate=read]")).to_have_text("50 %")
    expect(row.locator("[data-rate=replied]")).to_have_text("0 %")


def test_a_customer_stop_shows_as_an_opt_out_not_a_reply(page: Any, login: Any, marketer_user: Any) -> None:
    campaign = _listed_campaign(subscribed_count=3, opted_out=0, untracked=0)
    for message, text in zip(_run(campaign), ("Yes please", " stop ", "Tell me more"), strict=True):
        answer_make(message, text)
    campaign_stats_refresh(campaign=campaign)
    login(marketer_user, PASSWORD)
    page.goto(f"/campaigns/{campaign.pk}/")

    expect(page.locator("#funnel [data-stat=replied]")).to_have_text("2")
    expect(page.locator("#funnel [data-stat=opted_out]")).to_have_text("1")
