"""What the dashboard shows: today's and the week's messages, replies, opt-outs, campaigns and journeys at work, each
number's health and the latest failures.

It reads every app, so it lives with the project rather than in one of them. Fast on millions of messages by design:
one grouped count of today's messages (by number, status and error code, from a covering index) serves today's
totals, rates and each number's failure rate; the 6 days before come from the same count per day, cached (a day
that is over barely changes); everything else is an index lookup, an index-only count or a stored rollup.
bench/bench_dashboard.py measures it next to a COUNT per figure.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate, TruncSecond
from django.utils import timezone
from django.utils.timesince import timesince

from campaigns.models import Campaign, CampaignStatus
from contacts.models import Consent, Contact
from journeys.models import Enrollment, EnrollmentState, Journey, JourneyStatus
from providers.models import MESSAGE_DELIVERED, MESSAGE_FAILED, MESSAGE_WAITING, InboundMessage, Message, ProviderConfig
from providers.nexmo.errors import error_in_words

# "7 days" is today and the 6 days before it, in the site's time zone.
WEEK_DAYS = 7
YESTERDAY_TTL = 300
EARLIER_DAY_TTL = 3600
# A number sending while no delivery receipt came for this long: its status callback URL is probably wrong.
RECEIPTS_OVERDUE = timedelta(minutes=15)
# How far back the send rate looks, and how long before its sending a message may have been queued to count.
RATE_WINDOW = timedelta(seconds=60)
RATE_QUEUED_WITHIN = timedelta(minutes=10)
# Delivery receipts are looked for among a number's latest messages only (an index range, not a scan).
RECEIPT_SAMPLE = 500
RECENT_FAILURES = 8


@dataclass
class Period:
    """Outbound counts for one period, grouped the way a marketer reads them."""

    total: int = 0
    waiting: int = 0
    delivered: int = 0
    read: int = 0
    failed: int = 0

    @property
    def sent(self) -> int:
        """Messages that left us (everything but the ones still queued or being sent)."""
        return self.total - self.waiting

    @property
    def delivered_rate(self) -> int | None:
        return _percent(self.delivered, self.sent)

    @property
    def read_rate(self) -> int | None:
        return _percent(self.read, self.delivered)

    @property
    def failed_rate(self) -> int | None:
        return _percent(self.failed, self.sent)

    def add(self, status: str, count: int) -> None:
        self.total += count
        if status in MESSAGE_WAITING:
            self.waiting += count
        if status in MESSAGE_DELIVERED:
            self.delivered += count
        if status == "read":
            self.read += count
        if status in MESSAGE_FAILED:
            self.failed += count


@dataclass
class NumberHealth:
    provider: ProviderConfig
    today: Period = field(default_factory=Period)
    last_inbound_at: datetime | None = None
    last_receipt_at: datetime | None = None
    # The latest message still waiting for its receipt RECEIPTS_OVERDUE after it went out.
    last_settled_submit_at: datetime | None = None
    rate_now: float = 0.0  # messages per second over the last RATE_WINDOW
    peak_second: int = 0  # the busiest second of that window

    @property
    def last_callback_at(self) -> datetime | None:
        seen = [moment for moment in (self.last_inbound_at, self.last_receipt_at) if moment]
        return max(seen) if seen else None

    @property
    def last_callback_ago(self) -> str:
        """When Nexmo last called back about this number (an inbound message or a receipt), in words."""
        seen = self.last_callback_at
        if seen is None:
            return "None yet"
        if timezone.now() - seen < timedelta(minutes=1):
            return "Just now"
        return f"{timesince(seen)} ago".replace("\xa0", " ")

    @property
    def cap(self) -> int:
        return self.provider.max_messages_per_second

    @property
    def cap_percent(self) -> int:
        return min(100, round(self.peak_second * 100 / self.cap)) if self.cap else 0

    @property
    def problems(self) -> list[str]:
        """What needs a look, in words; empty when the number is healthy."""
        found = []
        if not self.provider.is_active:
            found.append("Switched off: nothing is sent from this number.")
        # A message still has no receipt RECEIPTS_OVERDUE after it went out, and none came for anything since.
        overdue = (
            self.last_settled_submit_at is not None
            and timezone.now() - self.last_settled_submit_at < timedelta(days=1)
            and (self.last_receipt_at is None or self.last_receipt_at < self.last_settled_submit_at)
        )
        if overdue:
            found.append("Messages go out but no delivery receipt came back: check the status callback URL in Nexmo.")
        if (self.today.failed_rate or 0) >= 10:
            found.append(f"{self.today.failed_rate}% of today's messages failed.")
        if self.peak_second >= self.cap:
            found.append("Sending at its cap: more would wait in the queue.")
        return found


@dataclass
class Failure:
    message: Message

    @property
    def reason(self) -> str:
        return error_in_words(self.message.error_code, self.message.error_reason) or "No reason was given."


@dataclass
class CampaignCard:
    campaign: Campaign
    percent: int
    audience: int
    sent: int
    delivered: int
    failed: int


@dataclass
class JourneyCard:
    journey: Journey
    active: int


@dataclass
class Dashboard:
    today: Period
    week: Period
    replies_today: int
    replies_week: int
    repliers_week: int
    opt_outs_today: int
    opt_outs_week: int
    campaigns: list[CampaignCard]
    journeys: list[JourneyCard]
    numbers: list[NumberHealth]
    failure_reasons: list[tuple[str, int]]
    recent_failures: list[Failure]


def _percent(part: int, whole: int) -> int | None:
    return round(part * 100 / whole) if whole else None


def _day_start(now: datetime) -> datetime:
    local = timezone.localtime(now)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


MessageCounts = list[tuple[int, str, str, int]]  # (provider id, status, error code, messages)


def _counts_today_query(today_start: datetime) -> QuerySet[Message, tuple[int, str, str, int]]:
    """Today's messages by number, status and error code: a range of message_recent_cover_idx, read live."""
    return (
        Message.objects.filter(created_at__gte=today_start)
        .values_list("provider_id", "status", "error_code")
        .annotate(n=Count("*"))
        .order_by()
    )


def _counts_earlier_days(today_start: datetime) -> MessageCounts:
    """The same counts for the 6 days before today, each day's kept in the cache for a while.

    A day that is over changes little (a late receipt, a late read), so its counts are cached: yesterday's for
    YESTERDAY_TTL, older days' for EARLIER_DAY_TTL. Only missing days are counted, in one grouped query.
    """
    days = [(today_start - timedelta(days=back)).date() for back in range(1, WEEK_DAYS)]
    zone = timezone.get_current_timezone_name()
    keys = {day: f"dashboard:messages:{zone}:{day.isoformat()}" for day in days}
    cached = cache.get_many(list(keys.values()))
    missing = [day for day in days if keys[day] not in cached]
    if missing:
        first = today_start - timedelta(days=(today_start.date() - min(missing)).days)
        end = today_start - timedelta(days=(today_start.date() - max(missing)).days - 1)
        counted: dict[date, MessageCounts] = {day: [] for day in missing}
        rows = (
            Message.objects.filter(created_at__gte=first, created_at__lt=end)
            .annotate(day=TruncDate("created_at"))
            .values_list("day", "provider_id", "status", "error_code")
            .annotate(n=Count("*"))
            .order_by()
        )
        for day, provider_id, status, error_code, count in rows:
            counted.setdefault(day, []).append((provider_id, status, error_code, count))
        yesterday = days[0]
        for day, counts in counted.items():
            if day in keys:
                ttl = YESTERDAY_TTL if day == yesterday else EARLIER_DAY_TTL
                cache.set(keys[day], counts, ttl)
                cached[keys[day]] = counts
    return [row for day in days for row in cached.get(keys[day], [])]


def dashboard_figures(*, now: datetime | None = None) -> Dashboard:
    """Every figure of the dashboard, in a fixed handful of queries whatever the number of messages."""
    now = now or timezone.now()
    today_start = _day_start(now)
    week_start = today_start - timedelta(days=WEEK_DAYS - 1)
    numbers = {provider.pk: NumberHealth(provider=provider) for provider in ProviderConfig.objects.order_by("nickname")}
    today, week = Period(), Period()
    reasons: dict[str, int] = defaultdict(int)
    counts_today: MessageCounts = list(_counts_today_query(today_start))
    for provider_id, status, _code, count in counts_today:
        today.add(status, count)
        if provider_id in numbers:
            numbers[provider_id].today.add(status, count)
    for _provider, status, error_code, count in counts_today + _counts_earlier_days(today_start):
        week.add(status, count)
        if status in MESSAGE_FAILED:
            reasons[error_code] += count
    _number_signals(numbers, now)
    _send_rates(numbers, now)
    replies = InboundMessage.objects.filter(received_at__gte=week_start).aggregate(
        week=Count("*"),
        today=Count("received_at", filter=Q(received_at__gte=today_start)),
        contacts=Count("contact_id", distinct=True),
    )
    opt_outs = Contact.objects.filter(
        whatsapp_consent=Consent.UNSUBSCRIBED, consent_changed_at__gte=week_start
    ).aggregate(week=Count("*"), today=Count("id", filter=Q(consent_changed_at__gte=today_start)))
    failures: list[Failure] = []
    if week.failed:
        latest = (
            Message.objects.filter(created_at__gte=week_start, status__in=MESSAGE_FAILED)
            .select_related("provider", "contact")
            .order_by("-created_at")[:RECENT_FAILURES]
        )
        failures = [Failure(message) for message in latest]
    return Dashboard(
        today=today,
        week=week,
        replies_today=replies["today"],
        replies_week=replies["week"],
        repliers_week=replies["contacts"],
        opt_outs_today=opt_outs["today"],
        opt_outs_week=opt_outs["week"],
        campaigns=_campaigns_at_work(),
        journeys=_live_journeys(),
        numbers=list(numbers.values()),
        failure_reasons=[
            (error_in_words(code) or code or "No reason given", count)
            for code, count in sorted(reasons.items(), key=lambda item: -item[1])[:5]
        ],
        recent_failures=failures,
    )


def _number_signals(numbers: dict[int, NumberHealth], now: datetime) -> None:
    """Each number's latest inbound message, and among its RECEIPT_SAMPLE latest messages the latest receipt and the
    latest one still waiting for it: one statement, an index lookup and a short index range per number."""
    message, inbound = Message._meta.db_table, InboundMessage._meta.db_table
    provider = ProviderConfig._meta.db_table
    sql = (
        # Table names are the models' own; the values are bound parameters.
        f"SELECT p.id, (SELECT i.received_at FROM {inbound} i WHERE i.provider_id = p.id"  # noqa: S608
        "  ORDER BY i.received_at DESC LIMIT 1),"
        " s.receipt, s.settled"
        f" FROM {provider} p LEFT JOIN LATERAL (SELECT max(GREATEST(m.delivered_at, m.read_at,"
        "  CASE WHEN m.status = 'undeliverable' THEN m.failed_at END)) AS receipt,"
        "  max(m.submitted_at) FILTER (WHERE m.status = 'submitted' AND m.submitted_at < %s) AS settled"
        f"  FROM (SELECT status, delivered_at, read_at, failed_at, submitted_at FROM {message} WHERE provider_id = p.id"
        "   ORDER BY created_at DESC LIMIT %s) m) s ON true"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [now - RECEIPTS_OVERDUE, RECEIPT_SAMPLE])
        for provider_id, last_inbound, last_receipt, last_settled in cursor.fetchall():
            if provider_id in numbers:
                number = numbers[provider_id]
                number.last_inbound_at, number.last_receipt_at = last_inbound, last_receipt
                number.last_settled_submit_at = last_settled


def _send_rates(numbers: dict[int, NumberHealth], now: datetime) -> None:
    """Each number's rate over the last minute and its busiest second, against its cap."""
    per_second = (
        Message.objects.filter(created_at__gte=now - RATE_QUEUED_WITHIN, submitted_at__gte=now - RATE_WINDOW)
        .annotate(second=TruncSecond("submitted_at"))
        .values_list("provider_id", "second")
        .annotate(n=Count("*"))
        .order_by()
    )
    for provider_id, _second, count in per_second:
        if provider_id in numbers:
            number = numbers[provider_id]
            number.rate_now += count / RATE_WINDOW.total_seconds()
            number.peak_second = max(number.peak_second, count)


def _campaigns_at_work() -> list[CampaignCard]:
    """Running, paused and scheduled campaigns with their stored rollup (the runner refreshes it as it sends)."""
    order = {CampaignStatus.RUNNING: 0, CampaignStatus.PAUSED: 1, CampaignStatus.SCHEDULED: 2}
    campaigns = Campaign.objects.filter(status__in=order).select_related("provider", "template")
    cards = [
        CampaignCard(
            campaign=campaign,
            # A campaign not planned yet stores None for what it cannot know yet.
            percent=int(campaign.stats.get("progress_percent") or 0),
            audience=int(campaign.stats.get("targeted") or 0),
            sent=int(campaign.stats.get("sent") or 0),
            delivered=int(campaign.stats.get("delivered") or 0),
            failed=int(campaign.stats.get("failed") or 0),
        )
        for campaign in campaigns.order_by("scheduled_at", "id")
    ]
    return sorted(cards, key=lambda card: order[CampaignStatus(card.campaign.status)])


def _live_journeys() -> list[JourneyCard]:
    """Live journeys with how many contacts are in them now (a count on the one-run-per-contact partial index)."""
    journeys = list(Journey.objects.filter(status=JourneyStatus.LIVE).order_by("name"))
    active = dict(
        Enrollment.objects.filter(
            journey__in=[journey.pk for journey in journeys],
            state__in=[EnrollmentState.ACTIVE, EnrollmentState.WAITING],
        )
        .values_list("journey")
        .annotate(n=Count("*"))
        .order_by()
    )
    return [JourneyCard(journey=journey, active=active.get(journey.pk, 0)) for journey in journeys]
