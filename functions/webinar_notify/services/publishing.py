"""Publishing a series file: store it, keeping calendar SEQUENCE numbers right.

Pushing the same file twice changes nothing. A session whose calendar-visible fields changed
gets SEQUENCE + 1 and a new DTSTAMP; mail about such changes comes with organiser actions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..adapters.clock import Clock
from ..adapters.dynamo import StaleWriteError
from ..adapters.schedule_store import ScheduleStore
from ..adapters.store import Store
from ..core.errors import RetryableError
from ..core.series import Series
from ..core.series_merge import merge_series
from .scheduling import plan_series

PushOutcome = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True, slots=True)
class PushResult:
    outcome: PushOutcome
    revision: int
    changed_sessions: tuple[str, ...] = ()


def push_series(store: Store, schedule: ScheduleStore, incoming: Series,
                clock: Clock) -> PushResult:
    stored = store.get_series(incoming.id)
    merged = merge_series(stored, incoming, clock.now())
    if stored is not None and merged is stored:
        plan_series(schedule, stored, clock.now())  # cheap; repairs a missing index entry
        return PushResult("unchanged", stored.revision)
    try:
        store.put_series(merged, stored.revision if stored else None)
    except StaleWriteError:
        raise RetryableError("the series changed while pushing; push again") from None
    plan_series(schedule, merged, clock.now())
    changed = tuple(s.id for s in merged.sessions
                    if stored is None or stored.session(s.id) != s)
    return PushResult("created" if stored is None else "updated", merged.revision, changed)
