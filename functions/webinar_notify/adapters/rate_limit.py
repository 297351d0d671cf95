"""A per-instance pacer shared by the instance's sending threads: with N sender instances at
most, each sends at rate / N per second, so together they stay within the SES send rate.

How many threads an instance needs follows from its share of the rate: an email holds a thread
for about ``SECONDS_PER_EMAIL`` (the SES call, ~80 ms, and the ledger's write), so a share of
r emails per second keeps r × SECONDS_PER_EMAIL threads busy; ``pool_size`` adds half again for
slower calls and caps the pool at the batch, at ``MAX_POOL`` and at one thread per
``MB_PER_THREAD`` of the function's memory: a 256 MB sender runs at most 8 threads, which peak
at about 190 MB with certificates among the emails (benchmarks/sender_memory.py), and a
certificate claimed last waits for at most 8 drawings (one at a time, adapters/
certificate_pdf.py), well within the sender's last 20 s.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

SECONDS_PER_EMAIL = 0.1  # one SES call (~80 ms) and the ledger's write, on a thread
HEADROOM = 1.5  # calls slower than usual still keep the share busy
MAX_POOL = 40  # threads; also the size of each AWS client's connection pool
MB_PER_THREAD = 32  # of the function's memory (docstring above)


def pool_size(per_second: float, batch_size: int, memory_mb: int = 0) -> int:
    """Threads that keep a share of ``per_second`` busy (0: unlimited): ceil(r × 0.1 s × 1.5),
    at least 1, at most the batch, MAX_POOL and, given the function's ``memory_mb``, one per
    MB_PER_THREAD. 14/s over 2 instances: 2; 500/s over 10 (50/s each): 8; 500/s over 2 at
    512 MB: 16."""
    by_memory = memory_mb // MB_PER_THREAD if memory_mb > 0 else MAX_POOL
    cap = max(1, min(batch_size, MAX_POOL, by_memory))
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
