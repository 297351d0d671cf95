"""Publishing a series: the one write path for series content, whether a whole file comes in
(API, CLI, the local runner) or one session changes.

Publishing the same content twice changes nothing. A session whose calendar-visible fields
changed gets SEQUENCE + 1 and a new DTSTAMP; unless quiet, the notices those changes owe their
registrants are stored with the series in one transaction and sent at once.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..adapters.clock import Clock
from ..adapters.dynamo import StaleWriteError
from ..adapters.schedule_store import ScheduleStore
from ..adapters.store import Store
from ..core.errors import NotFoundError, PayloadError
from ..core.series import Series
from ..core.series_document import parse_series
from ..core.series_merge import merge_series
from ..core.session_change import SessionChange, read_session_change
from ..core.tasks import session_notices, task_doc
from .announcing import SEND_NOW_BUDGET
from .answers import ConflictError, Published
from .scheduling import Scheduler, plan_series


class Publishing:
    """The publishing actions of an organiser (mixed into Organiser)."""

    store: Store
    schedule: ScheduleStore
    scheduler: Scheduler
    clock: Clock

    def push(self, series_id: str, doc: object, quiet: bool) -> Published:
        """A series document (the file, as JSON) for the series named in the path."""
        incoming = parse_series(doc)
        if incoming.id != series_id:
            raise PayloadError(f"the file is series {incoming.id!r}, not {series_id!r}")
        return self.publish(incoming, quiet)

    def change_session(self, series_id: str, session_id: str, fields: Mapping[str, object],
                       quiet: bool) -> Published:
        """One session's fields changed, checked as a typed SessionChange."""
        stored = self._stored(series_id)
        change = read_session_change(stored, session_id, fields)
        return self._publish(stored, change.apply(stored), quiet)

    def cancel_session(self, series_id: str, session_id: str, quiet: bool) -> Published:
        stored = self._stored(series_id)
        return self._publish(stored, SessionChange.cancellation(session_id).apply(stored), quiet)

    def publish(self, incoming: Series, quiet: bool) -> Published:
        """Create the series, or update it to this content."""
        return self._publish(self.store.get_series(incoming.id), incoming, quiet)

    def _stored(self, series_id: str) -> Series:
        stored = self.store.get_series(series_id)
        if stored is None:
            raise NotFoundError(f"unknown series {series_id[:80]!r}")
        return stored

    def _publish(self, stored: Series | None, incoming: Series, quiet: bool) -> Published:
        now = self.clock.now()
        merged = merge_series(stored, incoming, now)
        if stored is not None and merged is stored:
            plan_series(self.schedule, stored, now)  # cheap; repairs a missing index entry
            return Published("unchanged", stored.revision, quiet=quiet)
        notices = session_notices(stored, merged, now) if stored and not quiet else []
        try:  # the series and the notices it owes its registrants, in one transaction
            self.store.put_series(merged, stored.revision if stored else None,
                                  tasks={n.key: task_doc(n) for n in notices})
        except StaleWriteError:
            raise ConflictError("the series changed meanwhile; fetch it and try again") from None
        # The index first: if this function dies while sending, the scheduler carries on.
        plan_series(self.schedule, merged, now)
        sent = self.scheduler.run(deadline=now + SEND_NOW_BUDGET, only=merged.id) \
            if notices else None
        changed = tuple(s.id for s in merged.sessions
                        if stored is None or stored.session(s.id) != s)
        return Published("created" if stored is None else "updated", merged.revision,
                         changed, tuple(n.key for n in notices),
                         sent.enqueued if sent else 0, quiet)
