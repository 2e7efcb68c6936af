"""Pacing of sends per provider number, so the provider's limit — never a burst above it — sets the pace.

A GCRA schedule (virtual scheduling): each send gets a slot `interval` after the previous one, so no one-second
window ever holds more than the cap (plus the one send on its edge). The schedule lives in this process, or in
Redis when REDIS_URL is set so that every worker sending for the same number shares one cap. Senders reserve slots
in small blocks to keep Redis round trips far below the send rate.

The rate a sender uses adapts (AIMD, `Adaptive`): every throttling answer from Nexmo (429, error 1000) lowers it by
a small factor, so a burst of them (real overload) cuts it hard while a few stray ones barely touch it, and it climbs
back additively, never above the cap. A Retry-After in the answer pushes the shared schedule back for everyone.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings

# Nexmo's default WhatsApp throughput per number, and the most it can be raised to.
DEFAULT_RATE = 80.0
MAX_RATE = 1000.0
# How much of the schedule one reservation takes: 50 ms worth of slots (at least one).
RESERVE_SECONDS = 0.05
# A sender this late for its slots (a busy event loop, a timer firing late) still uses them, in a short burst; later
# than this it gives them back. The log of actual send times below keeps any burst within the cap either way;
# giving back every slot missed by a millisecond cost 10-20 % of the rate at a few hundred sends/s.
CATCH_UP_SECONDS = 0.05


# Additive increase: the rate climbs back by this share of the cap per second.
CLIMB_PER_SECOND = 0.1
# Multiplicative decrease: each throttling answer takes this many messages/s off a cap of 1,000 (proportionally
# for other caps). A few stray 429s cost a few percent of the rate; a sustained wave of them (every in-flight
# request refused) cuts it by most of its value within a second.
CUT_PER_ANSWER = 3.0 / 1000
# The lowest adapted rate, as a share of the cap (and at least one message a second).
FLOOR_SHARE = 0.02


class Adaptive:
    """A number's sending rate under AIMD: the cap while answers are clean; `throttled()` cuts it."""

    def __init__(self, cap: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.cap = cap
        self.floor = min(cap, max(1.0, cap * FLOOR_SHARE))
        self._clock = clock
        self._rate = cap
        self._since = clock()
        self.cuts = 0

    def rate(self) -> float:
        """The rate in force now: the last cut, plus the climb since (continuous, up to the cap)."""
        if self._rate >= self.cap:
            return self.cap
        climbed = self._rate + self.cap * CLIMB_PER_SECOND * (self._clock() - self._since)
        return min(self.cap, climbed)

    def throttled(self) -> None:
        now_rate = self.rate()
        self._rate = max(self.floor, now_rate * (1.0 - CUT_PER_ANSWER))
        self._since = self._clock()
        self.cuts += 1


@dataclass(frozen=True, slots=True)
class Reservation:
    delay: float  # seconds from now until the first slot
    count: int
    interval: float  # seconds between consecutive slots


class Pacer(Protocol):
    key: str
    rate: float

    async def reserve(self, count: int) -> Reservation: ...

    async def back_off(self, seconds: float) -> None: ...

    async def throttled(self, retry_after: float | None) -> None: ...


class LocalPacer:
    """The schedule kept in this process (one per key, shared by every sender here)."""

    _schedules: dict[str, float] = {}
    _lock = threading.Lock()

    def __init__(self, key: str, rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if not 0 < rate <= MAX_RATE:
            raise ValueError(f"rate must be within (0, {MAX_RATE:g}] messages/s, got {rate}")
        self.key, self.rate, self.interval, self._clock = key, rate, 1.0 / rate, clock
        self.adaptive = Adaptive(rate, clock=clock)

    async def reserve(self, count: int) -> Reservation:
        return self.reserve_now(count)

    def reserve_now(self, count: int) -> Reservation:
        now = self._clock()
        interval = 1.0 / self.adaptive.rate()
        with self._lock:
            start = max(self._schedules.get(self.key, now), now)
            self._schedules[self.key] = start + count * interval
        return Reservation(delay=start - now, count=count, interval=interval)

    async def throttled(self, retry_after: float | None) -> None:
        self.adaptive.throttled()
        if retry_after:
            await self.back_off(retry_after)

    async def back_off(self, seconds: float) -> None:
        now = self._clock()
        with self._lock:
            self._schedules[self.key] = max(self._schedules.get(self.key, now), now + seconds)

    @classmethod
    def forget_all(cls) -> None:
        with cls._lock:
            cls._schedules.clear()
        _sent_logs.clear()


# Atomically: start = max(TAT, now); TAT = start + count * interval. Times in microseconds from Redis's own clock,
# so workers on different machines agree. Returns the delay until the first slot.
_RESERVE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local start = math.max(tat, now)
local finish = start + tonumber(ARGV[1]) * tonumber(ARGV[2])
local ttl = math.ceil((finish - now) / 1000) + 60000
redis.call('SET', KEYS[1], string.format('%.0f', finish), 'PX', ttl)
return start - now
"""
_BACK_OFF_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local until_ = math.max(tat, now + tonumber(ARGV[1]))
redis.call('SET', KEYS[1], string.format('%.0f', until_), 'PX', math.ceil((until_ - now) / 1000) + 60000)
return 0
"""


class RedisPacer:
    """The schedule kept in Redis, shared by every worker process and machine."""

    def __init__(self, key: str, rate: float, *, url: str) -> None:
        import redis.asyncio as redis_asyncio

        if not 0 < rate <= MAX_RATE:
            raise ValueError(f"rate must be within (0, {MAX_RATE:g}] messages/s, got {rate}")
        self.key, self.rate, self.interval = f"pacing:{key}", rate, 1.0 / rate
        self.adaptive = Adaptive(rate)
        self._redis = redis_asyncio.Redis.from_url(url)
        self._reserve = self._redis.register_script(_RESERVE_LUA)
        self._back_off = self._redis.register_script(_BACK_OFF_LUA)

    async def reserve(self, count: int) -> Reservation:
        interval = 1.0 / self.adaptive.rate()
        delay_us = await self._reserve(keys=[self.key], args=[count, round(interval * 1_000_000, 3)])
        return Reservation(delay=int(delay_us) / 1_000_000, count=count, interval=interval)

    async def back_off(self, seconds: float) -> None:
        await self._back_off(keys=[self.key], args=[round(seconds * 1_000_000)])

    async def throttled(self, retry_after: float | None) -> None:
        self.adaptive.throttled()
        if retry_after:
            await self.back_off(retry_after)

    async def close(self) -> None:
        await self._redis.aclose()


def slot_wait(*, key: str, rate: float, sleep: Callable[[float], object] = time.sleep) -> float:
    """Take one slot of a number's schedule from synchronous code (a test send, an auto-reply) and wait for it, so
    single sends count against the same cap as the runs; the seconds waited."""
    if settings.REDIS_URL:
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL)
        try:
            delay_us = client.eval(_RESERVE_LUA, 1, f"pacing:{key}", 1, round(1_000_000 / rate, 3))
        finally:
            client.close()
        delay = int(delay_us) / 1_000_000
    else:
        delay = LocalPacer(key, rate).reserve_now(1).delay
    if delay > 0:
        sleep(delay)
    return max(delay, 0.0)


def forget(key: str) -> None:
    """Drop what this process keeps for a pacer key that will not be used again."""
    with LocalPacer._lock:
        LocalPacer._schedules.pop(key, None)
    _sent_logs.pop(key, None)


def pacer_for(*, key: str, rate: float) -> LocalPacer | RedisPacer:
    """The pacer for one provider number: shared through Redis when configured, else this process's."""
    if settings.REDIS_URL:
        return RedisPacer(key, rate, url=settings.REDIS_URL)
    return LocalPacer(key, rate)


# The last `rate` send times per pacer key in this process: a send waits until the one `rate` sends before it is a
# full window (plus the caller's margin) old. The schedule alone lets a late send and an on-time one `rate` slots
# later share a second; this log makes "never more than the cap in any second" hold for what actually went out.
_sent_logs: dict[str, deque[float]] = {}


async def paced[T](
    pacer: Pacer,
    items: Iterable[T],
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    margin: float = 0.0,
    block_rate: float | None = None,
    logged: bool = True,
) -> AsyncGenerator[T]:
    """Yield items no faster than the pacer's schedule allows, each at (or just after) its own slot.

    `margin` (seconds) widens the one-second window, e.g. to absorb jitter between here and the provider's clock.
    `block_rate` sizes each reservation when the caller consumes slower than the pacer's rate (a campaign whose own
    throttle is below the number's cap): it then holds only the slots it will use, leaving the rest to others.
    `logged=False` leaves the log of send times to the caller, who waits on several pacers and checks them all at
    the last moment with `window_wait`.
    """
    block = max(1, int(min(pacer.rate, block_rate or pacer.rate) * RESERVE_SECONDS))
    window = 1.0 + margin
    size = max(1, int(pacer.rate))
    log = _sent_logs.get(pacer.key)
    if log is None or log.maxlen != size:  # first use, or the number's rate changed
        log = _sent_logs[pacer.key] = deque(log or (), maxlen=size)
    iterator = iter(items)
    pending: list[T] = []
    while True:
        pending.extend(item for _, item in zip(range(block - len(pending)), iterator, strict=False))
        if not pending:
            return
        reservation = await pacer.reserve(len(pending))
        first = clock() + reservation.delay
        sent = 0
        for index, item in enumerate(pending):
            wait = first + index * reservation.interval - clock()
            if wait < -max(reservation.interval, CATCH_UP_SECONDS):
                # We fell behind (a slow consumer): catching up would burst above the cap, so give the rest of
                # these slots back unused and reserve fresh ones.
                break
            if wait > 0:
                await sleep(wait)
            if logged and len(log) == log.maxlen and (held := log[0] + window - clock()) > 0:
                # The send `rate` places back is under a window old: wait for it, and shift this block's slots.
                await sleep(held)
                first += held
            sent += 1
            if logged:
                log.append(clock())
            yield item
        pending = pending[sent:]


async def window_wait(
    pacers: Iterable[Pacer],
    *,
    margin: float = 0.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> None:
    """The last check before a send that took slots of several pacers (`paced(..., logged=False)`): wait until none
    of them has had `rate` sends in the last window, then log this send for each. Checked here, after every slot
    was taken, the log holds when the request really goes, so no one-second window of any pacer exceeds its rate."""
    window = 1.0 + margin
    logs = []
    for pacer in pacers:
        size = max(1, int(pacer.rate))
        log = _sent_logs.get(pacer.key)
        if log is None or log.maxlen != size:
            log = _sent_logs[pacer.key] = deque(log or (), maxlen=size)
        logs.append(log)
    while (held := max((log[0] + window - clock() for log in logs if len(log) == log.maxlen), default=0.0)) > 0:
        await sleep(held)
    now = clock()
    for log in logs:
        log.append(now)
