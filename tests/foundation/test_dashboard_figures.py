"""The dashboard's figures: today read live, the 6 days before counted once and cached, rates as a marketer reads
them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from providers.models import Message
from tests.providers.factories import provider_make
from whatsapp_project.dashboard import Period, _day_start, dashboard_figures

pytestmark = pytest.mark.django_db


def _message(provider: Any, ref: str, at: Any, status: str = "delivered", code: str = "") -> Message:
    return Message.objects.create(
        provider=provider, to="+447700900001", client_ref=ref, origin="test", content_type="text", status=status,
        error_code=code, created_at=at,
    )  # fmt: skip


def test_rates_are_shares_of_what_left_us() -> None:
    period = Period()
    for status, count in [("queued", 5), ("read", 30), ("delivered", 10), ("submitted", 5), ("rejected", 5)]:
        period.add(status, count)
    assert (period.total, period.sent, period.waiting) == (55, 50, 5)
    assert (period.delivered_rate, period.read_rate, period.failed_rate) == (80, 75, 10)
    assert Period().delivered_rate is None


def test_today_is_live_and_earlier_days_are_counted_once_then_cached() -> None:
    cache.clear()
    provider = provider_make()
    now = timezone.now()
    start = _day_start(now)
    _message(provider, "today", now)
    _message(provider, "two-days-ago", start - timedelta(days=2) + timedelta(hours=1), status="rejected", code="1340")
    _message(provider, "too-old", start - timedelta(days=6, seconds=1))

    first = dashboard_figures(now=now)
    assert (first.today.total, first.week.total, first.week.failed) == (1, 2, 1)
    assert first.failure_reasons[0][0].startswith("Outside the 24-hour window")

    # New messages: today's shows at once; an earlier day's waits for its cached count to expire.
    _message(provider, "today-2", now)
    _message(provider, "two-days-ago-2", start - timedelta(days=2) + timedelta(hours=2))
    second = dashboard_figures(now=now)
    assert (second.today.total, second.week.total) == (2, 3)
    cache.clear()
    assert dashboard_figures(now=now).week.total == 4


def test_the_figures_take_a_fixed_number_of_queries(django_assert_max_num_queries: Any) -> None:
    cache.clear()
    for n in range(3):
        provider = provider_make()
        for m in range(5):
            _message(provider, f"{n}-{m}", timezone.now() - timedelta(days=m), status="failed", code="1000")
    with django_assert_max_num_queries(12):
        figures = dashboard_figures()
    assert figures.week.failed == 15 and len(figures.numbers) == 3 and len(figures.recent_failures) == 8


def test_a_scheduled_campaign_not_planned_yet_shows_on_the_dashboard(client: Any, marketer_user: Any) -> None:
    from campaigns.models import Campaign
    from campaigns.selectors import campaign_stats
    from tests.campaigns.factories import campaign_make
    from tests.journeys.factories import template_make

    provider = provider_make()
    campaign = campaign_make(provider=provider, template=template_make(provider), variables={})
    Campaign.objects.filter(pk=campaign.pk).update(status="scheduled", scheduled_at=timezone.now() + timedelta(days=1))
    campaign.refresh_from_db()
    campaign_stats(campaign=campaign)  # opening its page stores the rollup, progress unknown (None) until planned
    client.force_login(marketer_user)
    page = client.get("/")
    assert page.status_code == 200
    assert "Spring sale" in page.content.decode()
