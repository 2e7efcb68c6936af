"""The send pacer: slots `1/rate` apart, shared by every sender of a number, and never a burst above the cap."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from providers.messaging.pacing import Adaptive, LocalPacer, RedisPacer, paced, pacer_for, window_wait
from providers.nexmo.errors import retry_after_seconds

REDIS_URL = "redis://127.0.0.1:6379/15"


class FakeTime:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(autouse=True)
def _fresh_local_schedules() -> Iterator[None]:
    LocalPacer.forget_all()
    yield
    LocalPacer.forget_all()


def _collect(pacer: LocalPacer, count: int, fake: FakeTime) -> list[float]:
    async def run() -> list[float]:
        return [fake.now async for _ in paced(pacer, range(count), clock=fake.clock, sleep=fake.sleep)]

    return asyncio.run(run())


def _max_in_any_second(times: list[float]) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= 1.0 - 1e-6:  # half-open windows [t, t + 1 s), float-tolerant
            start += 1
        best = max(best, end - start + 1)
    return best


def test_sends_are_spaced_one_interval_apart() -> None:
    fake = FakeTime()
    times = _collect(LocalPacer("num", 100, clock=fake.clock), 300, fake)
    gaps = {round(b - a, 9) for a, b in itertools.pairwise(times)}
    assert gaps == {0.01}
    assert times[-1] - times[0] == pytest.approx(2.99)


@pytest.mark.parametrize("rate", [1, 80, 250, 1000])
def test_no_one_second_window_holds_more_than_the_cap(rate: int) -> None:
    fake = FakeTime()
    times = _collect(LocalPacer("num", rate, clock=fake.clock), rate * 3, fake)
    assert _max_in_any_second(times) <= rate
    # ...and the cap is used, not wasted: 3 s of sends take 3 s less one slot.
    assert times[-1] - times[0] == pytest.approx(3 - 1 / rate)


def test_two_senders_on_one_number_share_the_cap() -> None:
    fake = FakeTime()

    async def run() -> list[float]:
        times: list[float] = []

        async def sender() -> None:
            pacer = LocalPacer("shared-number", 50, clock=fake.clock)
            async for _ in paced(pacer, range(100), clock=fake.clock, sleep=fake.sleep):
                times.append(fake.now)

        await asyncio.gather(sender(), sender())
        return times

    times = asyncio.run(run())
    assert len(times) == 200
    assert _max_in_any_second(times) <= 50


def test_other_numbers_do_not_slow_each_other() -> None:
    fake = FakeTime()
    first = LocalPacer("number-a", 10, clock=fake.clock).reserve_now(10)
    other = LocalPacer("number-b", 10, clock=fake.clock).reserve_now(1)
    assert first.delay == 0
    assert other.delay == 0


def test_back_off_pushes_the_schedule_for_every_sender() -> None:
    fake = FakeTime()
    pacer = LocalPacer("num", 10, clock=fake.clock)
    asyncio.run(pacer.back_off(2.5))
    assert LocalPacer("num", 10, clock=fake.clock).reserve_now(1).delay == pytest.approx(2.5)


def test_a_slow_consumer_never_catches_up_in_a_burst() -> None:
    fake = FakeTime()
    pacer = LocalPacer("num", 100, clock=fake.clock)

    async def run() -> list[float]:
        times = []
        async for index in paced(pacer, range(400), clock=fake.clock, sleep=fake.sleep):
            times.append(fake.now)
            if index % 37 == 0:
                fake.now += 0.2  # the consumer stalls now and then
        return times

    times = asyncio.run(run())
    assert len(times) == 400
    assert _max_in_any_second(times) <= 100


def test_rate_outside_nexmo_limits_is_refused() -> None:
    with pytest.raises(ValueError, match="rate"):
        LocalPacer("num", 0)
    with pytest.raises(ValueError, match="rate"):
        LocalPacer("num", 1001)


def test_redis_pacer_shares_one_schedule_between_processes() -> None:
    key = f"test-{uuid.uuid4().hex}"

    async def run() -> tuple[float, float, float]:
        first_pacer = RedisPacer(key, 100, url=REDIS_URL)
        second_pacer = RedisPacer(key, 100, url=REDIS_URL)  # as if in another worker
        try:
            began = time.monotonic()
            first = await first_pacer.reserve(50)
            second = await second_pacer.reserve(10)
            return first.delay, second.delay, time.monotonic() - began
        finally:
            await first_pacer.close()
            await second_pacer.close()

    first_delay, second_delay, elapsed = asyncio.run(run())
    assert first_delay == pytest.approx(0, abs=0.001)
    # The second reservation starts after the first one's 50 slots (0.5 s), less the time between the two calls.
    assert 0.5 - elapsed - 0.001 <= second_delay <= 0.5 + 0.001


def test_redis_back_off_delays_the_next_reservation() -> None:
    key = f"test-{uuid.uuid4().hex}"

    async def run() -> float:
        pacer = RedisPacer(key, 10, url=REDIS_URL)
        try:
            await pacer.back_off(3)
            return (await pacer.reserve(1)).delay
        finally:
            await pacer.close()

    assert 2.9 <= asyncio.run(run()) <= 3.0


def test_pacer_for_uses_redis_only_when_configured(settings: Any) -> None:
    settings.REDIS_URL = ""
    assert isinstance(pacer_for(key="n", rate=80), LocalPacer)
    settings.REDIS_URL = REDIS_URL
    assert isinstance(pacer_for(key="n", rate=80), RedisPacer)


# --- adaptive rate (AIMD) ----------------------------------------------------------------------------------------


def test_a_throttling_answer_cuts_the_rate_and_it_climbs_back_to_the_cap_never_above() -> None:
    fake = FakeTime()
    adaptive = Adaptive(1000, clock=fake.clock)
    assert adaptive.rate() == 1000
    for _ in range(100):  # a wave: every request in flight refused
        adaptive.throttled()
    low = adaptive.rate()
    assert low < 1000 * 0.75
    fake.now += 1.0
    assert adaptive.rate() == pytest.approx(low + 100)  # additive: a tenth of the cap per second
    fake.now += 60
    assert adaptive.rate() == 1000


def test_the_rate_never_drops_below_its_floor() -> None:
    fake = FakeTime()
    adaptive = Adaptive(80, clock=fake.clock)
    for _ in range(10_000):
        adaptive.throttled()
    assert adaptive.rate() == adaptive.floor >= 1


def test_sparse_throttling_costs_little_and_a_wave_costs_a_lot() -> None:
    """5 % of 1,000/s refused at random: the rate settles near the cap. Half refused: it falls fast."""

    def settle(share_refused: float) -> float:
        fake = FakeTime()
        adaptive = Adaptive(1000, clock=fake.clock)
        sent = 0.0
        for _ in range(200):  # 20 s in steps of 0.1 s
            rate = adaptive.rate()
            sent += rate * 0.1
            for _ in range(round(rate * 0.1 * share_refused)):
                adaptive.throttled()
            fake.now += 0.1
        return sent / 20

    assert settle(0.05) >= 700
    assert settle(0.5) < 300


def test_the_pacer_reserves_at_the_adapted_rate() -> None:
    fake = FakeTime()
    pacer = LocalPacer("adaptive", 100, clock=fake.clock)
    before = pacer.reserve_now(1).interval
    for _ in range(100):
        asyncio.run(pacer.throttled(None))
    assert pacer.reserve_now(1).interval > before * 1.3


@pytest.mark.parametrize(
    ("header", "seconds"), [("2", 2.0), ("0.5", 0.5), ("-3", 0.0), ("9999", 60.0), ("soon", None), (None, None)]
)
def test_retry_after_is_read_in_seconds_and_bounded(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header) == seconds


def test_sends_that_take_two_schedules_keep_both_windows_whatever_the_order_of_their_waits() -> None:
    """A campaign's own share (5/s) and its number (50/s): each send is logged once both slots are taken."""
    fake = FakeTime()
    number = LocalPacer("number-two", 50, clock=fake.clock)
    share = LocalPacer("share-two", 5, clock=fake.clock)

    async def run() -> list[float]:
        times: list[float] = []
        own = paced(share, itertools.repeat(None), clock=fake.clock, sleep=fake.sleep, logged=False)
        numbers = paced(number, itertools.repeat(None), clock=fake.clock, sleep=fake.sleep, block_rate=5, logged=False)
        for n in range(40):
            await anext(own)
            await anext(numbers)
            # Between the slots and the request, every other send is held up a tenth of a second (a claim, a
            # write): logged at the slot, 0.1, 0.2, 0.5, 0.6, 0.9 and 1.0 would put six sends in one second.
            fake.now += 0.1 if n % 2 == 0 else 0.0
            await window_wait((number, share), clock=fake.clock, sleep=fake.sleep)
            times.append(fake.now)
        return times

    times = asyncio.run(run())
    assert _max_in_any_second(times) <= 5
