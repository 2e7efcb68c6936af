"""The dashboard as a marketer starts the day with it: the day's and the week's figures with rates, campaigns and
journeys at work, each number's health and the latest failures in words."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from campaigns.models import Campaign
from contacts.models import Contact
from journeys.models import Enrollment
from providers.models import InboundMessage, Message, ProviderConfig
from tests.campaigns.factories import campaign_make
from tests.e2e.conftest import ARTIFACTS
from tests.journeys.factories import journey_live, template_make
from tests.providers.factories import provider_make
from whatsapp_project.dashboard import _day_start

pytestmark = pytest.mark.django_db(transaction=True)


def _messages(provider: ProviderConfig, at: Any, statuses: list[tuple[str, str]], prefix: str) -> None:
    Message.objects.bulk_create(
        Message(
            provider=provider,
            to=f"+4477009{n:05d}",
            status=status,
            client_ref=f"{prefix}-{n}",
            origin="campaign",
            content_type="text",
            created_at=at,
            submitted_at=at,
            delivered_at=at + timedelta(seconds=2) if status in ("delivered", "read") else None,
            read_at=at + timedelta(seconds=9) if status == "read" else None,
            failed_at=at if code else None,
            error_code=code,
        )
        for n, (status, code) in enumerate(statuses)
    )


def _figure(page: Any, key: str) -> tuple[str, str]:
    figure = page.locator(f"[data-figure='{key}']")
    today, week = figure.locator(".dash-today").inner_text(), figure.locator(".dash-week").inner_text()
    return " ".join(today.split()), " ".join(week.split())


def _noon_somewhere(now: Any) -> str:
    """A time zone where it is about noon now, so that "today" holds the last hours whenever the test runs."""
    shift = 12 - now.hour  # Etc/GMT-N is UTC+N (POSIX sign)
    return "Etc/GMT" if shift == 0 else f"Etc/GMT{'-' if shift > 0 else '+'}{abs(shift)}"


def test_the_dashboard_shows_the_day_the_work_in_progress_and_what_needs_a_look(
    page: Any, login: Any, marketer_user: Any, settings: Any
) -> None:
    now = timezone.now()
    settings.TIME_ZONE = _noon_somewhere(now)
    earlier_today = now - timedelta(minutes=30)
    assert earlier_today > _day_start(now)
    main = provider_make(nickname="Main number", max_messages_per_second=80)
    promo = provider_make(nickname="Promo number", max_messages_per_second=80)
    _messages(main, earlier_today, [("read", "")] * 6 + [("delivered", "")] * 2 + [("rejected", "1340")], "t")
    _messages(main, now - timedelta(days=3), [("delivered", "")] * 4 + [("undeliverable", "1300")], "w")
    # Sent just now, five in one second: the number's busiest second.
    _messages(main, now - timedelta(seconds=5), [("submitted", "")] * 5, "n")
    # The promo number sends but no delivery receipt ever comes back.
    _messages(promo, earlier_today, [("submitted", "")] * 2, "p")
    for n in range(3):
        InboundMessage.objects.create(
            provider=main, message_uuid=f"in-{n}", from_number="447700900001", content_type="text", text="hi",
            raw={}, received_at=now - timedelta(minutes=n),
        )  # fmt: skip
    InboundMessage.objects.create(
        provider=main, message_uuid="in-old", from_number="447700900002", content_type="text", text="hello",
        raw={}, received_at=now - timedelta(days=2),
    )  # fmt: skip
    Contact.objects.create(phone="+447700900010", whatsapp_consent="unsubscribed", consent_changed_at=now)
    Contact.objects.create(
        phone="+447700900011", whatsapp_consent="unsubscribed", consent_changed_at=now - timedelta(days=5)
    )
    template = template_make(main, name="spring_sale", body="Hi {{1}}, use code {{2}}.")
    running = campaign_make(provider=main, template=template, name="Spring sale")
    Campaign.objects.filter(pk=running.pk).update(
        status="running",
        stats={"progress_percent": 40, "targeted": 500, "sent": 200, "delivered": 180, "failed": 3},
    )
    scheduled = campaign_make(provider=main, template=template, name="Summer teaser")
    Campaign.objects.filter(pk=scheduled.pk).update(status="scheduled", scheduled_at=now + timedelta(days=1))
    journey = journey_live(name="Welcome series", nodes=[{"id": "end", "type": "exit"}])
    assert journey.current_version is not None
    for n, state in enumerate(["waiting", "waiting", "active", "completed"]):
        contact = Contact.objects.create(phone=f"+44770090100{n}")
        Enrollment.objects.create(
            journey=journey, version=journey.current_version, contact=contact, state=state, node="end"
        )
    login(marketer_user, "pw-teammate-123")
    cache.clear()  # signing in showed the dashboard: the earlier days' counts, cached then, predate this data

    page.goto("/")
    # Today: 9 + 5 + 2 sent; 8 delivered (50 %), 6 of them read (75 % of delivered); 1 failed (6 %).
    assert _figure(page, "sent") == ("16 today", "21 in 7 days")
    assert _figure(page, "delivered") == ("8 today 50% of sent", "12 in 7 days 57% of sent")
    assert _figure(page, "read") == ("6 today 75% of delivered", "6 in 7 days 50% of delivered")
    assert _figure(page, "failed") == ("1 today 6% of sent", "2 in 7 days 10% of sent")
    assert _figure(page, "replies") == ("3 today", "4 in 7 days")
    assert _figure(page, "opt-outs") == ("1 today", "2 in 7 days")

    campaign = page.locator(f"[data-campaign='{running.pk}']")
    assert "40% done · 200 sent of 500 · 180 delivered · 3 failed" in campaign.inner_text()
    assert campaign.get_by_role("progressbar").get_attribute("aria-valuenow") == "40"
    assert page.locator(f"[data-campaign='{scheduled.pk}']").inner_text().count("Starts") == 1
    assert page.locator(f"[data-journey='{journey.pk}']").inner_text().endswith("3 contacts in it now")

    main_row = page.locator(f"tr[data-provider='{main.pk}']")
    assert main_row.locator(".dash-health").inner_text() == "OK"
    assert main_row.locator(".dash-callback").inner_text() == "Just now"
    assert main_row.locator(".dash-failed").inner_text() == "7% (1 of 14)"
    assert "peak 5 of 80/s cap" in main_row.locator(".dash-cap").inner_text()
    promo_row = page.locator(f"tr[data-provider='{promo.pk}']")
    assert "no delivery receipt came back" in promo_row.locator(".dash-health").inner_text()
    assert promo_row.locator(".dash-callback").inner_text() == "None yet"

    failures = page.locator("#dash-failures")
    assert "Outside the 24-hour window" in failures.locator("tr[data-client-ref='t-8'] .dash-reason").inner_text()
    assert "Not on WhatsApp" in failures.locator("tr[data-client-ref='w-4'] .dash-reason").inner_text()
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)


def test_a_quiet_dashboard_says_so(page: Any, login: Any, marketer_user: Any) -> None:
    cache.clear()
    login(marketer_user, "pw-teammate-123")
    page.goto("/")
    assert _figure(page, "sent") == ("0 today", "0 in 7 days")
    assert "No campaign is running or scheduled" in page.locator("#dash-campaigns").inner_text()
    assert "No journey is live" in page.locator("#dash-journeys").inner_text()
    assert "No WhatsApp number is connected yet" in page.locator("#dash-numbers").inner_text()
    assert "No failures in the last 7 days" in page.locator("#dash-failures").inner_text()
    page.screenshot(path=str(ARTIFACTS / "dashboard-empty.png"), full_page=True)
