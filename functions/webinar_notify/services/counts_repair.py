"""Recount a series' counters from the items they count: the registration counters from the
registrations, the mail counters from the delivery ledger.

The registration counters move with every registration write, in the same transaction, so they
stay exact; the mail counters move with each email sent and each SES event recorded. A repair
is for what neither covers: items restored from a backup, a bug, a hand edit, a counter write
that failed after its email was sent. It pages through the registrations (Query) and the
series' emails (a Scan of the ledger's items: each email sits under its registrant, and erased
people's emails still count) and replaces a counter item only if no write moved it meanwhile
(else it counts again). Organisers' test copies are counted nowhere.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from ..adapters.dynamo import StaleWriteError
from ..adapters.store import Store
from ..core.counts import count_shard, tally
from ..core.errors import RetryableError
from ..core.jobs import ORGANISER_COPY

PAGE = 500
ATTEMPTS = 3
MAIL_PREFIX = "mail "  # how a mail counter is named among the changes: "mail reminder|s1|sent"

Shards = dict[int, dict[str, int]]


def repair_counts(store: Store, series_id: str) -> dict[str, tuple[int, int]]:
    """Set the counters to what the registrations and the ledger say; each changed key ->
    (was, now), over the whole series (mail counters prefixed ``mail``)."""
    changes = _repair(lambda: store.registration_counters(series_id),
                      lambda: recount(store, series_id),
                      lambda shard, was, now: store.replace_registration_counters(
                          series_id, shard, was, now), "registrations")
    mail = _repair(lambda: store.mail_counters(series_id),
                   lambda: recount_mail(store, series_id),
                   lambda shard, was, now: store.replace_mail_counters(
                       series_id, shard, was, now), "emails")
    return changes | {MAIL_PREFIX + name: change for name, change in mail.items()}


def _repair(stored_now: Callable[[], Shards], counted_now: Callable[[], Shards],
            replace: Callable[[int, dict[str, int], dict[str, int]], None],
            what: str) -> dict[str, tuple[int, int]]:
    for _ in range(ATTEMPTS):
        stored = stored_now()
        counted = counted_now()
        try:
            for shard, was in stored.items():
                now = counted.get(shard, {})
                if {k: v for k, v in was.items() if v} != now:
                    replace(shard, was, now)
        except StaleWriteError:
            continue  # they changed while we counted: the shards fixed stay right
        return _changes(_totals(stored), _totals(counted))
    raise RetryableError(f"{what} kept changing while they were counted: try again")


def recount(store: Store, series_id: str) -> Shards:
    """The registration counters as the stored registrations make them, per shard."""
    shards: dict[int, Counter[str]] = {}
    cursor: dict[str, Any] | None = None
    while True:
        page, cursor = store.registrations_page(series_id, cursor, PAGE)
        for registration in page:
            shards.setdefault(count_shard(registration.registrant_id), Counter()).update(
                tally(registration))
        if cursor is None:
            return {shard: dict(counts) for shard, counts in shards.items()}


def recount_mail(store: Store, series_id: str) -> Shards:
    """The mail counters as the ledger's sent emails make them, per shard: each email
    counts as sent and once for each state SES reported of it."""
    shards: dict[int, Counter[str]] = {}
    cursor: dict[str, Any] | None = None
    while True:
        page, cursor = store.sent_mail_page(series_id, cursor, PAGE)
        for mail in page:
            if mail.registrant_id != ORGANISER_COPY:
                for shard, names in mail.shards().items():
                    shards.setdefault(shard, Counter()).update(names)
        if cursor is None:
            return {shard: dict(counts) for shard, counts in shards.items()}


def _totals(shards: Shards) -> dict[str, int]:
    totals: Counter[str] = Counter()
    for counts in shards.values():
        totals.update(counts)
    return dict(totals)


def _changes(was: dict[str, int], now: dict[str, int]) -> dict[str, tuple[int, int]]:
    return {name: (was.get(name, 0), now.get(name, 0)) for name in sorted(set(was) | set(now))
            if was.get(name, 0) != now.get(name, 0)}
