"""Pacing from quota headers (include/adapters/pacing.py): QuotaPacer."""

from __future__ import annotations

import pytest
import requests

from adapters.pacing import QuotaPacer, QuotaSpent


def answer(**headers: str) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response.headers.update({k.replace("_", "-"): v for k, v in headers.items()})
    return response


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def pacer(clock: Clock) -> QuotaPacer:
    return QuotaPacer(
        second_header="x-remaining-this-second",
        day_header="x-remaining-today",
        what="Etsy store for connection 'acme'",
        clock=clock,
    )


def test_a_spent_second_is_waited_out_whole_and_only_then() -> None:
    clock = Clock()
    p = pacer(clock)
    p.observe(answer(x_remaining_this_second="3", x_remaining_today="900"))
    p.wait(clock.sleep)
    assert clock.slept == []
    p.observe(answer(x_remaining_this_second="0", x_remaining_today="899"))
    clock.now += 0.25  # time spent elsewhere counts
    p.wait(clock.sleep)
    assert clock.slept == [0.75] and p.waits == 1
    p.wait(clock.sleep)  # the pause is used up
    assert clock.slept == [0.75]


def test_a_429_without_headers_is_retried_after_the_window() -> None:
    clock = Clock()
    p = pacer(clock)
    p.observe(answer(x_remaining_this_second="0"))
    assert p.retry_after(answer()) == 1.0
    p.wait(clock.sleep)
    assert clock.slept == []  # the retry policy sleeps it, not the pacer as well


def test_a_spent_day_stops_the_run_naming_the_store() -> None:
    clock = Clock()
    p = pacer(clock)
    p.observe(answer(x_remaining_this_second="5", x_remaining_today="0"))
    with pytest.raises(QuotaSpent, match="'acme'.*daily request quota is spent"):
        p.wait(clock.sleep)
    assert clock.slept == []


def test_headers_it_cannot_read_change_nothing() -> None:
    clock = Clock()
    p = pacer(clock)
    p.observe(answer(x_remaining_this_second="soon", x_remaining_today=""))
    p.wait(clock.sleep)
    assert clock.slept == [] and p.day_left is None
