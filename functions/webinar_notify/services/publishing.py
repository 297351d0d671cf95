"""Publishing a series file: store it, keeping calendar SEQUENCE numbers right.

Pushing the same file twice changes nothing. A session whose calendar-visible fields changed
gets SEQUENCE + 1 and a new DTSTAMP; mail about such changes comes with organiser actions.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from ..adapters.clock import Clock
from ..adapters.dynamo import StaleWriteError
from ..adapters.store import Store
from ..core.series import Series

PushOutcome = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True, slots=True)
class PushResult:
    outcome: PushOutcome
    revision: int
    changed_sessions: tuple[str, ...] = ()


def merge_series(stored: Series | None, incoming: Series, now: datetime) -> Series:
    """The series to store: incoming content, stored sequences, bumped where a calendar sees it."""
    previous = {s.id: s for s in stored.sessions} if stored else {}
    sessions = []
    for session in incoming.sessions:
        old = previous.get(session.id)
        if old is None:
            sessions.append(replace(session, sequence=0, updated_at=now))
        elif old.calendar_fingerprint() != session.calendar_fingerprint():
            sessions.append(replace(session, sequence=old.sequence + 1, updated_at=now))
        else:
            sessions.append(replace(session, sequence=old.sequence, updated_at=old.updated_at))
    uid_domain = incoming.uid_domain or (stored.uid_domain if stored else "") \
        or incoming.sender.email.split("@")[1]  # pinned: calendars match updates by UID
    merged = replace(incoming, sessions=tuple(sessions), uid_domain=uid_domain,
                     revision=stored.revision if stored else 0)
    if stored is not None and merged == stored:
        return stored
    return replace(merged, revision=(stored.revision + 1) if stored else 1)


def push_series(store: Store, incoming: Series, clock: Clock) -> PushResult:
    stored = store.get_series(incoming.id)
    merged = merge_series(stored, incoming, clock.now())
    if stored is not None and merged is stored:
        return PushResult("unchanged", stored.revision)
    try:
        store.put_series(merged, stored.revision if stored else None)
    except StaleWriteError:
        raise StaleWriteError("the series changed while pushing; push again") from None
    changed = tuple(s.id for s in merged.sessions
                    if stored is None or stored.session(s.id) != s)
    return PushResult("created" if stored is None else "updated", merged.revision, changed)
