"""A per-instance pacer shared by the instance's sending threads: with N sender instances at
most, each sends at rate / N per second, so together they stay within the SES send rate.

How many threads an instance needs follows from its share of the rate: an email holds a thread
for about ``SECONDS_PER_EMAIL`` (the SES call, ~80 ms, and the ledger's write), so a share of
r emails per second keeps r × SECONDS_PER_EMAIL threads busy; ``pool_size`` adds half again for
slower calls and caps the pool at the batch and at ``MAX_POOL``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

SECONDS_PER_EMAIL = 0.1  # one SES call (~80 ms) and the ledger's write, on a thread
HEADROOM = 1.5  # calls slower than usual still keep the share busy
MAX_POOL = 40  # threads; also the size of each AWS client's connection pool


def pool_size(per_second: float, batch_size: int) -> int:
    """Threads that keep a share of ``per_second`` busy (0: unlimited): ceil(r × 0.1 s × 1.5),
    at least 1, at most the batch and MAX_POOL. 14/s over 2 instances: 2; 500/s: 38."""
    cap = max(1, min(batch_size, MAX_POOL))
    if per_second <= 0:
        return cap
    return max(1, min(cap, math.ceil(per_second * SECONDS_PER_EMAIL * HEADROOM)))


class RateLimiter:
    def __init__(self, per_second: float, monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self.monotonic = monotonic
        self.sleep = sleep
        self.next_free = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Wait, if needed, until this instance may send the next email. Each caller reserves
        the next free moment under the lock and waits for it outside, so threads share the
        pace without waiting on each other's sleep."""
        if not self.interval:
            return
        with self._lock:
            now = self.monotonic()
            slot = max(now, self.next_free)
            self.next_free = slot + self.interval
        if slot > now:
            self.sleep(slot - now)

    def slots_within(self, seconds: float) -> int | None:
        """How many emails may still start within ``seconds`` from now (None: no limit)."""
        if not self.interval:
            return None
        if seconds <= 0:
            return 0
        with self._lock:
            now = self.monotonic()
            first = max(now, self.next_free)
        return max(0, math.floor((now + seconds - first) / self.interval) + 1)
