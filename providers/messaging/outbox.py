"""The outbox of each number: messages queued by journeys (and any origin without a sending run of its own) go out
here, through the same engine and the same per-number pacer as campaigns, at the number's cap.

A journey step only writes its message as `queued` (the send rules applied by `message_prepare`) and moves on; no
claim on enrollments is held while Nexmo answers. `outbox_kick` then starts a sender for the number, a django-q
task. One sender per number at a time holds an `OutboxLease`; it sends until nothing is left, so a kick while it
runs costs nothing, and it looks once more after giving the lease back so that a message queued at that moment is
not left waiting. A sender that died leaves its lease to expire; the next one settles what it left mid-request as
`unknown` (never sent twice) and carries on.

Origins decide what may go now through gates (`outbox_gate_register`): journeys hold the messages of a paused
journey and let a stopped journey's go nowhere; the inbox holds journey messages to a contact a person is talking to.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django_q.tasks import async_task

from providers.messaging.dispatch import DispatchReport, SurgePolicy, dispatch_run, messages_interrupted_settle
from providers.models import Message, MessageStatus, Origin, OutboxLease, ProviderConfig

logger = logging.getLogger(__name__)

# The origins whose messages the outbox sends (campaigns send under their own run: throttle, surge policy, pause).
OUTBOX_ORIGINS = (Origin.JOURNEY, Origin.INBOX)
# Sent before the others of the outbox, whatever their age.
PRIORITY_ORIGINS = (Origin.INBOX,)
LEASE_SECONDS = 30
# Ids fetched per round: about half a second of sends at the number's cap, so a journey paused meanwhile loses at
# most that much before its gate holds its messages back.
FETCH_SECONDS = 0.5

# origin → gates(messages) → the ids among them that may go now (None: all of them); a message goes when every gate
# of its origin lets it.
Gate = Callable[[Sequence[tuple[int, str]]], Iterable[int] | None]
_gates: dict[str, list[Gate]] = {}
# origin → conditions (on Message) its gates hold, left out by the fetch query itself: held messages that outnumber a
# round's fetch would otherwise fill every round, and the number's later messages would wait behind them for good.
_waiting: dict[str, list[Callable[[], Q]]] = {}


def outbox_gate_register(origin: str, gate: Gate, *, waiting: Callable[[], Q] | None = None) -> None:
    """Let an origin hold some of its queued messages back: `gate([(id, origin_ref), ...])` returns the ids to send
    now; the others stay queued until the origin kicks the outbox again. `waiting()`, when given, is the condition
    of the messages the gate holds, as SQL (the gate stays the rule for messages already claimed). Registering the
    same gate twice is a no-op."""
    gates = _gates.setdefault(origin, [])
    if gate not in gates:
        gates.append(gate)
        if waiting is not None:
            _waiting.setdefault(origin, []).append(waiting)


def _sendable(messages: QuerySet[Message]) -> QuerySet[Message]:
    for origin, conditions in _waiting.items():
        for condition in conditions:
            messages = messages.exclude(Q(origin=origin) & condition())
    return messages


def outbox_kick(provider_ids: Iterable[int]) -> None:
    """Make sure each of these numbers has a sender. Call it once the queued messages are committed."""
    for provider_id in sorted(set(provider_ids)):
        async_task("providers.tasks.outbox_send", provider_id)


def outbox_kick_on_commit(provider_ids: Iterable[int]) -> None:
    ids = sorted(set(provider_ids))
    if ids:
        transaction.on_commit(lambda: outbox_kick(ids))


def _outbox(provider_id: int) -> QuerySet[Message]:
    return Message.objects.filter(provider_id=provider_id, origin__in=OUTBOX_ORIGINS)


def _lease_take(provider_id: int, token: str) -> bool:
    now = timezone.now()
    OutboxLease.objects.get_or_create(provider_id=provider_id)
    return bool(
        OutboxLease.objects.filter(provider_id=provider_id)
        .exclude(until__gt=now)
        .update(token=token, until=now + timedelta(seconds=LEASE_SECONDS))
    )


def _lease_renew(provider_id: int, token: str) -> bool:
    return bool(
        OutboxLease.objects.filter(provider_id=provider_id, token=token).update(
            until=timezone.now() + timedelta(seconds=LEASE_SECONDS)
        )
    )


def _lease_release(provider_id: int, token: str) -> None:
    OutboxLease.objects.filter(provider_id=provider_id, token=token).update(until=None, token="")


def _next_ids(provider_id: int, limit: int) -> list[int]:
    """The queued outbox messages of the number that their origin lets go now: a person's replies first (a customer
    is waiting for them), then the oldest of the rest (journeys)."""
    queued = _sendable(Message.objects.filter(provider_id=provider_id, status=MessageStatus.QUEUED))
    # Read through its own small partial index, so a reply never waits behind a journey's thousands of queued sends.
    first = list(
        queued.filter(origin__in=PRIORITY_ORIGINS).order_by("id").values_list("id", "origin", "origin_ref")[:limit]
    )
    rest = (
        queued.exclude(origin=Origin.CAMPAIGN)
        .filter(origin__in=[o for o in OUTBOX_ORIGINS if o not in PRIORITY_ORIGINS])
        .order_by("id")
        .values_list("id", "origin", "origin_ref")[: max(0, limit - len(first))]
    )
    return _allowed(first) + _allowed(list(rest))


def _held(ids: list[int]) -> set[int]:
    """Among claimed messages waiting for their turn, those their origin holds back now."""
    rows = list(Message.objects.filter(pk__in=ids).values_list("id", "origin", "origin_ref"))
    return set(ids) - set(_allowed(rows))


def _allowed(rows: Sequence[tuple[int, str, str]]) -> list[int]:
    allowed: list[int] = []
    by_origin: dict[str, list[tuple[int, str]]] = {}
    for pk, origin, ref in rows:
        by_origin.setdefault(origin, []).append((pk, ref))
    for origin, items in by_origin.items():
        for gate in _gates.get(origin, ()):
            if not items:
                break
            passed = gate(items)
            if passed is not None:
                keep = set(passed)
                items = [(pk, ref) for pk, ref in items if pk in keep]
        allowed.extend(pk for pk, _ in items)
    return sorted(allowed)


def outbox_send(*, provider_id: int) -> DispatchReport | None:
    """Send the number's outbox until nothing (allowed) is left; None when another sender holds it."""
    from providers.messaging.sending import provider_send_refusal

    token = uuid.uuid4().hex
    report: DispatchReport | None = None
    while _lease_take(provider_id, token):
        try:
            provider = ProviderConfig.objects.get(pk=provider_id)
            if provider_send_refusal(provider) is not None:
                return report  # switched off: the queue waits; activating the number kicks it again
            # Holding the lease, any outbox message still `sending` was left by a sender that died mid-request.
            messages_interrupted_settle(messages=_outbox(provider_id))
            fetch = max(1, int(provider.max_messages_per_second * FETCH_SECONDS))

            def next_ids(limit: int, fetch: int = fetch) -> list[int]:
                return _next_ids(provider_id, min(limit, fetch))

            def should_stop() -> bool | str:
                if not _lease_renew(provider_id, token):
                    return "Another sender took over this number's outbox."
                current = ProviderConfig.objects.get(pk=provider_id)
                return provider_send_refusal(current) or False

            report = dispatch_run(
                provider=provider,
                next_ids=next_ids,
                batch_size=fetch,
                should_stop=should_stop,
                hold=_held,
                # Each message stands alone (a journey's template refused is that journey's problem): a wave of
                # failures is recorded message by message, never a reason to stop every other origin's sends.
                surge=SurgePolicy.never(),
            )
        finally:
            _lease_release(provider_id, token)
        if report.stopped is not None or not _next_ids(provider_id, 1):
            return report
    return report


# A queued message this old with no sender at work means its kick was lost (the worker died between committing the
# message and enqueueing the sender): the sweep starts one.
SWEEP_AFTER = timedelta(seconds=30)


def outbox_sweep() -> list[int]:
    """Kick every number whose outbox has waited SWEEP_AFTER with no sender holding its lease; the numbers kicked."""
    now = timezone.now()
    # Messages an origin holds (a journey's sends to a contact a person is talking to) wait on purpose: not a lost kick.
    waiting = set(
        _sendable(Message.objects.filter(status=MessageStatus.QUEUED, origin__in=OUTBOX_ORIGINS))
        .filter(created_at__lt=now - SWEEP_AFTER)
        .exclude(origin=Origin.CAMPAIGN)
        .values_list("provider_id", flat=True)
        .distinct()
    )
    busy = set(OutboxLease.objects.filter(provider_id__in=waiting, until__gt=now).values_list("provider_id", flat=True))
    stale = sorted(waiting - busy)
    outbox_kick(stale)
    return stale
