"""A per-instance pacer: with N sender instances at most, each sends at rate / N per second,
so together they stay within the SES send rate."""

from __future__ import annotations

import time
from collections.abc import Callable


class RateLimiter:
    def __init__(self, per_second: float, monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self.monotonic = monotonic
        self.sleep = sleep
        self.next_free = 0.0

    def acquire(self) -> None:
        """Wait, if needed, until this instance may send the next email."""
        if not self.interval:
            return
        now = self.monotonic()
        if self.next_free > now:
            self.sleep(self.next_free - now)
            now = self.next_free
        self.next_free = now + self.interval
