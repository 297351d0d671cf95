"""The per-instance pacer keeps a sender under its share of the SES rate."""

from __future__ import annotations

from webinar_notify.adapters.rate_limit import RateLimiter


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def test_a_burst_is_spread_at_the_rate() -> None:
    time = FakeTime()
    limiter = RateLimiter(4.0, time.monotonic, time.sleep)  # 14/s shared by ~3.5 instances
    for _ in range(5):
        limiter.acquire()
    assert time.slept == [0.25, 0.25, 0.25, 0.25]
    assert time.now == 101.0


def test_no_wait_when_sends_are_already_slower_than_the_rate() -> None:
    time = FakeTime()
    limiter = RateLimiter(2.0, time.monotonic, time.sleep)
    for _ in range(3):
        limiter.acquire()
        time.now += 1.0  # rendering and SES take longer than 0.5 s here
    assert time.slept == []


def test_a_rate_of_zero_means_unlimited() -> None:
    time = FakeTime()
    limiter = RateLimiter(0.0, time.monotonic, time.sleep)
    for _ in range(100):
        limiter.acquire()
    assert time.slept == []
