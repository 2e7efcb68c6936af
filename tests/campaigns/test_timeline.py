"""The over-time chart: buckets from one grouped query, totals that match the funnel, the API field and the page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from campaigns.charts import timeline_chart
from campaigns.models import Campaign, CampaignStatus
from campaigns.selectors import campaign_stats_refresh, campaign_timeline, timeline_width
from campaigns.services import campaign_run
from providers.models import Message, Origin
from providers.nexmo.client import transport_override
from tests.campaigns.factories import campaign_make, setup_provider, subscribed
from tests.providers.factories import FakeNexmo

pytestmark = pytest.mark.django_db


def _sent_campaign(count: int) -> tuple[Campaign, list[Message]]:
    provider, template = setup_provider()
    subscribed(count)
    campaign = campaign_make(provider=provider, template=template)
    campaign.status = CampaignStatus.SCHEDULED
    campaign.save()
    with transport_override(FakeNexmo().transport):
        campaign_run(campaign=campaign)
    messages = list(Message.objects.filter(origin=Origin.CAMPAIGN, origin_ref=str(campaign.pk)).order_by("id"))
    assert len(messages) == count
    return campaign, messages


def _at(minute_start: datetime, seconds: int) -> datetime:
    return minute_start + timedelta(seconds=seconds)


def _scripted(count: int = 6) -> tuple[Campaign, datetime]:
    """A campaign started four minutes ago whose messages moved at known seconds after its first minute."""
    campaign, messages = _sent_campaign(count)
    now = timezone.now()
    t0 = datetime.fromtimestamp((int(now.timestamp()) - 240) // 60 * 60, tz=UTC)
    # The rollup written by the run is stale once the script below rewrites the messages.
    Campaign.objects.filter(pk=campaign.pk).update(started_at=t0 + timedelta(seconds=5), stats_at=None)
    script = [
        ("read", 10, 70, 130, None),
        ("read", 10, None, 75, None),  # a read receipt without a delivered one before it
        ("delivered", 70, 71, None, None),
        ("undeliverable", 10, None, None, 72),  # accepted by Nexmo, then failed: sent and failed
        ("failed", None, None, None, 130),  # never reached Nexmo
        ("rejected", 15, None, None, 16),
    ]
    for message, (status, sub, dlv, read, failed) in zip(messages, script, strict=True):
        Message.objects.filter(pk=message.pk).update(
            status=status,
            submitted_at=None if sub is None else _at(t0, sub),
            delivered_at=None if dlv is None else _at(t0, dlv),
            read_at=None if read is None else _at(t0, read),
            failed_at=None if failed is None else _at(t0, failed),
        )
    campaign.refresh_from_db()
    return campaign, t0


def test_buckets_count_each_event_in_the_minute_it_happened_and_add_up_to_the_funnel() -> None:
    campaign, t0 = _scripted()

    timeline = campaign_timeline(campaign=campaign)

    assert timeline["bucket_seconds"] == 60
    points = timeline["points"]
    assert points[0]["at"] == t0.isoformat()
    assert len(points) in (5, 6)  # four minutes ago to now, whatever the second hand says
    rows = [(p["sent"], p["delivered"], p["read"], p["failed"]) for p in points[:3]]
    assert rows == [(3, 0, 0, 1), (1, 3, 1, 1), (0, 0, 1, 1)]
    assert all((p["sent"], p["delivered"], p["read"], p["failed"]) == (0, 0, 0, 0) for p in points[3:])
    stats = campaign_stats_refresh(campaign=campaign)
    for series in ("sent", "delivered", "read", "failed"):
        assert sum(p[series] for p in points) == stats[series], series


def test_the_timeline_is_one_grouped_query_whatever_the_number_of_buckets(django_assert_num_queries: Any) -> None:
    campaign, _ = _scripted()
    Campaign.objects.filter(pk=campaign.pk).update(started_at=timezone.now() - timedelta(hours=2))
    campaign.refresh_from_db()
    with django_assert_num_queries(1):
        timeline = campaign_timeline(campaign=campaign)
    assert timeline["bucket_seconds"] == 300 and len(timeline["points"]) >= 24


def test_a_campaign_not_started_has_no_points() -> None:
    provider, template = setup_provider()
    campaign = campaign_make(provider=provider, template=template)
    assert campaign_timeline(campaign=campaign)["points"] == []
    assert timeline_chart(campaign_timeline(campaign=campaign)).empty


@pytest.mark.parametrize(
    ("span", "width"),
    [(0, 60), (3600, 60), (3 * 3600, 300), (86400, 1800), (30 * 86400, 43200), (120 * 86400, 2 * 86400)],
)
def test_bucket_width_is_a_minute_or_coarser_chosen_from_the_span(span: int, width: int) -> None:
    assert timeline_width(span) == width


def test_chart_scales_the_busiest_bucket_to_the_top() -> None:
    timeline = {
        "bucket_seconds": 60,
        "points": [
            {"at": "2030-01-01T10:00:00+00:00", "sent": 4, "delivered": 0, "read": 0, "failed": 0},
            {"at": "2030-01-01T10:01:00+00:00", "sent": 2, "delivered": 4, "read": 1, "failed": 0},
        ],
    }
    chart = timeline_chart(timeline)
    series = {s.key: s for s in chart.series}
    assert chart.peak == 4 and chart.bucket_label == "per minute" and chart.unit == "messages per minute"
    assert series["sent"].total == 6 and series["delivered"].total == 4
    first = series["sent"].bars[0]
    assert (first.y, first.value) == (8.0, 4)  # the top padding: the peak reaches the top
    assert first.y + first.height == chart.baseline
    assert series["failed"].bars == []  # no bar where nothing happened


def test_a_finished_send_is_bars_that_stop_not_a_line_falling_to_zero() -> None:
    """Everything went out in the first minute; the minutes after it hold no bar at all."""
    points = [
        {"at": f"2030-01-01T10:0{i}:00+00:00", "sent": 0, "delivered": 0, "read": 0, "failed": 0} for i in range(5)
    ]
    points[0]["sent"] = 500
    chart = timeline_chart({"bucket_seconds": 60, "points": points})
    sent = next(s for s in chart.series if s.key == "sent")
    assert [bar.value for bar in sent.bars] == [500]
    assert sent.bars[0].x < chart.left + (chart.right - chart.left) / 5  # in the first minute's slot


def test_stats_api_adds_the_timeline_and_keeps_the_funnel_fields(marketer_api: Any) -> None:
    campaign, _ = _scripted()
    stats = marketer_api.get(f"/api/v1/campaigns/{campaign.pk}/stats/").json()
    for name in ("targeted", "skipped", "sent", "delivered", "read", "replied", "failed", "unknown"):
        assert name in stats
    timeline = stats["timeline"]
    assert timeline["bucket_seconds"] == 60
    assert sum(p["sent"] for p in timeline["points"]) == stats["sent"] == 4
    assert set(timeline["points"][0]) == {"at", "sent", "delivered", "read", "failed"}


def test_detail_page_draws_the_chart_and_the_poll_brings_it_redrawn(client: Client, marketer_user: Any) -> None:
    campaign, _ = _scripted()
    client.force_login(marketer_user)
    page = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert 'id="timeline-chart"' in page and 'data-series="read"' in page and 'data-total="2"' in page
    progress = client.get(f"/campaigns/{campaign.pk}/progress.json").json()
    assert 'data-series="sent" data-total="4"' in progress["chart_html"]
    assert progress["stats"]["timeline"]["points"]
