"""The bulk sending engine: prepared (`queued`) messages out through the async client, paced per provider number.

Campaigns and journeys both use it. The caller hands over a function giving the next ids of `queued` messages to
send; the engine claims them in bulk (queued → sending, one conditional UPDATE ... RETURNING: only the rows this
worker moved are its to send), sends them concurrently under the number's pacer, and writes the outcomes in bulk.

Exactly-once comes from the database, not from this process staying alive:
- a message is created once per client_ref (unique) and only the worker whose claim moved it to `sending` sends it;
- a message left in `sending` by a worker that died never goes out again: `messages_interrupted_settle` turns it
  into `unknown` and the status callback that carries its client_ref settles it;
- 429 / throttling (1000) answers push the shared pacer back and the message is tried again in this run; 5xx and
  connection failures (Nexmo never accepted it) are retried a few times, then recorded `failed`; a timeout after
  the request went out is `unknown`, never resent.

Database work runs in the calling thread (the event loop lives in asgiref's helper thread), so the caller's
connection and transaction rules hold.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import AsyncGenerator, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from providers.messaging import pacing, transitions
from providers.models import Message, MessageStatus, PendingStatus, ProviderConfig
from providers.nexmo import client as nexmo
from providers.nexmo.errors import NexmoAmbiguousError, NexmoError
from whatsapp_project.db import server_side_cursor

logger = logging.getLogger(__name__)

S = MessageStatus

# Nexmo's throttling error code (in the problem's `type` URL) besides HTTP 429.
THROTTLED_CODES = frozenset({"1000", "429"})
# Sends `rate` apart are kept this much over a second apart, so jitter on the way to Nexmo cannot put one more
# than the cap into any second on its side (costs ~3 % of the rate). 20 ms was not enough once claims and result
# writes ran alongside the sends on a loaded 2-core machine (21 sends in one second at a cap of 20).
PACING_MARGIN_SECONDS = 0.03
# How long a failing run waits for a claim under way to land (so its rows can be put back in the queue) and for the
# requests on their way to be answered.
CLAIM_DRAIN_SECONDS = 30.0
# Rows claimed per round trip: a quarter second of sends. Smaller claims left the pacer idle while each claim's
# commit came back (the cap was only 83 % used); larger ones leave more rows `unknown` when a worker dies.
CLAIM_SECONDS = 0.25
# How often a run asks `should_stop` (a pause, a cancel, the number switched off): new requests stop within this
# much of the answer that stopped it, plus one pacing slot at most.
STOP_POLL_SECONDS = 0.2
RESULTS_FLUSH_SIZE = 500
RESULTS_FLUSH_SECONDS = 0.25


@dataclass(frozen=True, slots=True)
class SurgePolicy:
    """When to stop a run: `threshold` of the last `window` outcomes failed (throttling excluded)."""

    window: int = 200
    threshold: float = 0.5
    minimum: int = 50

    @classmethod
    def never(cls) -> SurgePolicy:
        return cls(window=1, threshold=2.0, minimum=2)


@dataclass(slots=True)
class DispatchReport:
    """What one run did. `stopped` is None (ran out of work), "requested" (should_stop said so) or "surge"."""

    claimed: int = 0
    submitted: int = 0
    failed: int = 0
    rejected: int = 0
    unknown: int = 0
    retried: int = 0
    throttled: int = 0
    stopped: str | None = None
    reason: str = ""
    failures_by_code: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class _Job:
    message_id: int
    body: dict[str, Any]
    attempts: int = 0
    # Its request has its turn and is going out (it may reach Nexmo): from then on it is never put back in the queue.
    on_wire: bool = False

    def begun(self) -> None:
        self.on_wire = True


def messages_claim(*, ids: Sequence[int]) -> list[tuple[int, dict[str, Any]]]:
    """queued → sending for these ids, in one UPDATE ... RETURNING: (id, request body) of the rows this call moved,
    in the order of `ids` (the order they should go in: the outbox puts a person's replies first)."""
    if not ids:
        return []
    table = Message._meta.db_table
    placeholders = ", ".join(["%s"] * len(ids))
    sql = (
        # The table name is the model's own and every value is a bound parameter.
        f"UPDATE {table} SET status = %s, updated_at = %s WHERE id IN ({placeholders}) "  # noqa: S608
        f"AND {transitions.sql_into(S.SENDING, 'status')} RETURNING id, request_body"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [S.SENDING.value, timezone.now(), *ids])
        rows = cursor.fetchall()
    position = {pk: n for n, pk in enumerate(ids)}
    rows.sort(key=lambda row: position.get(int(row[0]), 0))
    return [(int(pk), json.loads(body) if isinstance(body, str) else (body or {})) for pk, body in rows]


def messages_interrupted_settle(*, messages: Any, reason: str = "The sending worker stopped mid-request") -> int:
    """`sending` → `unknown` for messages a dead worker left mid-request (they may have reached Nexmo).

    `messages` is a Message queryset naming the caller's own messages; only call it while no other worker may be
    sending them (the caller holds its lease). Returns how many were settled.
    """
    return int(
        messages.filter(transitions.q_step(S.SENDING, S.UNKNOWN)).update(
            status=S.UNKNOWN, error_code="interrupted", error_reason=reason[:2000], updated_at=timezone.now()
        )
    )


def values_update(
    *,
    table: str,
    columns: Sequence[str],
    types: Sequence[str],
    rows: Sequence[Sequence[Any]],
    assignments: str,
    params: Sequence[Any] = (),
) -> int:
    """UPDATE `table` from a list of rows in one statement; returns the rows updated.

    `columns` names the values of each row (the first is the table's id) and `types` their SQL types; `assignments`
    is the SET clause, reading them as `v.<column>` and taking `params` for its own placeholders (they come first in
    the statement). All rows go as one array per column through psycopg's server-side parameters: one statement text
    whatever the size (prepared once), and no value spliced into SQL text.
    """
    if not rows:
        return 0
    arrays = ", ".join(f"%s::{kind}[]" for kind in types)
    sql = (
        # Table, column names, types and assignments come from the caller's code; every value is a parameter.
        f"UPDATE {table} SET {assignments} FROM unnest({arrays}) AS v ({', '.join(columns)}) "  # noqa: S608
        f"WHERE {table}.id = v.{columns[0]}"
    )
    with server_side_cursor() as raw:
        raw.execute(sql, [*params, *([row[i] for row in rows] for i in range(len(columns)))])
        return max(raw.rowcount, 0)


def _results_write(outcomes: list[tuple[_Job, nexmo.Outcome]]) -> None:
    """Write a batch of outcomes: a handful of UPDATEs whatever the batch size; statuses only move forward."""
    now = timezone.now()
    accepted: list[tuple[int, nexmo.NexmoResponse]] = []
    failures: dict[tuple[str, str, str, int | None], list[int]] = {}  # (status, code, reason, HTTP)
    unknown: dict[str, list[int]] = {}
    for job, outcome in outcomes:
        if isinstance(outcome, nexmo.NexmoResponse):
            accepted.append((job.message_id, outcome))
        elif isinstance(outcome, NexmoError):
            rejected = outcome.status is not None and not outcome.retryable
            reason = f"{outcome.title}: {outcome.detail}".strip(": ")[:2000]
            failures.setdefault(
                ((S.REJECTED if rejected else S.FAILED).value, outcome.code[:64], reason, outcome.status), []
            ).append(job.message_id)
        else:
            unknown.setdefault(str(outcome)[:2000], []).append(job.message_id)
    with transaction.atomic():
        if accepted:
            ids = [pk for pk, _ in accepted]
            # A status callback may have overtaken the answer (matched by client_ref): never move it back.
            movable = transitions.sql_into(S.SUBMITTED, "status")
            stamp = connection.ops.adapt_datetimefield_value(now)
            try:
                with transaction.atomic():
                    # One UPDATE ... FROM (VALUES ...) for the whole batch: bulk_update's CASE per row cost more CPU
                    # than the sends, and a second UPDATE of the same rows doubled the writes.
                    values_update(
                        table=Message._meta.db_table,
                        columns=("id", "uuid", "body"),
                        rows=[(pk, r.message_uuid or None, json.dumps(r.body)) for pk, r in accepted],
                        types=("bigint", "text", "text"),
                        assignments=(
                            f"status = CASE WHEN {movable} THEN %s ELSE status END, "
                            f"submitted_at = CASE WHEN {movable} THEN %s ELSE submitted_at END, "
                            f"response_status = CASE WHEN {movable} THEN 202 ELSE response_status END, "
                            f"updated_at = %s, message_uuid = v.uuid, response_body = CAST(v.body AS jsonb)"
                        ),
                        params=[S.SUBMITTED.value, stamp, stamp],
                    )
            except IntegrityError:
                # A callback already put this uuid on the row, or Nexmo repeated a uuid: write row by row.
                Message.objects.filter(transitions.q_into(S.SUBMITTED), id__in=ids).update(
                    status=S.SUBMITTED, submitted_at=now, response_status=202, updated_at=now
                )
                for pk, answer in accepted:
                    uuid = answer.message_uuid or None
                    try:
                        with transaction.atomic():
                            Message.objects.filter(pk=pk).filter(
                                Q(message_uuid__isnull=True) | Q(message_uuid=uuid)
                            ).update(message_uuid=uuid, response_body=answer.body)
                    except IntegrityError:
                        logger.error("Nexmo returned message_uuid %s twice; kept on the first message", uuid)
        for (status, code, reason, http_status), ids in failures.items():
            Message.objects.filter(transitions.q_into(status), id__in=ids).update(
                status=status,
                error_code=code,
                error_reason=reason,
                response_status=http_status,
                failed_at=now,
                updated_at=now,
            )
        for reason, ids in unknown.items():
            Message.objects.filter(transitions.q_into(S.UNKNOWN), id__in=ids).update(
                status=S.UNKNOWN, error_code="timeout", error_reason=reason, updated_at=now
            )
    refs = [str(job.body.get("client_ref") or "") for job, _ in outcomes]
    without = [job.message_id for job, _ in outcomes if not job.body.get("client_ref")]
    if without:
        refs.extend(Message.objects.filter(id__in=without).values_list("client_ref", flat=True))
    _pending_statuses_apply([ref for ref in refs if ref])


def _pending_statuses_apply(client_refs: list[str]) -> None:
    """Statuses parked before their message had a uuid (rare): apply them now, by message."""
    from providers.messaging.statuses import message_pending_apply

    # The refs come from the request bodies: one query per batch in the common case of nothing waiting.
    waiting = set(PendingStatus.objects.filter(client_ref__in=client_refs).values_list("client_ref", flat=True))
    if not waiting:
        return
    for message in Message.objects.filter(client_ref__in=waiting).select_related("provider"):
        message_pending_apply(message)


class _NotSent(Exception):
    """A send given up before its request left (the run is stopping)."""


def _held_among(hold: Callable[[list[int]], Iterable[int]], ids: list[int]) -> list[int]:
    return list(hold(ids))


def _unclaim(ids: list[int]) -> None:
    Message.objects.filter(transitions.q_step(S.SENDING, S.QUEUED), id__in=ids).update(
        status=S.QUEUED, updated_at=timezone.now()
    )


def _throttled(outcome: nexmo.Outcome) -> bool:
    return isinstance(outcome, NexmoError) and (outcome.status == 429 or outcome.code in THROTTLED_CODES)


@dataclass(frozen=True, slots=True)
class _Plan:
    """What one run was asked to do: `dispatch_run`'s arguments, written once and read by the run."""

    provider: ProviderConfig
    next_ids: Callable[[int], Sequence[int]]
    rate: float | None
    share_key: str | None
    batch_size: int
    max_concurrency: int | None
    max_attempts: int
    should_stop: Callable[[], bool | str] | None
    hold: Callable[[list[int]], Iterable[int]] | None
    surge: SurgePolicy
    after_batch: Callable[[DispatchReport], None] | None


def dispatch_run(
    *,
    provider: ProviderConfig,
    next_ids: Callable[[int], Sequence[int]],
    rate: float | None = None,
    share_key: str | None = None,
    batch_size: int = 500,
    max_concurrency: int | None = None,
    max_attempts: int = 3,
    should_stop: Callable[[], bool | str] | None = None,
    hold: Callable[[list[int]], Iterable[int]] | None = None,
    surge: SurgePolicy | None = None,
    after_batch: Callable[[DispatchReport], None] | None = None,
) -> DispatchReport:
    """Send `queued` messages of one provider number until `next_ids(limit)` returns nothing.

    `next_ids(limit)` (sync, runs in the calling thread) returns up to `limit` ids of queued messages; ids already
    claimed elsewhere are skipped by the claim. Every send takes a slot of the number's pacer, at the number's own
    cap (`max_messages_per_second`, shared by every run on the number, adapted down on throttling answers); `rate`
    (messages/s, e.g. a campaign's throttle) also bounds this run's share, through a pacer of its own named
    `share_key` when it is below the cap.
    `should_stop()` is asked every STOP_POLL_SECONDS while the run lasts; truthy stops it (no request starts after
    that; those already on the wire settle normally; claimed rows go back to the queue), and a string is the reason
    (`report.reason`). `hold(ids)`, asked on the same timer about the claimed messages still waiting for their turn,
    names those that must not go now (a journey paused meanwhile): they go back to the queue. `after_batch(report)`
    runs after each batch of results is written.
    Returns the report; on a failure surge it stops early with `stopped="surge"` and a reason for the user.
    """
    plan = _Plan(
        provider=provider,
        next_ids=next_ids,
        rate=float(rate) if rate else None,
        share_key=share_key,
        batch_size=batch_size,
        max_concurrency=max_concurrency,
        max_attempts=max_attempts,
        should_stop=should_stop,
        hold=hold,
        surge=surge or SurgePolicy(),
        after_batch=after_batch,
    )
    return async_to_sync(_dispatch)(plan)


async def _dispatch(plan: _Plan) -> DispatchReport:
    from providers.services import provider_credentials

    credentials = await _db(provider_credentials)(plan.provider)
    # Sign the JWT before the first paced slot: loading the key takes tens of ms, which would make the first send
    # reach Nexmo late and share a second with the sends `rate` slots after it. A key that cannot sign (or a base URL
    # we may not use) fails each send instead, with its reason.
    with contextlib.suppress(NexmoError):
        nexmo.request_parts(credentials)
    return await _Run(plan, credentials).run(max_concurrency=plan.max_concurrency)


# thread_sensitive: every query runs in the caller's thread, on its connection, one at a time
_db = sync_to_async


class _Run:
    """One run of the engine: three cooperating parts, so that no database round trip ever holds a paced slot.
    The feeder claims the next group while the current one goes out, the sender launches one request per slot,
    and the writer records outcomes in bulk while later requests are in flight; a watcher asks `should_stop` and
    `hold` on a timer."""

    def __init__(self, plan: _Plan, credentials: nexmo.Credentials) -> None:
        provider, rate, share_key, surge = plan.provider, plan.rate, plan.share_key, plan.surge
        self.credentials, self.next_ids, self.batch_size = credentials, plan.next_ids, plan.batch_size
        self.max_attempts, self.should_stop, self.hold = plan.max_attempts, plan.should_stop, plan.hold
        self.surge, self.after_batch, self.share_key = surge, plan.after_batch, share_key
        cap = float(provider.max_messages_per_second or pacing.DEFAULT_RATE)
        self.pacer = pacing.pacer_for(key=f"provider:{provider.pk}", rate=cap)
        self.own_rate = min(rate or cap, cap)
        share_name = share_key or f"run:{uuid.uuid4().hex}"
        self.share = pacing.pacer_for(key=share_name, rate=self.own_rate) if self.own_rate < cap else None
        self.windowed = (self.pacer, self.share) if self.share is not None else (self.pacer,)
        self.report = DispatchReport()
        self.recent: deque[bool] = deque(maxlen=surge.window)
        self.results: list[tuple[_Job, nexmo.Outcome]] = []
        self.ready: deque[_Job] = deque()  # claimed (`sending`), waiting for their slot
        self.retry: deque[_Job] = deque()
        self.held: set[int] = set()
        self.in_flight: set[asyncio.Task[None]] = set()
        self.launched: dict[asyncio.Task[None], _Job] = {}  # send tasks still running, with their job
        self.crashed: list[BaseException] = []
        self.wake = asyncio.Event()  # the sender has something new to look at
        self.room = asyncio.Event()  # the feeder may claim the next group
        # Claimed rows wait at most CLAIM_SECONDS of sends for their slot: claimed in halves, the next half while
        # the current one goes out, so the pacer never waits for a claim's round trip.
        self.group = max(1, int(self.own_rate * CLAIM_SECONDS) // 2)
        self.fed_up = False  # the feeder is done: no more work, a stop request, or a failure
        self.stopping = False  # a stop or a surge: launch nothing more
        self.feeder: asyncio.Task[None] | None = None
        self.writer: asyncio.Task[None] | None = None
        self.last_write = time.monotonic()

    # --- the parts

    async def feed(self) -> None:
        ids: deque[int] = deque()
        try:
            while not self.stopping:
                if len(self.ready) >= self.group:
                    self.room.clear()
                    await self.room.wait()
                    continue
                if not ids:
                    ids.extend(await _db(self.next_ids)(self.batch_size))
                    if not ids:
                        return
                    continue
                # Claim just in time: a row is `sending` only while its request is about to go or in flight, so a
                # crash leaves few ambiguous rows.
                take = [ids.popleft() for _ in range(min(self.group, len(ids)))]
                claimed = await _db(messages_claim)(ids=take)
                self.report.claimed += len(claimed)
                self.ready.extend(_Job(message_id=pk, body=body) for pk, body in claimed)
                self.wake.set()
        finally:
            self.fed_up = True
            self.wake.set()

    async def watch(self) -> None:
        """Ask should_stop (and hold) on a timer, not between batches: a pause lands within STOP_POLL_SECONDS at
        any rate."""
        while not self.stopping:
            waiting = [job.message_id for job in (*self.ready, *self.retry)]
            if self.hold is not None and waiting:
                self.held.update(await _db(_held_among)(self.hold, waiting))
            answer = await _db(self.should_stop)() if self.should_stop is not None else False
            if answer:
                self.report.stopped = "requested"
                self.report.reason = answer if isinstance(answer, str) else ""
                self.stop()
                return
            await asyncio.sleep(STOP_POLL_SECONDS)

    def stop(self) -> None:
        self.stopping = True
        self.room.set()
        self.wake.set()

    async def window(self) -> None:
        await pacing.window_wait(self.windowed, margin=PACING_MARGIN_SECONDS)
        if self.stopping:
            raise _NotSent  # a stop came while it waited for its second: it never goes out

    async def send(self, client: nexmo.AsyncNexmoClient, job: _Job) -> None:
        job.attempts += 1
        outcome: nexmo.Outcome
        try:
            outcome = await client.send(
                credentials=self.credentials, body=job.body, started=job.begun, ready=self.window
            )
        except _NotSent:
            job.attempts -= 1
            self.ready.appendleft(job)  # back to the queue when the run ends
            self.wake.set()
            return
        except (NexmoError, NexmoAmbiguousError) as exc:
            outcome = exc
        if isinstance(outcome, NexmoError) and outcome.retryable and job.attempts < self.max_attempts:
            if _throttled(outcome):
                self.report.throttled += 1
                await self.pacer.throttled(outcome.retry_after)
            self.report.retried += 1
            job.on_wire = False  # Nexmo refused it: nothing went out
            self.retry.append(job)
            self.wake.set()
            return
        self.tally(outcome)
        self.results.append((job, outcome))

    def tally(self, outcome: nexmo.Outcome) -> None:
        report = self.report
        if isinstance(outcome, nexmo.NexmoResponse):
            report.submitted += 1
            self.recent.append(True)
        elif isinstance(outcome, NexmoError):
            if outcome.status is not None and not outcome.retryable:
                report.rejected += 1
            else:
                report.failed += 1
            report.failures_by_code[outcome.code] = report.failures_by_code.get(outcome.code, 0) + 1
            self.recent.append(_throttled(outcome))  # throttling is the pacer's business, not a surge
        else:
            report.unknown += 1
            self.recent.append(True)

    async def write(self) -> None:
        batch, self.results = self.results, []
        await _db(_results_write)(batch)
        if self.after_batch is not None:
            await _db(self.after_batch)(self.report)

    def start(self, coroutine: Coroutine[Any, Any, None], job: _Job | None = None) -> asyncio.Task[None]:
        task = asyncio.create_task(coroutine)
        self.in_flight.add(task)
        if job is not None:
            self.launched[task] = job
        task.add_done_callback(self.finished)
        return task

    def finished(self, task: asyncio.Task[None]) -> None:
        self.in_flight.discard(task)
        self.launched.pop(task, None)
        if not task.cancelled() and task.exception() is not None:
            self.crashed.append(task.exception())  # type: ignore[arg-type]
        self.wake.set()

    def maybe_write(self, *, force: bool = False) -> None:
        if self.writer is not None and not self.writer.done():
            return
        due = len(self.results) >= RESULTS_FLUSH_SIZE or time.monotonic() - self.last_write > RESULTS_FLUSH_SECONDS
        if self.results and (due or force):
            self.last_write = time.monotonic()
            self.writer = self.start(self.write())

    def surging(self) -> bool:
        if len(self.recent) < self.surge.minimum:
            return False
        failed = sum(1 for ok in self.recent if not ok)
        return failed / len(self.recent) >= self.surge.threshold

    def next_job(self) -> _Job | None:
        """The next job to launch: the claimed group first, then retries (a retry of a 5xx gains from waiting)."""
        if self.stopping:
            return None
        if self.ready:
            job = self.ready.popleft()
            if len(self.ready) < self.group:
                self.room.set()
            return job
        if self.retry and self.report.stopped is None:
            return self.retry.popleft()
        return None

    # --- the sender

    async def run(self, *, max_concurrency: int | None) -> DispatchReport:
        self.feeder = self.start(self.feed())
        watcher = asyncio.create_task(self.watch()) if self.should_stop is not None or self.hold is not None else None
        # A send takes a slot of the number's schedule (and of its own share's); the one-second windows of send
        # times are checked as the request leaves, past the client's concurrency bound: a busy event loop or CPU
        # delays the request and its log entry alike, so no second at Nexmo's side holds more than the rate.
        slots = pacing.paced(
            self.pacer, itertools.repeat(None), margin=PACING_MARGIN_SECONDS, block_rate=self.own_rate, logged=False
        )
        share_slots = (
            pacing.paced(self.share, itertools.repeat(None), margin=PACING_MARGIN_SECONDS, logged=False)
            if self.share
            else None
        )
        try:
            async with nexmo.AsyncNexmoClient(max_concurrency=max_concurrency) as client:
                try:
                    await self.launch(client, slots, share_slots)
                except BaseException:
                    await self.stop_after_failure()
                    raise
        finally:
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(BaseException):
                    await watcher
            await slots.aclose()
            if share_slots is not None:
                await share_slots.aclose()
            for task in list(self.in_flight):
                task.cancel()
            await self.pacers_close()
        if self.surging():
            self.report.stopped = "surge"
            self.report.reason = self.surge_reason()
        return self.report

    async def launch(
        self,
        client: nexmo.AsyncNexmoClient,
        slots: AsyncGenerator[None],
        share_slots: AsyncGenerator[None] | None,
    ) -> None:
        """Launch one request per slot until the work, or the run, ends; then put back what never went out."""
        while True:
            if self.crashed:
                raise self.crashed[0]
            self.maybe_write()
            if self.surging():
                self.stop()
            job = self.next_job()
            if job is None:
                if self.fed_up and not self.in_flight and not self.results:
                    break
                # Nothing to launch now: wait for a claim, an answer (maybe a retry) or the next write.
                self.wake.clear()
                await _wait(self.wake, RESULTS_FLUSH_SECONDS if self.results else None)
                if not self.in_flight:
                    self.maybe_write(force=True)
                continue
            if share_slots is not None:
                await anext(share_slots)  # this run's own share first (a campaign's throttle)...
            await anext(slots)  # ...then the number's slot, shared by every run on the number
            if self.stopping or self.surging():
                self.ready.appendleft(job)  # a stop came while it waited for its slot: it never goes out
                continue
            if job.message_id in self.held:
                self.held.discard(job.message_id)
                await _db(_unclaim)([job.message_id])  # held back (its journey paused): queued again
                continue
            self.start(self.send(client, job), job)
        leftover = [job.message_id for job in (*self.ready, *self.retry)]
        if leftover:
            # Claimed, never accepted, and we are stopping: back to the queue for the next run.
            await _db(_unclaim)(leftover)

    async def stop_after_failure(self) -> None:
        """An error (a failed write...) ends the run; this runs while the client is still open. What was claimed
        but never went out goes back to the queue, if the database still answers; otherwise a resumed run settles
        it as `unknown`."""
        self.stopping = True
        self.room.set()
        # Sends still waiting for their turn are cancelled before they can go (no await comes first), so putting
        # them back cannot send one twice.
        unsent = [job.message_id for task, job in list(self.launched.items()) if not job.on_wire and task.cancel()]
        # A claim still under way must land first: cancelled mid-query, its rows would stay `sending`, be settled
        # `unknown` and never sent. Requests already going out are let finish rather than cut off mid-flight.
        pending = {task for task, job in self.launched.items() if job.on_wire and not task.done()}
        if self.feeder is not None and not self.feeder.done():
            pending.add(self.feeder)
        if pending:
            await asyncio.wait(pending, timeout=CLAIM_DRAIN_SECONDS)
        unsent += [job.message_id for job in (*self.ready, *self.retry)]  # refused (retryable) or never launched
        if unsent:
            with contextlib.suppress(Exception):
                await _db(_unclaim)(unsent)
        # Their answers are recorded if the database takes them; otherwise the resumed run settles those rows as
        # `unknown`, and the status callbacks (which carry the client_ref) settle the ones Nexmo accepted.
        if self.results:
            with contextlib.suppress(Exception):
                await _db(_results_write)(self.results)

    async def pacers_close(self) -> None:
        for used in (self.pacer, self.share):
            if isinstance(used, pacing.RedisPacer):
                await used.close()
        if self.share is not None and self.share_key is None:
            pacing.forget(self.share.key)  # a run's own share lives as long as the run

    def surge_reason(self) -> str:
        failed = sum(1 for ok in self.recent if not ok)
        top = sorted(self.report.failures_by_code.items(), key=lambda item: -item[1])[:3]
        codes = ", ".join(f"{code} ×{count}" for code, count in top)
        return (
            f"Paused automatically: {failed} of the last {len(self.recent)} sends failed ({codes}). "
            "Check the template and the number, then resume."
        )


async def _wait(event: asyncio.Event, timeout: float | None) -> None:
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except TimeoutError:
        pass
