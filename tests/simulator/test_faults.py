"""Fault injection: each mode on its own, and seeded repeatability."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.simulator.conftest import Keys, Receiver, send, text_v01
from tests.vonage_fixtures import load


def test_rate_429_answers_nexmos_rate_limit_problem(simulator_factory: Any, keys: Keys) -> None:
    handle = simulator_factory(rate_429=1.0)
    answer = send(handle, keys, text_v01())
    assert answer.status_code == 429
    assert {k: v for k, v in answer.json().items() if k != "instance"} == {
        k: v for k, v in load("error-429.json").items() if k != "instance"
    }
    assert handle.counters()["refused"]["fault_429"] == 1
    assert handle.counters()["accepted"] == 0


def test_rate_5xx_answers_500_or_503(simulator_factory: Any, keys: Keys) -> None:
    handle = simulator_factory(rate_5xx=1.0)
    codes = {send(handle, keys, text_v01()).status_code for _ in range(12)}
    assert codes == {500, 503}
    assert handle.counters()["refused"]["fault_5xx"] == 12


def test_per_number_rate_refuses_the_excess_with_429(simulator_factory: Any, keys: Keys) -> None:
    handle = simulator_factory(per_number_rate=1.0)
    codes = [send(handle, keys, text_v01()).status_code for _ in range(3)]
    assert codes == [202, 429, 429]
    assert handle.counters()["refused"]["rate_limited"] == 2


def test_latency_delays_the_answer(simulator_factory: Any, keys: Keys) -> None:
    handle = simulator_factory(latency_ms=150)
    started = time.monotonic()
    assert send(handle, keys, text_v01()).status_code == 202
    assert time.monotonic() - started >= 0.15


def test_exponential_latency_draws_vary(simulator_factory: Any) -> None:
    handle = simulator_factory(latency_jitter_ms=50, latency_distribution="exponential")
    draws = {handle.simulator.latency() for _ in range(5)}
    assert len(draws) == 5 and all(d >= 0 for d in draws)


def test_timeout_accepts_but_never_answers(simulator_factory: Any, keys: Keys, receiver: Receiver) -> None:
    handle = simulator_factory(rate_timeout=1.0)
    with pytest.raises(httpx.ReadTimeout):
        send(handle, keys, text_v01(client_ref="lost-answer"), timeout=0.5)
    counters = handle.counters()
    assert (counters["accepted"], counters["timeouts"]) == (1, 1)
    # The message exists: its callbacks carry the client_ref that settles the sender's `unknown` state.
    receiver.wait(3)
    assert {p.json["client_ref"] for p in receiver.posts} == {"lost-answer"}


def test_reset_breaks_the_connection_and_accepts_nothing(simulator_factory: Any, keys: Keys) -> None:
    handle = simulator_factory(rate_reset=1.0)
    with pytest.raises(httpx.TransportError):
        send(handle, keys, text_v01())
    assert handle.counters()["refused"]["reset"] == 1
    assert handle.counters()["accepted"] == 0


def test_duplicated_callbacks_arrive_twice(simulator_factory: Any, keys: Keys, receiver: Receiver) -> None:
    handle = simulator_factory(duplicate_callback_rate=1.0)
    send(handle, keys, text_v01())
    receiver.wait(6)
    assert sorted(receiver.statuses()) == sorted(["submitted", "delivered", "read"] * 2)
    assert handle.counters()["callbacks"]["duplicated"] == 3


def test_shuffled_callbacks_arrive_out_of_order(simulator_factory: Any, keys: Keys, receiver: Receiver) -> None:
    handle = simulator_factory(shuffle_callback_rate=1.0)
    send(handle, keys, text_v01())
    receiver.wait(3)
    assert sorted(receiver.statuses()) == ["delivered", "read", "submitted"]
    assert receiver.statuses() != ["submitted", "delivered", "read"]
    assert handle.counters()["callbacks"]["shuffled"] == 1


def test_late_callbacks_come_after_the_late_delay(simulator_factory: Any, keys: Keys, receiver: Receiver) -> None:
    handle = simulator_factory(late_callback_rate=1.0, late_callback_ms=300)
    started = time.monotonic()
    send(handle, keys, text_v01())
    receiver.wait(3)
    assert time.monotonic() - started >= 0.3
    assert handle.counters()["callbacks"]["late"] == 3


def test_early_callback_arrives_before_the_202(simulator_factory: Any, keys: Keys, receiver: Receiver) -> None:
    handle = simulator_factory(early_callback_rate=1.0)
    answer = send(handle, keys, text_v01())
    assert answer.status_code == 202
    # The answer was only written after the receiver had answered the first callback.
    assert receiver.posts[0].json["status"] == "submitted"
    assert receiver.posts[0].json["message_uuid"] == answer.json()["message_uuid"]
    assert handle.counters()["callbacks"]["early"] == 1


def test_fault_rate_spreads_over_the_fault_kinds(simulator_factory: Any, keys: Keys) -> None:
    handle = simulator_factory(fault_rate=1.0, callbacks=False)
    for _ in range(24):
        try:
            send(handle, keys, text_v01(), timeout=0.2)
        except httpx.TransportError:
            pass  # resets and timeouts
    counters = handle.counters()
    assert counters["accepted"] == counters["timeouts"] > 0
    assert min(counters["refused"][kind] for kind in ("reset", "fault_5xx", "fault_429")) > 0


def test_same_seed_repeats_the_same_outcomes(simulator_factory: Any, keys: Keys) -> None:
    def outcomes(seed: int) -> list[int]:
        handle = simulator_factory(seed=seed, rate_429=0.3, rate_5xx=0.3)
        return [send(handle, keys, text_v01()).status_code for _ in range(20)]

    first, again, other = outcomes(11), outcomes(11), outcomes(12)
    assert first == again
    assert first != other
    assert set(first) > {202}


def test_reset_endpoint_reseeds_for_a_repeat_run(simulator_factory: Any, keys: Keys) -> None:
    handle = simulator_factory(seed=3, rate_429=0.5)
    first = [send(handle, keys, text_v01()).status_code for _ in range(10)]
    handle.reset()
    assert [send(handle, keys, text_v01()).status_code for _ in range(10)] == first
