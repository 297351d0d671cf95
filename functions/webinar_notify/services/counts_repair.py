"""Recount a series' registration counters from the registrations themselves.

The counters move with every registration write, in the same transaction, so they stay exact;
a repair is for what no transaction covers: items restored from a backup, a bug, a hand edit.
It pages through the registrations (Query, never a Scan) and replaces the counters only if no
write moved them meanwhile (else it counts again). The mail counters count SES's events and are
not recomputed.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from ..adapters.dynamo import StaleWriteError
from ..adapters.store import Store
from ..core.counts import count_shard, tally
from ..core.errors import RetryableError

PAGE = 500
ATTEMPTS = 3


def repair_counts(store: Store, series_id: str) -> dict[str, tuple[int, int]]:
    """Set the counters to what the registrations say; each changed key -> (was, now), over
    the whole series."""
    for _ in range(ATTEMPTS):
        stored = store.registration_counters(series_id)
        counted = recount(store, series_id)
        try:
            for shard, was in stored.items():
                now = counted.get(shard, {})
                if {k: v for k, v in was.items() if v} != now:
                    store.replace_registration_counters(series_id, shard, was, now)
        except StaleWriteError:
            continue  # registrations changed while we counted: the shards fixed stay right
        return _changes(_totals(stored), _totals(counted))
    raise RetryableError("registrations kept changing while they were counted: try again")


def recount(store: Store, series_id: str) -> dict[int, dict[str, int]]:
    """The counters as the stored registrations make them, per shard."""
    shards: dict[int, Counter[str]] = {}
    cursor: dict[str, Any] | None = None
    while True:
        page, cursor = store.registrations_page(series_id, cursor, PAGE)
        for registration in page:
            shards.setdefault(count_shard(registration.registrant_id), Counter()).update(
                tally(registration))
        if cursor is None:
            return {shard: dict(counts) for shard, counts in shards.items()}


def _totals(shards: dict[int, dict[str, int]]) -> dict[str, int]:
    totals: Counter[str] = Counter()
    for counts in shards.values():
        totals.update(counts)
    return dict(totals)


def _changes(was: dict[str, int], now: dict[str, int]) -> dict[str, tuple[int, int]]:
    return {name: (was.get(name, 0), now.get(name, 0)) for name in sorted(set(was) | set(now))
            if was.get(name, 0) != now.get(name, 0)}
